package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// proxyHitFixture is a connection over memory from 192.0.2.7, a peer that
// must send PROXY protocol headers, to a server with the access log on whose
// embedded store holds /page.
func proxyHitFixture(t testing.TB, w io.Writer) (*conn, *memConn) {
	t.Helper()
	c := logHitFixtureWith(t, w, func(cfg *Config) {
		cfg.ProxyProtocol = true
		cfg.ProxyAllow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		cfg.PurgeAllow = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	return c, c.gc.(*memConn)
}

// TestProxyHeaderAccessLogAndPurge: the address a PROXY header gives is the
// one the access log writes and the purge check reads, and the request in
// the same read as the header is answered.
func TestProxyHeaderAccessLogAndPurge(t *testing.T) {
	w := &syncBuffer{}
	c, mc := proxyHitFixture(t, w)
	if c.proxy != proxyMust || c.remote != netip.MustParseAddrPort("192.0.2.7:5555") {
		t.Fatalf("new connection: proxy %d remote %v", c.proxy, c.remote)
	}
	mc.in = []byte("PROXY TCP6 ::ffff:198.51.100.9 2001:db8::1 40000 443\r\n" +
		"GET /page HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if act := c.onTraffic(); act != gnet.None || !bytes.Contains(mc.out, []byte("X-Cache: HIT")) {
		t.Fatalf("action %v, answer:\n%.200s", act, mc.out)
	}
	if c.proxy != proxyRead || c.remote != netip.MustParseAddrPort("198.51.100.9:40000") {
		t.Fatalf("after the header: proxy %d remote %v", c.proxy, c.remote)
	}
	if !c.purgeAllowed() {
		t.Error("198.51.100.9 may not purge")
	}
	if ip := string(c.clientIP()); ip != "198.51.100.9" {
		t.Errorf("X-Forwarded-For value %q", ip)
	}
	(*logFlusher)(c.l.alog).Run(context.Background())
	c.l.s.closeAccessLog()
	if line := w.String(); !strings.HasPrefix(line, "198.51.100.9 - - [") {
		t.Errorf("access log line %q", line)
	}
}

// TestProxyHeaderHitAllocs: reading a header and answering the hit after
// it allocates nothing, as a hit alone does.
func TestProxyHeaderHitAllocs(t *testing.T) {
	c, mc := proxyHitFixture(t, io.Discard)
	in := []byte("PROXY TCP4 203.0.113.50 192.0.2.1 51000 80\r\n" + browserGET)
	v2 := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x33\xc0\x00\x02\x01\xc7\x38\x00\x50")
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"v1", in}, {"v2", append(v2, browserGET...)}} {
		run := func() {
			c.proxy, c.remote = proxyMust, netip.AddrPort{}
			mc.in = tc.in
			mc.out = mc.out[:0]
			c.onTraffic()
		}
		run()
		if want := netip.MustParseAddrPort("203.0.113.51:51000"); tc.name == "v2" && c.remote != want ||
			tc.name == "v1" && c.remote != netip.MustParseAddrPort("203.0.113.50:51000") {
			t.Fatalf("%s: remote %v", tc.name, c.remote)
		}
		if !bytes.Contains(mc.out, []byte("X-Cache: HIT")) || mc.closed {
			t.Fatalf("%s: closed %v, answer:\n%.200s", tc.name, mc.closed, mc.out)
		}
		if a := testing.AllocsPerRun(200, run); a != 0 && !raceEnabled {
			t.Errorf("%s: header and hit allocate %.1f times", tc.name, a)
		}
	}
}

// TestProxyHeaderClosesConnections: from a peer that must send a header,
// anything else closes the connection without an answer; from one that
// must not, a header does, and a request is answered as usual.
func TestProxyHeaderClosesConnections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		peer   net.IP
		in     string
		closed bool
	}{
		{"allowed, plain request", net.IPv4(192, 0, 2, 7), "GET /page HTTP/1.1\r\nHost: example.test\r\n\r\n", true},
		{"allowed, malformed v1", net.IPv4(192, 0, 2, 7), "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nGET /page HTTP/1.1\r\n\r\n", true},
		{"allowed, bad v2", net.IPv4(192, 0, 2, 7), "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x00", true},
		{"allowed, partial", net.IPv4(192, 0, 2, 7), "PROXY TCP4 1.2.3.4 ", false},
		{"other, v1 header", net.IPv4(203, 0, 113, 1), "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET /page HTTP/1.1\r\nHost: example.test\r\n\r\n", true},
		{"other, malformed v1", net.IPv4(203, 0, 113, 1), "PROXY GET /\r\n", true},
		{"other, v2 signature", net.IPv4(203, 0, 113, 1), "\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00", true},
		{"other, plain request", net.IPv4(203, 0, 113, 1), "GET /page HTTP/1.1\r\nHost: example.test\r\n\r\n", false},
	} {
		c, mc := proxyHitFixture(t, io.Discard)
		mc.remote = &net.TCPAddr{IP: tc.peer, Port: 1}
		c.initRemote()
		mc.in = []byte(tc.in)
		act := c.onTraffic()
		if closed := act == gnet.Close; closed != tc.closed || closed && len(mc.out) > 0 {
			t.Errorf("%s: action %v, answer %q", tc.name, act, mc.out)
		}
		if rejected := c.l.s.stats.ProxyRejected.Load(); rejected != map[bool]int64{true: 1}[tc.closed] {
			t.Errorf("%s: %d rejected", tc.name, rejected)
		}
		if tc.name == "other, plain request" && (!bytes.Contains(mc.out, []byte("X-Cache: HIT")) || c.remote.Addr() != netip.MustParseAddr("203.0.113.1")) {
			t.Errorf("%s: remote %v, answer %.100q", tc.name, c.remote, mc.out)
		}
	}
}
