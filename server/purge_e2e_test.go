package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/server"
)

// PURGE on the embedded store: soft keeps a page with a validator for
// revalidation, deletes one without; hard deletes; the answer says whether a
// page was there; other addresses get 403 and the page stays.
func TestPurgeEmbedded(t *testing.T) {
	o := newOrigin(t)
	var n atomic.Int64
	o.handle("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "plain #%d", n.Add(1))
	})
	var full, notMod atomic.Int64
	o.handle("/etag", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notMod.Add(1)
			w.WriteHeader(304)
			return
		}
		full.Add(1)
		fmt.Fprint(w, "tagged")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	purge := func(path string, extra ...string) *response {
		c.send(request("PURGE", path, extra...))
		return c.read("PURGE")
	}
	c.get("/plain")
	if r := c.get("/plain"); r.xcache() != "HIT" {
		t.Fatal(r.xcache())
	}
	if r := purge("/plain"); r.StatusCode != 200 {
		t.Fatalf("PURGE of a stored page: %d", r.StatusCode)
	}
	if r := c.get("/plain"); r.xcache() != "MISS" || string(r.body) != "plain #2" {
		t.Fatalf("after soft purge without validator: %s %q", r.xcache(), r.body)
	}
	if r := purge("/absent"); r.StatusCode != 404 {
		t.Fatalf("PURGE of nothing: %d", r.StatusCode)
	}
	c.get("/etag")
	if r := purge("/etag"); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	if r := c.get("/etag"); r.xcache() != "REVALIDATED" || string(r.body) != "tagged" {
		t.Fatalf("after soft purge with validator: %s %q", r.xcache(), r.body)
	}
	if r := purge("/etag", "X-Purge: hard"); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	if r := c.get("/etag"); r.xcache() != "MISS" || full.Load() != 2 || notMod.Load() != 1 {
		t.Fatalf("after hard purge: %s, origin full %d, 304 %d", r.xcache(), full.Load(), notMod.Load())
	}
	if o.hits("/absent") != 0 {
		t.Fatal("a PURGE reached the origin")
	}

	// From an address outside -purge-allow: 403, page untouched.
	q := startProxy(t, o.addr(), func(c *server.Config) { c.PurgeAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	cq := dial(t, q.addr)
	cq.get("/plain")
	cq.send(request("PURGE", "/plain"))
	if r := cq.read("PURGE"); r.StatusCode != 403 {
		t.Fatalf("PURGE from a stranger: %d", r.StatusCode)
	}
	if r := cq.get("/plain"); r.xcache() != "HIT" {
		t.Fatalf("page after a refused purge: %s", r.xcache())
	}
}

// PURGE through one process is seen by another sharing memcached: soft makes
// the next reader refresh the page, hard deletes it.
func TestPurgeMemcachedAcrossProcesses(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	var n atomic.Int64
	o.handle("/p", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "page #%d", n.Add(1))
	})
	a := startProxy(t, o.addr(), withMemcached(t, 0, mc.Addr))
	b := startProxy(t, o.addr(), withMemcached(t, 0, mc.Addr))
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	ca.get("/p")
	waitHit(t, cb, "/p")
	cb.send(request("PURGE", "/p"))
	if r := cb.read("PURGE"); r.StatusCode != 200 {
		t.Fatalf("soft purge via b: %d", r.StatusCode)
	}
	if r := ca.get("/p"); r.xcache() != "MISS" || string(r.body) != "page #2" {
		t.Fatalf("a after b's soft purge: %s %q", r.xcache(), r.body)
	}
	waitHit(t, cb, "/p")
	cb.send(request("PURGE", "/p", "X-Purge: hard"))
	if r := cb.read("PURGE"); r.StatusCode != 200 {
		t.Fatalf("hard purge via b: %d", r.StatusCode)
	}
	if r := ca.get("/p"); r.xcache() != "MISS" || string(r.body) != "page #3" {
		t.Fatalf("a after b's hard purge: %s %q", r.xcache(), r.body)
	}
	cb.send(request("PURGE", "/nothing", "X-Purge: hard"))
	if r := cb.read("PURGE"); r.StatusCode != 404 {
		t.Fatalf("purge of nothing: %d", r.StatusCode)
	}
}
