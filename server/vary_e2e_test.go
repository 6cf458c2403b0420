package server_test

// Variants (vary.go) on both stores: responses that vary on request fields
// besides Accept-Encoding are stored per selecting values, chosen by the
// normalised values, bounded per URL, purged with their URL, and shared
// across processes on memcached.

import (
	"bytes"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/server"
)

// varyOrigin answers path with a body naming the request's values of the
// fields it varies on and a count of fetches, so a test can tell which
// request a stored page was made for.
type varyOrigin struct {
	n    atomic.Int64
	vary atomic.Value // string: the Vary sent
}

func newVaryOrigin(o *origin, path, vary string, extra func(w http.ResponseWriter)) *varyOrigin {
	v := &varyOrigin{}
	v.vary.Store(vary)
	o.handle(path, func(w http.ResponseWriter, r *http.Request) {
		n := v.n.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		if vary := v.vary.Load().(string); vary != "" {
			w.Header().Set("Vary", vary)
		}
		if extra != nil {
			extra(w)
		}
		fmt.Fprintf(w, "lang=%q foo=%q #%d", strings.Join(r.Header.Values("Accept-Language"), "|"), strings.Join(r.Header.Values("Foo"), "|"), n)
	})
	return v
}

// getUntil asks for path with extra fields until the answer is labelled
// label (a write to memcached lands asynchronously), bounded.
func getUntil(t *testing.T, c *client, label, path string, extra ...string) *response {
	t.Helper()
	var r *response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r = c.get(path, extra...)
		if r.xcache() == label || time.Now().After(deadline) {
			return r
		}
	}
}

func TestVaryVariants(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		o := newOrigin(t)
		v := newVaryOrigin(o, "/v", "Accept-Language", nil)
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		expectBody := func(r *response, label, body string) {
			t.Helper()
			if r.StatusCode != 200 || r.xcache() != label || !strings.HasPrefix(string(r.body), body) {
				t.Fatalf("got %d %s %q, want %s %q…", r.StatusCode, r.xcache(), r.body, label, body)
			}
			if r.Header.Get("Vary") != "Accept-Language" {
				t.Fatalf("Vary %q", r.Header.Get("Vary"))
			}
		}
		expectBody(c.get("/v", "Accept-Language: en"), "MISS", `lang="en" foo="" #1`)
		expectBody(getUntil(t, c, "HIT", "/v", "Accept-Language: en"), "HIT", `lang="en" foo="" #1`)
		expectBody(c.get("/v", "Accept-Language: de"), "MISS", `lang="de" foo="" #2`)
		expectBody(getUntil(t, c, "HIT", "/v", "Accept-Language: de"), "HIT", `lang="de" foo="" #2`)
		// Both variants live side by side.
		expectBody(c.get("/v", "Accept-Language: en"), "HIT", `lang="en" foo="" #1`)
		// Normalised: case, whitespace, list order, split lines.
		expectBody(c.get("/v", "Accept-Language:  EN "), "HIT", `lang="en" foo="" #1`)
		expectBody(c.get("/v", "Accept-Language: fr, de"), "MISS", `lang="fr, de" foo="" #3`)
		expectBody(getUntil(t, c, "HIT", "/v", "Accept-Language: de,fr"), "HIT", `lang="fr, de" foo="" #3`)
		expectBody(c.get("/v", "Accept-Language: de", "Accept-Language: fr"), "HIT", `lang="fr, de" foo="" #3`)
		// A missing field matches only a missing field; an empty one is
		// not missing.
		expectBody(c.get("/v"), "MISS", `lang="" foo="" #4`)
		expectBody(getUntil(t, c, "HIT", "/v"), "HIT", `lang="" foo="" #4`)
		expectBody(c.get("/v", "Accept-Language:"), "MISS", `lang="" foo="" #5`)
		// Fields Vary does not name are not in the key.
		expectBody(c.get("/v", "Accept-Language: en", "Foo: 9"), "HIT", `lang="en" foo="" #1`)
		if n := v.n.Load(); n != 5 {
			t.Fatalf("origin fetched %d times, want 5", n)
		}
	})
}

