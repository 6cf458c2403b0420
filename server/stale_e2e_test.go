package server_test

// Stale serving (stale.go): -grace, stale-while-revalidate, stale-if-error,
// and what forbids them, on the embedded store with an injected clock, and
// on memcached shared by two processes (one refresh fleet-wide).

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/server"
)

// versioned is an origin page whose body names the fetch that produced it
// ("v1", "v2", ...). While gated, fetches after the first block until the
// gate opens (so a refresh in flight can be observed); fail makes it answer
// 503; drop makes it close the connection without an answer.
type versioned struct {
	cc      atomic.Value // string: the Cache-Control sent
	n       atomic.Int64
	fail    atomic.Bool
	drop    atomic.Bool
	gate    chan struct{}
	gated   atomic.Bool
	waiting chan struct{} // one send per fetch that blocks on the gate
}

func newVersioned(o *origin, path, cc string) *versioned {
	v := &versioned{gate: make(chan struct{}), waiting: make(chan struct{}, 64)}
	v.cc.Store(cc)
	o.handle(path, func(w http.ResponseWriter, r *http.Request) {
		if v.drop.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				nc, _, _ := hj.Hijack()
				nc.Close()
			}
			return
		}
		if v.fail.Load() {
			w.WriteHeader(503)
			fmt.Fprint(w, "origin down")
			return
		}
		n := v.n.Add(1)
		if n > 1 && v.gated.Load() {
			v.waiting <- struct{}{}
			<-v.gate
		}
		w.Header().Set("Cache-Control", v.cc.Load().(string))
		fmt.Fprintf(w, "v%d", n)
	})
	return v
}

func expect(t *testing.T, r *response, label, body string) {
	t.Helper()
	if r.StatusCode != 200 || r.xcache() != label || string(r.body) != body {
		t.Fatalf("got %d %s %q, want 200 %s %q", r.StatusCode, r.xcache(), r.body, label, body)
	}
}

func staleProxy(t *testing.T, o *origin, grace time.Duration, clock *fakeClock) *proxy {
	return startProxy(t, o.addr(), func(c *server.Config) {
		c.Grace = grace
		if clock != nil {
			c.Clock = clock.now
		}
	})
}

// Within grace a stale page is answered at once, with its true Age, while
// exactly one request refreshes it in the background; then the new page is
// a HIT.
func TestStaleWhileRevalidateGrace(t *testing.T) {
	o := newOrigin(t)
	v := newVersioned(o, "/p", "max-age=5")
	clock := &fakeClock{}
	p := staleProxy(t, o, 10*time.Second, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	expect(t, c.get("/p"), "HIT", "v1")

	v.gated.Store(true)
	clock.advance(7 * time.Second)
	// Several clients on several connections (both loops): all STALE at
	// once, while the one refresh waits at the origin.
	for i := 0; i < 6; i++ {
		r := dial(t, p.addr).get("/p")
		expect(t, r, "STALE", "v1")
		if age, _ := strconv.Atoi(r.Header.Get("Age")); age < 7 || age > 8 {
			t.Fatalf("Age of a page stored 7s ago: %q", r.Header.Get("Age"))
		}
	}
	<-v.waiting // the refresh reached the origin
	if got := p.Stats().Refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes started, want 1", got)
	}
	close(v.gate)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := c.get("/p")
		if r.xcache() == "HIT" {
			expect(t, r, "HIT", "v2")
			break
		}
		expect(t, r, "STALE", "v1")
		if time.Now().After(deadline) {
			t.Fatal("refreshed page never served")
		}
	}
	if n := v.n.Load(); n != 2 {
		t.Fatalf("origin fetched %d times, want 2", n)
	}
}

