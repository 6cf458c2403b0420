package server_test

// End-to-end reproductions of attacks on a shared cache: each test fails on
// a proxy without the defence it names.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/procstat"
	"github.com/mcpage/mcpage/server"
)

// vmRSS reads this process's resident set size from /proc/self/status.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	n, err := procstat.RSS(0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// drip writes raw one byte per interval until the write fails (the proxy
// closed the connection) or everything is sent; it reports how many bytes
// went out.
func drip(c *client, raw string, every time.Duration) <-chan int {
	sent := make(chan int, 1)
	go func() {
		n := 0
		for ; n < len(raw); n++ {
			if _, err := c.nc.Write([]byte{raw[n]}); err != nil {
				break
			}
			time.Sleep(every)
		}
		sent <- n
	}()
	return sent
}

// A request head is due ReadTimeout after the connection went idle: a client
// that keeps sending one byte at a time does not extend it (slowloris).
func TestAttackSlowHeadDeadline(t *testing.T) {
	o := newOrigin(t)
	o.handle("/t", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "t") })
	p := startProxy(t, o.addr(), func(c *server.Config) { c.ReadTimeout = 300 * time.Millisecond })
	c := dial(t, p.addr)
	head := "GET /t HTTP/1.1\r\nHost: example.test\r\nX-Pad: " + strings.Repeat("a", 400) + "\r\n\r\n"
	sent := drip(c, head, 20*time.Millisecond) // 8 s for the whole head
	c.expectClosed(5 * time.Second)
	if n := <-sent; n >= len(head) {
		t.Fatalf("the whole %d-byte head went out before the proxy closed", n)
	}
}

// A request body that stalls (less than a small step of progress) for
// ReadTimeout closes the connection, however long the body drips.
func TestAttackSlowBodyDeadline(t *testing.T) {
	o := newOrigin(t)
	o.handle("/post", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	p := startProxy(t, o.addr(), func(c *server.Config) { c.ReadTimeout = 300 * time.Millisecond })
	c := dial(t, p.addr)
	c.send("POST /post HTTP/1.1\r\nHost: example.test\r\nContent-Length: 400\r\n\r\n")
	sent := drip(c, strings.Repeat("b", 400), 20*time.Millisecond)
	c.expectClosed(5 * time.Second)
	if n := <-sent; n >= 400 {
		t.Fatal("the whole body dripped in without a timeout")
	}
	if o.hits("/post") != 0 {
		t.Fatal("a timed-out body was forwarded")
	}
}

// A GET whose body holds another request is refused: an origin that ignores
// GET bodies would read the body as the next request on a reused upstream
// connection and its answer could be stored under a victim's key.
func TestAttackGetWithBodyRefused(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.Path) })
	p := startProxy(t, o.addr(), nil)
	for _, method := range []string{"GET", "HEAD"} {
		for _, framing := range []string{"cl", "chunked"} {
			smuggled := "GET /smuggled HTTP/1.1\r\nHost: example.test\r\n\r\n"
			var raw string
			if framing == "cl" {
				raw = method + " /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: " + itoa(len(smuggled)) + "\r\n\r\n" + smuggled
			} else {
				raw = method + " /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
					strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"
			}
			c := dial(t, p.addr)
			c.send(raw)
			if r := c.read(method); r.StatusCode != 400 {
				t.Fatalf("%s with %s body: status %d", method, framing, r.StatusCode)
			}
			c.expectClosed(3 * time.Second)
		}
	}
	// A GET with an empty Content-Length body is an ordinary request.
	c := dial(t, p.addr)
	if r := c.get("/ok", "Content-Length: 0"); r.StatusCode != 200 {
		t.Fatalf("GET with Content-Length: 0: %d", r.StatusCode)
	}
	if o.hits("/smuggled") != 0 || o.hits("/a") != 0 {
		t.Fatalf("origin saw /a %d, /smuggled %d", o.hits("/a"), o.hits("/smuggled"))
	}
}

// Any Authorization field line makes a request private, even when a second,
// empty one follows a real one: alice's page must not be stored for everyone
// (RFC 9111 §3.5: only public, must-revalidate or s-maxage would allow it).
func TestAttackAuthorizationAnyLineBypasses(t *testing.T) {
	o := newOrigin(t)
	o.handle("/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600") // an origin that forgets it is private
		fmt.Fprintf(w, "page of %q", r.Header.Values("Authorization"))
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	for _, auth := range [][]string{
		{"Authorization: Basic YWxpY2U6cHc=", "Authorization:"},
		{"Authorization:", "Authorization: Basic YWxpY2U6cHc="},
		{"Authorization:"},
	} {
		if r := c.get("/me", auth...); r.xcache() != "BYPASS" {
			t.Fatalf("%q: X-Cache %q", auth, r.xcache())
		}
	}
	anon := c.get("/me")
	if strings.Contains(string(anon.body), "Basic") || anon.xcache() != "MISS" {
		t.Fatalf("anonymous visitor got %q (%s)", anon.body, anon.xcache())
	}
}