// Vary: * in any spelling is never stored; nor is a response naming more
// fields than the bound.
func TestVaryStarNeverStored(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		for i, vary := range []string{"*", "Foo, *", "*, Foo", "a, b, c, d, e, f, g, h, i"} {
			o := newOrigin(t)
			v := newVaryOrigin(o, "/s", vary, nil)
			p := startProxy(t, o.addr(), mod)
			c := dial(t, p.addr)
			for j := 0; j < 2; j++ {
				if r := c.get("/s", "Foo: 1"); r.xcache() != "MISS" || !strings.Contains(r.Header.Get("X-Cache-Detail"), "vary") {
					t.Fatalf("%s %d %q: %s %q", store, i, vary, r.xcache(), r.Header.Get("X-Cache-Detail"))
				}
			}
			if v.n.Load() != 2 {
				t.Fatalf("%s %q: %d fetches", store, vary, v.n.Load())
			}
		}
	})
}

// Several Vary names: all must match, in any order of the request's
// fields; a field both requests omit matches.
func TestVaryMultipleFields(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		v := newVaryOrigin(o, "/f", "Foo, Accept-Language", nil)
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		c.get("/f", "Foo: 1", "Accept-Language: en")
		if r := getUntil(t, c, "HIT", "/f", "Accept-Language: en", "Foo: 1"); r.xcache() != "HIT" {
			t.Fatalf("%s: same values, other order: %s", store, r.xcache())
		}
		for _, extra := range [][]string{{"Foo: 2", "Accept-Language: en"}, {"Foo: 1", "Accept-Language: de"}, {"Foo: 1"}} {
			if r := c.get("/f", extra...); r.xcache() != "MISS" {
				t.Fatalf("%s %q: %s", store, extra, r.xcache())
			}
		}
		if r := getUntil(t, c, "HIT", "/f", "Foo: 1"); r.xcache() != "HIT" || !strings.Contains(string(r.body), `lang="" foo="1"`) {
			t.Fatalf("%s: both omitted: %s %q", store, r.xcache(), r.body)
		}
		if n := v.n.Load(); n != 4 {
			t.Fatalf("%s: %d fetches, want 4", store, n)
		}
	})
}

// The index keeps at most MaxVariants variants per URL: storing one more
// drops the oldest.
func TestVaryMaxVariants(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		o := newOrigin(t)
		v := newVaryOrigin(o, "/m", "Foo", nil)
		p := startProxy(t, o.addr(), func(c *server.Config) {
			mod(c)
			c.MaxVariants = 2
		})
		c := dial(t, p.addr)
		for _, foo := range []string{"a", "b"} {
			c.get("/m", "Foo: "+foo)
			if r := getUntil(t, c, "HIT", "/m", "Foo: "+foo); r.xcache() != "HIT" {
				t.Fatalf("Foo %s: %s", foo, r.xcache())
			}
		}
		c.get("/m", "Foo: c")
		if r := getUntil(t, c, "HIT", "/m", "Foo: c"); r.xcache() != "HIT" {
			t.Fatalf("Foo c: %s", r.xcache())
		}
		if r := c.get("/m", "Foo: b"); r.xcache() != "HIT" {
			t.Fatalf("Foo b after c: %s", r.xcache())
		}
		if r := c.get("/m", "Foo: a"); r.xcache() != "MISS" {
			t.Fatalf("Foo a, the oldest, after c: %s %q", r.xcache(), r.body)
		}
		if n := v.n.Load(); n != 4 {
			t.Fatalf("origin fetched %d times, want 4", n)
		}
	})
}