// Past grace a stale page is not served: the request waits for the origin.
func TestStalePastGraceFetches(t *testing.T) {
	o := newOrigin(t)
	newVersioned(o, "/p", "max-age=5")
	clock := &fakeClock{}
	p := staleProxy(t, o, 10*time.Second, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	clock.advance(16 * time.Second)
	expect(t, c.get("/p"), "MISS", "v2")
	expect(t, c.get("/p"), "HIT", "v2")
}

// The response's own stale-while-revalidate works without any grace, and
// ends when it says.
func TestStaleWhileRevalidateDirective(t *testing.T) {
	o := newOrigin(t)
	newVersioned(o, "/swr", "max-age=5, stale-while-revalidate=30")
	newVersioned(o, "/plain", "max-age=5")
	clock := &fakeClock{}
	p := staleProxy(t, o, 0, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/swr"), "MISS", "v1")
	expect(t, c.get("/plain"), "MISS", "v1")
	clock.advance(20 * time.Second)
	expect(t, c.get("/swr"), "STALE", "v1")
	expect(t, c.get("/plain"), "MISS", "v2") // no grace: never stale
	r := waitLabel(t, c, "/swr", "HIT")
	expect(t, r, "HIT", "v2")
	clock.advance(5*time.Second + 31*time.Second)
	expect(t, c.get("/swr"), "MISS", "v3")
}

// waitLabel repeats GET path until the answer carries label.
func waitLabel(t *testing.T, c *client, path, label string) *response {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := c.get(path)
		if r.xcache() == label {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %s: %s", path, label, r.xcache())
		}
	}
}

// When the origin fails (5xx, or no answer at all) within stale-if-error
// or grace, the stale page is served instead of the error, and stays
// stored; past that window the error passes.
func TestStaleIfError(t *testing.T) {
	o := newOrigin(t)
	v := newVersioned(o, "/sie", "max-age=5, stale-if-error=60")
	clock := &fakeClock{}
	p := staleProxy(t, o, 0, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/sie"), "MISS", "v1")
	clock.advance(10 * time.Second)
	v.fail.Store(true)
	expect(t, c.get("/sie"), "STALE", "v1")
	v.fail.Store(false)
	v.drop.Store(true)
	expect(t, dial(t, p.addr).get("/sie"), "STALE", "v1")
	v.drop.Store(false)
	v.fail.Store(true)
	clock.advance(60 * time.Second) // 65s past freshness
	if r := c.get("/sie"); r.StatusCode != 503 || string(r.body) != "origin down" {
		t.Fatalf("past stale-if-error: %d %s %q", r.StatusCode, r.xcache(), r.body)
	}
	v.fail.Store(false)
	expect(t, c.get("/sie"), "MISS", "v2")
}

// Grace alone covers origin failures too.
func TestGraceServesStaleOnError(t *testing.T) {
	o := newOrigin(t)
	v := newVersioned(o, "/g", "max-age=5")
	clock := &fakeClock{}
	p := staleProxy(t, o, 30*time.Second, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/g"), "MISS", "v1")
	v.fail.Store(true)
	clock.advance(10 * time.Second)
	// Within grace: answered stale at once; the background refresh fails
	// and leaves the page alone.
	expect(t, c.get("/g"), "STALE", "v1")
	for deadline := time.Now().Add(5 * time.Second); p.Stats().Refreshes.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no refresh started")
		}
	}
	expect(t, c.get("/g"), "STALE", "v1")
}

// must-revalidate, proxy-revalidate and s-maxage forbid serving stale, with
// grace, while revalidating or on error.
func TestStaleForbidden(t *testing.T) {
	for _, cc := range []string{"max-age=5, must-revalidate, stale-if-error=60", "max-age=5, proxy-revalidate", "s-maxage=5, stale-while-revalidate=60"} {
		t.Run(cc, func(t *testing.T) {
			o := newOrigin(t)
			v := newVersioned(o, "/f", cc)
			clock := &fakeClock{}
			p := staleProxy(t, o, 30*time.Second, clock)
			c := dial(t, p.addr)
			expect(t, c.get("/f"), "MISS", "v1")
			clock.advance(10 * time.Second)
			expect(t, c.get("/f"), "MISS", "v2")
			clock.advance(10 * time.Second)
			v.fail.Store(true)
			if r := c.get("/f"); r.StatusCode != 503 {
				t.Fatalf("origin down, stale forbidden: %d %s %q", r.StatusCode, r.xcache(), r.body)
			}
			if n := p.Stats().StaleHits.Load(); n != 0 {
				t.Fatalf("%d stale answers", n)
			}
		})
	}
}

// A soft purge on the embedded store, with grace: the next reader gets the
// old page at once (STALE) while it is refreshed; a hard purge is a MISS.
func TestSoftPurgeServesStaleWithinGrace(t *testing.T) {
	o := newOrigin(t)
	newVersioned(o, "/p", "max-age=600")
	p := staleProxy(t, o, 10*time.Second, nil)
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	c.send(request("PURGE", "/p"))
	if r := c.read("PURGE"); r.StatusCode != 200 {
		t.Fatalf("PURGE: %d", r.StatusCode)
	}
	r := c.get("/p")
	expect(t, r, "STALE", "v1")
	if age, _ := strconv.Atoi(r.Header.Get("Age")); age > 2 {
		t.Fatalf("Age after purge: %q", r.Header.Get("Age"))
	}
	expect(t, waitLabel(t, c, "/p", "HIT"), "HIT", "v2")
	c.send(request("PURGE", "/p", "X-Purge: hard"))
	c.read("PURGE")
	expect(t, c.get("/p"), "MISS", "v3")
}

// Two processes on one memcached: once a page's freshness ends, both serve
// it stale and exactly one refresh reaches the origin (mg R elects it);
// then both serve the new page. Real time: memcached's own clock decides.
func TestMemcachedStaleOneRefreshAcrossProcesses(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	v := newVersioned(o, "/p", "max-age=1")
	mod := func(c *server.Config) {
		withMemcached(t, 0, mc.Addr)(c)
		c.Grace = 30 * time.Second
	}
	a := startProxy(t, o.addr(), mod)
	b := startProxy(t, o.addr(), mod)
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	expect(t, ca.get("/p"), "MISS", "v1")
	waitHit(t, cb, "/p")
	v.gated.Store(true)
	// Wait for the page to go stale (real time, about a second), then keep
	// reading through both while memcached elects one refresher, which is
	// held at the origin: every answer meanwhile is the stale page.
	waitLabel(t, ca, "/p", "STALE")
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, c := range []*client{ca, cb} {
			expect(t, c.get("/p"), "STALE", "v1")
		}
		select {
		case <-v.waiting:
		case <-time.After(10 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("no refresh reached the origin")
		}
		break
	}
	for _, c := range []*client{ca, cb} {
		expect(t, c.get("/p"), "STALE", "v1")
	}
	close(v.gate)
	expect(t, waitLabel(t, ca, "/p", "HIT"), "HIT", "v2")
	expect(t, waitLabel(t, cb, "/p", "HIT"), "HIT", "v2")
	if n := v.n.Load(); n != 2 {
		t.Fatalf("origin fetched %d times, want 2 (one fill, one refresh)", n)
	}
	if got := a.Stats().Refreshes.Load() + b.Stats().Refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes across both processes, want 1", got)
	}
}

