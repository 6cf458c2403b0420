package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

func TestPipelinedInOrder(t *testing.T) {
	o := newOrigin(t)
	o.handle("/p/", func(w http.ResponseWriter, r *http.Request) {
		// Misses finish out of order: earlier paths are slower.
		if strings.HasPrefix(r.URL.Path, "/p/slow") {
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(w, "body of %s", r.URL.Path)
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	// Warm half of them so the pipeline mixes hits and misses.
	for i := 0; i < 20; i += 2 {
		c.get(fmt.Sprintf("/p/fast%d", i))
	}
	var batch strings.Builder
	var paths []string
	for i := 0; i < 20; i++ {
		path := fmt.Sprintf("/p/fast%d", i)
		if i%2 == 1 {
			path = fmt.Sprintf("/p/slow%d", i)
		}
		paths = append(paths, path)
		batch.WriteString(request("GET", path))
	}
	c.send(batch.String()) // one write
	for i, path := range paths {
		r := c.read("GET")
		want := "body of " + path
		if string(r.body) != want {
			t.Fatalf("response %d: %q, want %q", i, r.body, want)
		}
		wantX := "HIT"
		if i%2 == 1 {
			wantX = "MISS"
		}
		if r.xcache() != wantX {
			t.Fatalf("response %d (%s): X-Cache %q want %q", i, path, r.xcache(), wantX)
		}
	}
}

func TestSplitAtEveryByte(t *testing.T) {
	o := newOrigin(t)
	o.handle("/s", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %s", r.Method, len(b), b)
	})
	p := startProxy(t, o.addr(), nil)
	msgs := []string{
		"GET /s HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n",
		"POST /s HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\nhello",
		"POST /s HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer-X: 1\r\n\r\n",
	}
	wants := []string{"GET 0 ", "POST 5 hello", "POST 5 abcde"}
	for mi, msg := range msgs {
		for split := 1; split < len(msg); split++ {
			c := dial(t, p.addr)
			c.send(msg[:split])
			time.Sleep(time.Millisecond)
			c.send(msg[split:])
			r := c.read(strings.Fields(msg)[0])
			if r.StatusCode != 200 || string(r.body) != wants[mi] {
				t.Fatalf("msg %d split %d: %d %q", mi, split, r.StatusCode, r.body)
			}
			c.nc.Close()
		}
	}
}

func TestMalformedAnsweredAndClosed(t *testing.T) {
	o := newOrigin(t)
	o.handle("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Limits.MaxHeaderBytes = 4096 })
	cases := []struct {
		name, raw string
		status    int
	}{
		{"te+cl", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"te gzip", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"two cl", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"space before colon", "GET /ok HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"obs-fold", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400},
		{"bare cr", "GET /ok HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400},
		{"bad token", "GET /ok HTTP/1.1\r\nHost: x\r\nBad(Name): 1\r\n\r\n", 400},
		{"version", "GET /ok HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"huge header", "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431},
		{"no host", "GET /ok HTTP/1.1\r\n\r\n", 400},
	}
	// A well-behaved connection keeps being served while the others misbehave.
	good := dial(t, p.addr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.addr)
			c.send(tc.raw)
			r := c.read("GET")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if strings.Contains(string(r.body), "Bad(Name)") || strings.Contains(string(r.body), "folded") {
				t.Fatalf("error body echoes input: %q", r.body)
			}
			c.expectClosed(2 * time.Second)
			if g := good.get("/ok"); g.StatusCode != 200 || string(g.body) != "ok" {
				t.Fatalf("other connection: %d %q", g.StatusCode, g.body)
			}
		})
	}
	// Body over the limit: 413.
	p2 := startProxy(t, o.addr(), func(c *server.Config) { c.Limits.MaxBodyBytes = 1000 })
	c := dial(t, p2.addr)
	c.send("POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
	if r := c.read("POST"); r.StatusCode != 413 {
		t.Fatalf("big body: %d", r.StatusCode)
	}
}

func TestPostBodyForwardedIntact(t *testing.T) {
	o := newOrigin(t)
	o.handle("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		fmt.Fprintf(w, "%d %s", len(b), hex.EncodeToString(sum[:]))
	})
	p := startProxy(t, o.addr(), nil)
	body := randomBytes(1<<20, 7)
	sum := sha256.Sum256(body)
	want := fmt.Sprintf("%d %s", len(body), hex.EncodeToString(sum[:]))
	for _, expect := range []bool{false, true} {
		c := dial(t, p.addr)
		hdr := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: %d\r\n", len(body))
		if expect {
			hdr += "Expect: 100-continue\r\n"
		}
		c.send(hdr + "\r\n")
		if expect {
			r := c.read("POST")
			if r.StatusCode != 100 {
				t.Fatalf("Expect: got %d before the body, want 100", r.StatusCode)
			}
		}
		// Send the body in pieces so it arrives over several reads.
		for off := 0; off < len(body); off += 100000 {
			end := min(off+100000, len(body))
			if _, err := c.nc.Write(body[off:end]); err != nil {
				t.Fatal(err)
			}
		}
		r := c.read("POST")
		if string(r.body) != want {
			t.Fatalf("upstream saw %q, want %q", r.body, want)
		}
	}
}

func TestUpstreamDown502(t *testing.T) {
	dead := freePort(t) // nothing listens there
	p := startProxy(t, dead, func(c *server.Config) { c.Upstream.Timeout = 2 * time.Second })
	c := dial(t, p.addr)
	start := time.Now()
	r := c.get("/x")
	if r.StatusCode != 502 {
		t.Fatalf("status %d, want 502", r.StatusCode)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("502 took %v", el)
	}
	// The connection stays usable.
	if r := c.get("/y"); r.StatusCode != 502 {
		t.Fatalf("second: %d", r.StatusCode)
	}
}

func TestUpstreamTimeout504(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, nc) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, nc := range held {
			nc.Close()
		}
		mu.Unlock()
	}()
	p := startProxy(t, ln.Addr().String(), func(c *server.Config) { c.Upstream.Timeout = 300 * time.Millisecond })
	c := dial(t, p.addr)
	start := time.Now()
	r := c.get("/hang")
	if r.StatusCode != 504 {
		t.Fatalf("status %d, want 504", r.StatusCode)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
		t.Fatalf("504 after %v, want about the 300ms timeout", el)
	}
	if r := c.get("/hang"); r.xcache() == "HIT" {
		t.Fatal("a timed-out response was stored")
	}
}