// A URL whose responses stop varying is stored as a plain page again, and
// one that starts varying on other fields gets a new index; purges (hard
// and soft) reach every variant.
func TestVaryChangesAndPurge(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		o := newOrigin(t)
		v := newVaryOrigin(o, "/c", "Foo", nil)
		p := startProxy(t, o.addr(), func(c *server.Config) {
			mod(c)
		})
		c := dial(t, p.addr)
		purge := func(extra ...string) {
			t.Helper()
			c.send(request("PURGE", "/c", extra...))
			if r := c.read("PURGE"); r.StatusCode != 200 {
				t.Fatalf("PURGE: %d", r.StatusCode)
			}
		}
		c.get("/c", "Foo: 1")
		c.get("/c", "Foo: 2")
		getUntil(t, c, "HIT", "/c", "Foo: 1")
		getUntil(t, c, "HIT", "/c", "Foo: 2")
		purge("X-Purge: hard")
		for _, foo := range []string{"1", "2"} {
			if r := c.get("/c", "Foo: "+foo); r.xcache() != "MISS" {
				t.Fatalf("Foo %s after hard purge: %s", foo, r.xcache())
			}
		}
		getUntil(t, c, "HIT", "/c", "Foo: 2")
		purge() // soft: stale from now; without a validator or grace, a miss
		for _, foo := range []string{"2", "1"} {
			if r := c.get("/c", "Foo: "+foo); r.xcache() == "HIT" {
				t.Fatalf("Foo %s after soft purge: %s", foo, r.xcache())
			}
		}
		// The page stops varying: stored plain, for everyone.
		v.vary.Store("")
		c.send(request("PURGE", "/c", "X-Purge: hard"))
		c.read("PURGE")
		before := v.n.Load()
		c.get("/c", "Foo: 1")
		if r := getUntil(t, c, "HIT", "/c", "Foo: 3"); r.xcache() != "HIT" || r.Header.Get("Vary") != "" {
			t.Fatalf("plain page: %s Vary %q", r.xcache(), r.Header.Get("Vary"))
		}
		if n := v.n.Load() - before; n != 1 {
			t.Fatalf("plain page fetched %d times", n)
		}
		// And varies again, on another field: a new index.
		v.vary.Store("Accept-Language")
		c.send(request("PURGE", "/c", "X-Purge: hard"))
		c.read("PURGE")
		c.get("/c", "Accept-Language: en")
		if r := getUntil(t, c, "HIT", "/c", "Accept-Language: en", "Foo: 7"); r.xcache() != "HIT" {
			t.Fatalf("new index: %s", r.xcache())
		}
		if r := c.get("/c", "Accept-Language: de"); r.xcache() != "MISS" {
			t.Fatalf("other language: %s", r.xcache())
		}
	})
}

// Two processes on one memcached share the variants and the index: each
// stores what the other then hits, and a concurrent cold start of two
// variants leaves both reachable or refetchable, never crossed.
func TestVaryAcrossProcesses(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	v := newVaryOrigin(o, "/x", "Foo", nil)
	a := startProxy(t, o.addr(), withMemcached(t, time.Second, mc.Addr))
	b := startProxy(t, o.addr(), withMemcached(t, time.Second, mc.Addr))
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	if r := ca.get("/x", "Foo: 1"); r.xcache() != "MISS" {
		t.Fatal(r.xcache())
	}
	if r := getUntil(t, cb, "HIT", "/x", "Foo: 1"); r.xcache() != "HIT" || !strings.Contains(string(r.body), `foo="1" #1`) {
		t.Fatalf("b, Foo 1: %s %q", r.xcache(), r.body)
	}
	if r := cb.get("/x", "Foo: 2"); r.xcache() != "MISS" {
		t.Fatalf("b, Foo 2: %s", r.xcache())
	}
	if r := getUntil(t, ca, "HIT", "/x", "Foo: 2"); r.xcache() != "HIT" || !strings.Contains(string(r.body), `foo="2" #2`) {
		t.Fatalf("a, Foo 2: %s %q", r.xcache(), r.body)
	}
	if n := v.n.Load(); n != 2 {
		t.Fatalf("origin fetched %d times, want 2", n)
	}
	// Every answer names the request's own value, whatever the interleaving.
	newVaryOrigin(o, "/y", "Foo", nil)
	done := make(chan error, 40)
	for i := 0; i < 40; i++ {
		go func(i int) {
			p := a
			if i%2 == 1 {
				p = b
			}
			foo := fmt.Sprint(3 + i%4)
			c := dial(t, p.addr)
			r := c.get("/y", "Foo: "+foo)
			if !bytes.Contains(r.body, []byte(`foo="`+foo+`"`)) {
				done <- fmt.Errorf("Foo %s got %q (%s)", foo, r.body, r.xcache())
				return
			}
			done <- nil
		}(i)
	}
	for i := 0; i < 40; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
