package server_test

// Behaviour of the connection core that had no test of its own: the
// pipeline limit's stall and wake, a stored record that no longer decodes,
// and a shutdown that reaches its deadline.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
)

// With MaxPipeline 4, a client pipelining 10 requests has at most 4 of them
// at the origin at once (reading stalls), and all 10 are answered in order
// as responses drain (reading wakes up).
func TestPipelineStallAndWake(t *testing.T) {
	const limit, n = 4, 10
	var mu sync.Mutex
	inflight, peak := 0, 0
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, r.URL.Path)
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.MaxPipeline = limit; c.Loops = 1 })
	c := dial(t, p.addr)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(request("GET", fmt.Sprintf("/r%d", i)))
	}
	c.send(b.String())
	for i := 0; i < limit; i++ {
		<-arrived // the first four reach the origin
	}
	// Release them one at a time; every release lets one more request in.
	go func() {
		for i := 0; i < n; i++ {
			release <- struct{}{}
		}
	}()
	for i := 0; i < n; i++ {
		if r := c.read("GET"); string(r.body) != fmt.Sprintf("/r%d", i) {
			t.Fatalf("response %d: %q", i, r.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > limit {
		t.Fatalf("%d requests at the origin at once, MaxPipeline %d", peak, limit)
	}
}

// A stored record that no longer decodes (written by a broken peer, or a
// format change) is dropped and the request served as a miss.
func TestUndecodableRecordIsAMiss(t *testing.T) {
	o := newOrigin(t)
	o.handle("/p", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "fresh from origin")
	})
	store, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/p"))
	store.Set(key, []byte("MCPG garbage that is not a record"), time.Hour)
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.NewStore = func(int, gnet.EventLoop) pagestore.Store { return store }
	})
	c := dial(t, p.addr)
	if r := c.get("/p"); r.StatusCode != 200 || string(r.body) != "fresh from origin" || r.xcache() != "MISS" {
		t.Fatalf("%d %s %q", r.StatusCode, r.xcache(), r.body)
	}
	if r := c.get("/p"); r.xcache() != "HIT" || string(r.body) != "fresh from origin" {
		t.Fatalf("the refetched page was not stored in place of the broken one: %s %q", r.xcache(), r.body)
	}
}

// Shutdown with a response that never completes returns at its deadline,
// Serve returns, and the waiting client's connection is closed.
func TestShutdownDeadline(t *testing.T) {
	stuck := make(chan struct{})
	o := newOrigin(t)
	o.handle("/stuck", func(w http.ResponseWriter, r *http.Request) { <-stuck })
	t.Cleanup(func() { close(stuck) })
	cfg := server.Config{Listen: "127.0.0.1:0", Loops: 1, ShutdownTimeout: 200 * time.Millisecond}
	cfg.Upstream.Addrs = []string{o.addr()}
	cfg.Upstream.Timeout = time.Minute
	s, done := runServer(t, cfg)
	c := dial(t, s.Addr().String())
	c.send(request("GET", "/stuck"))
	for o.hits("/stuck") == 0 { // the request is in flight at the origin
		time.Sleep(time.Millisecond)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after a Shutdown that reached its deadline")
	}
	c.expectClosed(10 * time.Second)
}