func TestOddStatusesPassThrough(t *testing.T) {
	o := newOrigin(t)
	for _, code := range []int{299, 404, 499, 599} {
		o.handle(fmt.Sprintf("/status/%d", code), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			fmt.Fprintf(w, "status %d", code)
		})
	}
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	for _, code := range []int{299, 404, 499, 599} {
		r := c.get(fmt.Sprintf("/status/%d", code))
		if r.StatusCode != code || string(r.body) != fmt.Sprintf("status %d", code) {
			t.Fatalf("%d passed as %d %q", code, r.StatusCode, r.body)
		}
	}
}

func TestHopByHopAndForwardedHeaders(t *testing.T) {
	o := newOrigin(t)
	o.handle("/h", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not pass")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End", "passes")
		fmt.Fprint(w, "h")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	r := c.get("/h", "Authorization: Bearer t", "Connection: X-Client-Hop", "X-Client-Hop: secret", "X-Forwarded-For: 10.9.8.7", "X-Weird-CASE: Value  with  spaces")
	if r.Header.Get("X-Hop") != "" || r.Header.Get("Keep-Alive") != "" || r.Header.Get("X-End") != "passes" {
		t.Fatalf("response hop-by-hop handling: %v", r.Header)
	}
	up := o.lastReq("/h")
	if up.Header.Get("X-Client-Hop") != "" {
		t.Fatal("client hop-by-hop field forwarded")
	}
	if got := up.Header.Get("X-Forwarded-For"); got != "10.9.8.7, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For = %q", got)
	}
	if up.Header.Get("X-Forwarded-Proto") != "http" || !strings.Contains(up.Header.Get("Via"), "mcpage") {
		t.Fatalf("XFP=%q Via=%q", up.Header.Get("X-Forwarded-Proto"), up.Header.Get("Via"))
	}
	if up.Header.Get("X-Weird-Case") != "Value  with  spaces" {
		t.Fatalf("unknown header changed: %q", up.Header.Get("X-Weird-Case"))
	}
}

func TestManyConcurrentKeepAlive(t *testing.T) {
	o := newOrigin(t)
	o.handle("/k/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Repeat(r.URL.Path, 300))
	})
	p := startProxy(t, o.addr(), nil)
	const conns, perConn = 200, 10
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
			br := newReader(nc)
			for j := 0; j < perConn; j++ {
				path := fmt.Sprintf("/k/%d", (i*perConn+j)%37)
				if _, err := io.WriteString(nc, request("GET", path)); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(b, []byte(strings.Repeat(path, 300))) {
					errs <- fmt.Errorf("conn %d req %d: wrong body for %s", i, j, path)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestReadTimeout(t *testing.T) {
	o := newOrigin(t)
	o.handle("/t", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "t") })
	p := startProxy(t, o.addr(), func(c *server.Config) { c.ReadTimeout = 300 * time.Millisecond })
	idle := dial(t, p.addr)
	idle.get("/t")
	half := dial(t, p.addr)
	half.send("GET /t HTTP/1.1\r\nHost: exa")
	// A slow-drip client does not extend its deadline by sending bytes.
	drip := dial(t, p.addr)
	go func() {
		for _, b := range []byte("GET /t HTTP/1.1\r\nHost: example.test\r\n") {
			if _, err := drip.nc.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	// Meanwhile a connection that keeps sending requests is unaffected, though
	// it lives well past the timeout.
	busy := dial(t, p.addr)
	for i := 0; i < 8; i++ {
		if r := busy.get("/t"); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []*client{idle, half, drip} {
		c.expectClosed(3 * time.Second)
	}
}

func TestConnectionClose(t *testing.T) {
	o := newOrigin(t)
	big := bytes.Repeat([]byte("z"), 2<<20)
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	p := startProxy(t, o.addr(), nil)
	for i := 0; i < 2; i++ { // miss, then hit
		c := dial(t, p.addr)
		r := c.get("/big", "Connection: close")
		if !bytes.Equal(r.body, big) {
			t.Fatalf("#%d: body %d bytes", i, len(r.body))
		}
		if !r.Close {
			t.Fatalf("#%d: no Connection: close", i)
		}
		c.expectClosed(3 * time.Second)
	}
	// HTTP/1.0 without keep-alive.
	c := dial(t, p.addr)
	c.send("GET /big HTTP/1.0\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); len(r.body) != len(big) {
		t.Fatalf("1.0: %d", len(r.body))
	}
	c.expectClosed(3 * time.Second)
}

func TestShutdownFinishesInFlight(t *testing.T) {
	o := newOrigin(t)
	o.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, "finished")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.send(request("GET", "/slow"))
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(t.Context()) }()
	r := c.read("GET")
	if string(r.body) != "finished" {
		t.Fatalf("in-flight response: %q", r.body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
