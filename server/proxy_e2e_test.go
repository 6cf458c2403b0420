package server_test

import (
	"encoding/binary"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// ppV2 is a v2 PROXY header for a TCP connection from src to dst (both
// IPv4 or both IPv6), with tlvs after the addresses.
func ppV2(src, dst string, tlvs ...string) string {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	fam := byte(0x11)
	if s.Addr().Is6() {
		fam = 0x21
	}
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21")
	b = append(b, fam, 0, 0)
	b = append(b, s.Addr().AsSlice()...)
	b = append(b, d.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, s.Port())
	b = binary.BigEndian.AppendUint16(b, d.Port())
	for _, t := range tlvs {
		b = append(b, t...)
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-16))
	return string(b)
}

// ppLocal is a v2 LOCAL header (a health check of the proxy in front).
const ppLocal = "\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"

// xffOrigin answers /xff/... with the X-Forwarded-For it received, never
// cached.
func xffOrigin(t *testing.T) *origin {
	o := newOrigin(t)
	o.handle("/xff/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, r.Header.Get("X-Forwarded-For"))
	})
	return o
}

// readAll reads what the proxy sends until it closes the connection.
func (c *client) readAll(d time.Duration) []byte {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("connection not closed within %v: %v (read %q)", d, err, b)
	}
	return b
}

func isReset(err error) bool {
	ne, ok := err.(interface{ Timeout() bool })
	return !ok || !ne.Timeout()
}

// TestProxyProtocolForwardedFor: behind a proxy on loopback, the address of
// its v1 or v2 header is what the origin reads in X-Forwarded-For, for every
// request of the connection; headers without an address leave the peer's.
func TestProxyProtocolForwardedFor(t *testing.T) {
	o := xffOrigin(t)
	p := startProxy(t, o.addr(), func(c *server.Config) { c.ProxyProtocol = true }) // loopback may send them
	tlvs := []string{"\x01\x00\x02h2", "\x02\x00\x0fwww.example.com", "\x04\x00\x03\x00\x00\x00"}
	for i, tc := range []struct{ name, header, want string }{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 192.0.2.1 51000 8080\r\n", "203.0.113.7"},
		{"v1 tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n", "2001:db8::7"},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "127.0.0.1"},
		{"v2 tcp4 tlvs", ppV2("198.51.100.20:4000", "192.0.2.1:80", tlvs...), "198.51.100.20"},
		{"v2 tcp6", ppV2("[2001:db8::20]:4000", "[2001:db8::1]:80", tlvs[0]), "2001:db8::20"},
		{"v2 tcp6 mapped", ppV2("[::ffff:192.0.2.99]:4000", "[::1]:80"), "192.0.2.99"},
		{"v2 local", ppLocal, "127.0.0.1"},
	} {
		c := dial(t, p.addr)
		path := "/xff/" + itoa(i)
		c.send(tc.header + request("GET", path)) // in one write, as proxies send them
		if r := c.read("GET"); r.StatusCode != 200 || string(r.body) != tc.want {
			t.Fatalf("%s: %d %q, want %q", tc.name, r.StatusCode, r.body, tc.want)
		}
		if r := c.get(path + "/again"); string(r.body) != tc.want {
			t.Fatalf("%s: second request: %q", tc.name, r.body)
		}
		// Header and request in separate writes.
		c = dial(t, p.addr)
		c.send(tc.header)
		c.send(request("GET", path, "X-Forwarded-For: 10.1.1.1"))
		if r := c.read("GET"); string(r.body) != "10.1.1.1, "+tc.want {
			t.Fatalf("%s: separate writes: %q", tc.name, r.body)
		}
	}
	if n := p.Stats().ProxyRejected.Load(); n != 0 {
		t.Errorf("%d connections rejected", n)
	}
}

