package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// waitUntil polls cond every 5 ms until it holds, failing after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// TestDrainHandsOver: a second server takes over the first one's listening
// socket, and the first drains: a request in flight is answered, the next
// request of a keep-alive connection is answered with Connection: close, a
// request head half sent is completed and answered, an idle connection is
// closed, and a fill whose client went away is waited for before the loops
// stop. New connections reach the second server throughout.
func TestDrainHandsOver(t *testing.T) {
	o := newOrigin(t)
	o.handle("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page")
	})
	slow, abandoned := make(chan struct{}), make(chan struct{})
	var releaseSlow, releaseAbandoned sync.Once
	t.Cleanup(func() { // a failed test still lets the origin's handlers return
		releaseSlow.Do(func() { close(slow) })
		releaseAbandoned.Do(func() { close(abandoned) })
	})
	o.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-slow
		io.WriteString(w, "slow")
	})
	o.handle("/abandoned", func(w http.ResponseWriter, r *http.Request) {
		<-abandoned
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "abandoned")
	})
	a := startProxy(t, o.addr(), nil)

	used, idle, inFlight, partial := dial(t, a.addr), dial(t, a.addr), dial(t, a.addr), dial(t, a.addr)
	for _, c := range []*client{used, idle} {
		if r := c.get("/page"); r.StatusCode != 200 || r.Close {
			t.Fatalf("before the drain: %d %v", r.StatusCode, r.Header)
		}
	}
	inFlight.send(request("GET", "/slow"))
	partial.send("GET /page HTTP/1.1\r\nHo")
	gone := dial(t, a.addr)
	gone.send(request("GET", "/abandoned"))
	waitUntil(t, 10*time.Second, "requests at the origin", func() bool { return o.hits("/slow") == 1 && o.hits("/abandoned") == 1 })
	gone.nc.Close()

	f, err := a.ListenerFile()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := startProxy(t, o.addr(), func(c *server.Config) { c.Listener = ln })
	if b.addr != a.addr {
		t.Fatalf("second server on %s, first on %s", b.addr, a.addr)
	}

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drained <- a.Drain(ctx)
	}()
	waitUntil(t, 10*time.Second, "drain", a.Draining)

	r := used.get("/page")
	if r.StatusCode != 200 || string(r.body) != "page" || !r.Close {
		t.Fatalf("next request while draining: %d %q %v", r.StatusCode, r.body, r.Header)
	}
	used.expectClosed(5 * time.Second)
	partial.send("st: example.test\r\n\r\n")
	if r := partial.read("GET"); r.StatusCode != 200 || !r.Close {
		t.Fatalf("request completed while draining: %d %v", r.StatusCode, r.Header)
	}
	partial.expectClosed(5 * time.Second)
	if b := idle.readAll(10 * time.Second); len(b) != 0 {
		t.Fatalf("idle connection got %q", b)
	}
	for range 3 { // new clients reach the second server
		if r := dial(t, a.addr).get("/page"); r.StatusCode != 200 || string(r.body) != "page" {
			t.Fatalf("new connection while draining: %d %q", r.StatusCode, r.body)
		}
	}

	releaseSlow.Do(func() { close(slow) })
	if r := inFlight.read("GET"); r.StatusCode != 200 || string(r.body) != "slow" {
		t.Fatalf("request in flight: %d %q", r.StatusCode, r.body)
	}
	inFlight.expectClosed(10 * time.Second) // idle now
	stores := a.Stats().Stores.Load()
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) with a fill in flight", err)
	default:
	}
	releaseAbandoned.Do(func() { close(abandoned) })
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("drain did not return")
	}
	if n := a.Stats().Stores.Load(); n != stores+1 {
		t.Errorf("the abandoned fill was not stored before the loops stopped: %d stores, %d before", n, stores)
	}
	if r := dial(t, a.addr).get("/page"); r.StatusCode != 200 {
		t.Fatalf("after the drain: %d", r.StatusCode)
	}
}

// TestDrainDeadline: connections still open at the drain's deadline are
// cut off and the loops stop.
func TestDrainDeadline(t *testing.T) {
	o := newOrigin(t)
	hold := make(chan struct{})
	defer close(hold)
	o.handle("/hang", func(w http.ResponseWriter, r *http.Request) { <-hold })
	a := startProxy(t, o.addr(), nil)
	c := dial(t, a.addr)
	c.send(request("GET", "/hang"))
	waitUntil(t, 10*time.Second, "request at the origin", func() bool { return o.hits("/hang") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := a.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	c.expectClosed(5 * time.Second)
}
