package server_test

// Interim (1xx) responses from the origin (interim.go): relayed to the client
// before the final response, in request order, hop-by-hop fields removed;
// never stored, never replayed for a later request; never sent to HTTP/1.0
// clients; an origin's 100 Continue only to a client that asked for one.

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// hinted is an origin with a /hints page; sent103 gets one send per 103 the
// origin has written (Go's server flushes a 1xx at once).
type hinted struct {
	*origin
	sent103 chan struct{}
}

// hintsOrigin answers /hints with a 103 carrying Link, X-My-Header and a
// field it names in Connection, then, once release is closed (or after 20 s),
// a cacheable page without those fields.
func hintsOrigin(t *testing.T, release <-chan struct{}) *hinted {
	o := &hinted{origin: newOrigin(t), sent103: make(chan struct{}, 16)}
	o.handle("/hints", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Link", "</styles.css>; rel=preload; as=style")
		h.Set("X-My-Header", "test")
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "secret")
		w.WriteHeader(http.StatusEarlyHints)
		o.sent103 <- struct{}{}
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		h.Del("Link")
		h.Del("X-My-Header")
		h.Del("Connection")
		h.Del("X-Hop")
		h.Set("Cache-Control", "max-age=600")
		h.Set("Content-Type", "text/plain")
		io.WriteString(w, "the page")
	})
	return o
}

// The 103 reaches the client while the origin still holds the page back (the
// origin only sends the page once the client has read the 103), without the
// field the origin named in Connection; the page is stored without the 103's
// fields, and the hit that follows has no interim response.
func TestInterimRelayedEarlyNeverStored(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		release := make(chan struct{})
		o := hintsOrigin(t, release)
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		c.send(request("GET", "/hints"))
		r := c.read("GET")
		if r.StatusCode != 103 {
			t.Fatalf("first response %d, want the 103 before the page", r.StatusCode)
		}
		if r.Header.Get("Link") != "</styles.css>; rel=preload; as=style" || r.Header.Get("X-My-Header") != "test" {
			t.Fatalf("103 fields %v", r.Header)
		}
		if r.Header.Get("X-Hop") != "" || r.Header.Get("Connection") != "" {
			t.Fatalf("hop-by-hop fields relayed in the 103: %v", r.Header)
		}
		close(release)
		r = c.read("GET")
		if r.StatusCode != 200 || r.xcache() != "MISS" || string(r.body) != "the page" {
			t.Fatalf("final: %d %s %q", r.StatusCode, r.xcache(), r.body)
		}
		if r.Header.Get("X-My-Header") != "" || r.Header.Get("Link") != "" {
			t.Fatalf("the 103's fields leaked into the final response: %v", r.Header)
		}
		// The next response on the connection is the hit's own: no interim
		// response before it, none of the 103's fields in it.
		r = c.get("/hints")
		if r.StatusCode != 200 || r.xcache() != "HIT" || string(r.body) != "the page" {
			t.Fatalf("second request: %d %s %q", r.StatusCode, r.xcache(), r.body)
		}
		if r.Header.Get("X-My-Header") != "" || r.Header.Get("Link") != "" {
			t.Fatalf("the 103's fields were stored: %v", r.Header)
		}
		if n := o.hits("/hints"); n != 1 {
			t.Fatalf("origin saw %d requests, want 1", n)
		}
	})
}

// Pipelined "GET /slow, GET /hints": the 103 for the second request arrives
// while the first is still upstream, so it waits (held) and leaves after the
// first response and before its own, whichever final response comes back
// first.
func TestInterimPipelinedInOrder(t *testing.T) {
	for _, hintsFirst := range []bool{false, true} {
		name := "slow first"
		if hintsFirst {
			name = "hints first"
		}
		t.Run(name, func(t *testing.T) {
			releaseHints, releaseSlow := make(chan struct{}), make(chan struct{})
			o := hintsOrigin(t, releaseHints)
			arrived := make(chan struct{}, 1)
			o.handle("/hinted-slow", func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-releaseSlow
				io.WriteString(w, "slow")
			})
			p := startProxy(t, o.addr(), nil)
			c := dial(t, p.addr)
			c.send(request("GET", "/hinted-slow") + request("GET", "/hints"))
			// Both requests are upstream before either is answered.
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the first request did not reach the origin")
			}
			select {
			case <-o.sent103:
			case <-time.After(10 * time.Second):
				t.Fatal("the origin sent no 103")
			}
			if hintsFirst {
				close(releaseHints)
				close(releaseSlow)
			} else {
				close(releaseSlow)
				close(releaseHints)
			}
			if r := c.read("GET"); r.StatusCode != 200 || string(r.body) != "slow" {
				t.Fatalf("first response %d %q, want the slow page", r.StatusCode, r.body)
			}
			if r := c.read("GET"); r.StatusCode != 103 || r.Header.Get("Link") == "" {
				t.Fatalf("second response %d, want the 103", r.StatusCode)
			}
			if r := c.read("GET"); r.StatusCode != 200 || string(r.body) != "the page" {
				t.Fatalf("third response %d %q, want the hinted page", r.StatusCode, r.body)
			}
		})
	}
}

// An HTTP/1.0 client never gets a 1xx (RFC 9110 §15.2); its answer is the
// final response alone.
func TestInterimNotToHTTP10(t *testing.T) {
	release := make(chan struct{})
	close(release)
	o := hintsOrigin(t, release)
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.send("GET /hints HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n")
	r := c.read("GET")
	if r.StatusCode != 200 || string(r.body) != "the page" {
		t.Fatalf("HTTP/1.0 client got %d %q first, want the page", r.StatusCode, r.body)
	}
}

// An origin's 100 Continue is relayed to a client that sent Expect:
// 100-continue (after the proxy's own, which let the client send its body),
// and to no other client.
func TestInterimContinueOnlyWhenExpected(t *testing.T) {
	o := startUAOrigin(t, func(head string) (string, uaMode) {
		return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone", uaKeepAlive
	})
	p := startProxy(t, o.addr(), nil)

	c := dial(t, p.addr)
	c.send("POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n\r\nbody")
	if r := c.read("POST"); r.StatusCode != 200 || string(r.body) != "done" {
		t.Fatalf("without Expect: %d %q first, want the final response", r.StatusCode, r.body)
	}

	c = dial(t, p.addr)
	c.send("POST /form HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	if r := c.read("POST"); r.StatusCode != 100 {
		t.Fatalf("the proxy's own 100 Continue: got %d", r.StatusCode)
	}
	c.send("body")
	if r := c.read("POST"); r.StatusCode != 100 {
		t.Fatalf("the origin's 100 Continue: got %d", r.StatusCode)
	}
	if r := c.read("POST"); r.StatusCode != 200 || string(r.body) != "done" {
		t.Fatalf("with Expect: %d %q, want the final response", r.StatusCode, r.body)
	}
}