// Method-override and URL-rewrite headers change what many frameworks render
// while the key cannot see them: such requests pass, never stored or served
// from the cache.
func TestAttackOverrideHeadersPass(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			fmt.Fprint(w, "ran "+m)
			return
		}
		if u := r.Header.Get("X-Original-URL"); u != "" {
			fmt.Fprint(w, "rendered "+u)
			return
		}
		fmt.Fprint(w, "home")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	for _, h := range []string{
		"X-HTTP-Method-Override: DELETE", "x-http-method: DELETE", "X-Method-Override: PUT",
		"X-Original-URL: /admin", "X-Rewrite-URL: /admin",
	} {
		if r := c.get("/", h); r.xcache() != "PASS" {
			t.Fatalf("%s: X-Cache %q", h, r.xcache())
		}
	}
	if r := c.get("/"); string(r.body) != "home" {
		t.Fatalf("plain visitor got %q", r.body)
	}
	// Once the page is cached, an override must not be answered from it either.
	if r := c.get("/", "X-HTTP-Method-Override: DELETE"); string(r.body) != "ran DELETE" || r.xcache() != "PASS" {
		t.Fatalf("override after caching: %q %s", r.body, r.xcache())
	}
}

// 300 pipelined GETs for a cached 3 MB page from a client that reads nothing
// must not make the proxy buffer the responses: it stops producing them while
// the connection's unsent output is above MaxOutbound. When the client reads,
// every response arrives whole and in order.
func TestAttackOutboundBounded(t *testing.T) {
	const size = 3 << 20
	page := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	page[0] = 'X' // not all alike, and incompressible enough not to matter: sent identity
	o := newOrigin(t)
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(page)
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Loops = 1 })
	warm := dial(t, p.addr)
	if r := warm.get("/big"); len(r.body) != size {
		t.Fatalf("warm-up: %d bytes", len(r.body))
	}
	const n = 300
	var reqs strings.Builder
	for i := 0; i < n; i++ {
		reqs.WriteString(request("GET", "/big"))
	}
	c := dial(t, p.addr)
	before := vmRSS(t)
	c.send(reqs.String())
	// Watch memory for a while: without the bound the proxy renders all 64
	// pipelined responses (and keeps reading) at once.
	var peak int64
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		peak = max(peak, vmRSS(t)-before)
	}
	t.Logf("RSS growth with %d unread 3 MB responses: %d KiB", n, peak>>10)
	if peak > memSlack*96<<20 {
		t.Fatalf("RSS grew by %d MiB for one never-reading connection", peak>>20)
	}
	for i := 0; i < n; i++ {
		r := c.read("GET")
		if r.StatusCode != 200 || len(r.body) != size || r.body[0] != 'X' || !bytes.Equal(r.body, page) {
			t.Fatalf("response %d: status %d, %d bytes", i, r.StatusCode, len(r.body))
		}
	}
}

// A client that keeps sending while the proxy has stopped parsing its
// requests (output blocked) is closed once its unparsed input passes
// MaxInbound, instead of being buffered without end.
func TestAttackInboundBounded(t *testing.T) {
	const size = 3 << 20
	o := newOrigin(t)
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte{0xAB}, size))
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Loops = 1 })
	warm := dial(t, p.addr)
	warm.get("/big")
	c := dial(t, p.addr)
	before := vmRSS(t)
	// Requests for the big page, never reading, then 80 MB more requests.
	chunk := []byte(strings.Repeat(request("GET", "/big"), 1000))
	sent := 0
	_ = c.nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
	var werr error
	for sent < 80<<20 && werr == nil {
		var m int
		m, werr = c.nc.Write(chunk)
		sent += m
	}
	growth := vmRSS(t) - before
	t.Logf("sent %d KiB before the proxy closed (%v); RSS growth %d KiB", sent>>10, werr, growth>>10)
	if ne, ok := werr.(net.Error); werr == nil || ok && ne.Timeout() {
		t.Fatalf("the proxy neither closed the connection nor stopped it: %v after %d KiB", werr, sent>>10)
	}
	if growth > memSlack*96<<20 {
		t.Fatalf("RSS grew by %d MiB", growth>>20)
	}
}