// Memcached: stale-if-error serves the stale page when the origin is gone.
func TestMemcachedStaleIfError(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	v := newVersioned(o, "/p", "max-age=1, stale-if-error=600")
	p := startProxy(t, o.addr(), withMemcached(t, 0, mc.Addr))
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	waitHit(t, c, "/p")
	v.fail.Store(true)
	waitLabel(t, c, "/p", "STALE")
	for i := 0; i < 8; i++ {
		if r := dial(t, p.addr).get("/p"); r.xcache() != "STALE" || string(r.body) != "v1" {
			t.Fatalf("origin down: %d %s %q", r.StatusCode, r.xcache(), r.body)
		}
	}
}

// A background refresh that finds the page no longer storable (the origin
// made it private) removes the stale page: it is not served again.
func TestRefreshDropsPageNoLongerStorable(t *testing.T) {
	o := newOrigin(t)
	v := newVersioned(o, "/p", "max-age=5")
	clock := &fakeClock{}
	p := staleProxy(t, o, 30*time.Second, clock)
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	v.cc.Store("private, max-age=5")
	clock.advance(10 * time.Second)
	expect(t, c.get("/p"), "STALE", "v1")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := c.get("/p")
		if r.xcache() == "MISS" {
			if string(r.body) == "v1" {
				t.Fatal("stale page served as a MISS")
			}
			break
		}
		expect(t, r, "STALE", "v1")
		if time.Now().After(deadline) {
			t.Fatal("private page still served stale")
		}
	}
	if r := c.get("/p"); r.xcache() != "MISS" {
		t.Fatalf("after the refresh: %s %q", r.xcache(), r.body)
	}
}

// Config.StaleIfError serves a stale page instead of an origin failure even
// with no grace and no stale-if-error in the response, never while the
// origin answers, and not for a page that forbids it.
func TestStaleIfErrorConfig(t *testing.T) {
	o := newOrigin(t)
	v := newVersioned(o, "/p", "max-age=5")
	m := newVersioned(o, "/m", "max-age=5, must-revalidate")
	clock := &fakeClock{}
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.StaleIfError = time.Minute
		c.Clock = clock.now
	})
	c := dial(t, p.addr)
	expect(t, c.get("/p"), "MISS", "v1")
	expect(t, c.get("/m"), "MISS", "v1")
	clock.advance(10 * time.Second)
	expect(t, c.get("/p"), "MISS", "v2") // origin up: no stale while revalidating
	clock.advance(10 * time.Second)
	v.drop.Store(true)
	m.drop.Store(true)
	expect(t, c.get("/p"), "STALE", "v2")
	if r := c.get("/m"); r.StatusCode != 502 {
		t.Fatalf("must-revalidate page, origin gone: %d %s %q", r.StatusCode, r.xcache(), r.body)
	}
}