// TestProxyProtocolPurge: the purge check reads the address of the header,
// not the proxy's.
func TestProxyProtocolPurge(t *testing.T) {
	o := xffOrigin(t)
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.ProxyProtocol = true
		c.PurgeAllow = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}
	})
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"v1 allowed", "PROXY TCP4 198.51.100.9 192.0.2.1 1 80\r\n", 404},
		{"v1 allowed v6", "PROXY TCP6 2001:db8:1::9 2001:db8::1 1 80\r\n", 404},
		{"v1 other", "PROXY TCP4 203.0.113.9 192.0.2.1 1 80\r\n", 403},
		{"v2 allowed", ppV2("198.51.100.10:1", "192.0.2.1:80"), 404},
		{"v2 mapped allowed", ppV2("[::ffff:198.51.100.11]:1", "[::1]:80"), 404},
		{"v2 other", ppV2("[2001:db8:2::1]:1", "[::1]:80"), 403},
		{"v2 local: the proxy's own address", ppLocal, 403},
	} {
		c := dial(t, p.addr)
		c.send(tc.header + request("PURGE", "/absent"))
		if r := c.read("PURGE"); r.StatusCode != tc.want {
			t.Errorf("%s: PURGE answered %d, want %d", tc.name, r.StatusCode, tc.want)
		}
	}
}

// TestProxyProtocolRejects: a peer that must send a header is closed, with
// no answer, for a malformed one, for none, and for not finishing it within
// the read timeout; a peer that must not is closed for sending one, and
// served with its own address otherwise.
func TestProxyProtocolRejects(t *testing.T) {
	o := xffOrigin(t)
	must := startProxy(t, o.addr(), func(c *server.Config) {
		c.ProxyProtocol = true
		c.ReadTimeout = 300 * time.Millisecond
	})
	mustNot := startProxy(t, o.addr(), func(c *server.Config) {
		c.ProxyProtocol = true
		c.ProxyAllow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // not the test's loopback
	})
	closes := []struct {
		name, addr, send string
	}{
		{"no header", must.addr, request("GET", "/xff/1")},
		{"malformed v1", must.addr, "PROXY TCP4 203.0.113.7 192.0.2.1 51000 080\r\n" + request("GET", "/xff/1")},
		{"v1 line too long", must.addr, "PROXY UNKNOWN " + string(make([]byte, 100))},
		{"udp v2", must.addr, "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + string(make([]byte, 12)) + request("GET", "/xff/1")},
		{"v2 over its bound", must.addr, "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x04\x00"},
		{"partial header, read timeout", must.addr, "PROXY TCP4 203.0.113.7 "},
		{"nothing, read timeout", must.addr, ""},
		{"header from a peer not allowed", mustNot.addr, "PROXY TCP4 203.0.113.7 192.0.2.1 51000 8080\r\n" + request("GET", "/xff/1")},
		{"v2 local from a peer not allowed", mustNot.addr, ppLocal + request("GET", "/xff/1")},
	}
	for _, tc := range closes {
		c := dial(t, tc.addr)
		if tc.send != "" {
			c.send(tc.send)
		}
		if b := c.readAll(10 * time.Second); len(b) > 0 {
			t.Errorf("%s: answered %q", tc.name, b)
		}
	}
	if n := must.Stats().ProxyRejected.Load(); n != 5 { // the two timeouts are not rejections
		t.Errorf("must: %d rejected, want 5", n)
	}
	if n := mustNot.Stats().ProxyRejected.Load(); n != 2 {
		t.Errorf("must not: %d rejected, want 2", n)
	}
	if o.hits("/xff/1") != 0 {
		t.Errorf("a rejected connection's request reached the origin")
	}
	c := dial(t, mustNot.addr)
	if r := c.get("/xff/2"); string(r.body) != "127.0.0.1" {
		t.Errorf("plain request from a peer not allowed: %d %q", r.StatusCode, r.body)
	}
}

// TestProxyProtocolOff: without the option a header is a malformed request.
func TestProxyProtocolOff(t *testing.T) {
	o := xffOrigin(t)
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.send("PROXY TCP4 203.0.113.7 192.0.2.1 51000 8080\r\n" + request("GET", "/xff/1"))
	if r := c.read("GET"); r.StatusCode != 400 {
		t.Errorf("header without -proxy-protocol: %d", r.StatusCode)
	}
}
