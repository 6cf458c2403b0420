package server_test

// RFC 9111 behaviours on both stores: every status with explicit freshness
// is stored (5xx never served stale), heuristic freshness and -ttl only for
// heuristically cacheable statuses, responses to requests with
// Authorization stored only when they say so, and the request directives
// behind Config.RequestCacheControl.

import (
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

func TestEveryStatusWithExplicitFreshness(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		var n atomic.Int64
		o.handle("/s/", func(w http.ResponseWriter, r *http.Request) {
			var status int
			var cc string
			fmt.Sscanf(r.URL.Path, "/s/%d/%s", &status, &cc)
			if cc == "fresh" {
				w.Header().Set("Cache-Control", "max-age=600")
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "%d #%d", status, n.Add(1))
		})
		// An injected clock only with the embedded store: memcached keeps
		// its own time (and the store's sweep reads the proxy's).
		clock := &fakeClock{}
		p := startProxy(t, o.addr(), func(c *server.Config) {
			mod(c)
			if store == "embedded" {
				c.Clock = clock.now
			}
			c.Grace = time.Hour // a 5xx is never served stale anyway
		})
		c := dial(t, p.addr)
		for _, tc := range []struct {
			status int
			cc     string
			stored bool
		}{
			{200, "fresh", true}, {203, "fresh", true}, {299, "fresh", true}, {302, "fresh", true},
			{400, "fresh", true}, {404, "fresh", true}, {500, "fresh", true}, {502, "fresh", true},
			{503, "fresh", true}, {599, "fresh", true},
			// Without explicit freshness: -ttl (startProxy's DefaultTTL)
			// for heuristically cacheable statuses only.
			{200, "none", true}, {404, "none", true}, {410, "none", true}, {501, "none", true},
			{302, "none", false}, {400, "none", false}, {500, "none", false}, {503, "none", false},
		} {
			path := "/s/" + strconv.Itoa(tc.status) + "/" + tc.cc
			first := c.get(path)
			want := "MISS"
			if tc.stored {
				want = "HIT"
			}
			second := getUntil(t, c, want, path)
			if first.StatusCode != tc.status || second.StatusCode != tc.status || second.xcache() != want || (tc.stored && string(second.body) != string(first.body)) {
				t.Fatalf("%s %s: %d %s then %d %s %q", store, path, first.StatusCode, first.xcache(), second.StatusCode, second.xcache(), second.body)
			}
		}
		if store != "embedded" {
			return
		}
		// Past its freshness, a stored 503 goes to the origin again even
		// within grace; a 200 is served stale.
		clock.advance(11 * time.Minute)
		if r := c.get("/s/503/fresh"); r.xcache() == "STALE" || r.xcache() == "HIT" {
			t.Fatalf("%s: stale 503 served: %s", store, r.xcache())
		}
		if r := c.get("/s/200/fresh"); r.xcache() != "STALE" {
			t.Fatalf("%s: stale 200 within grace: %s", store, r.xcache())
		}
	})
}

// RFC 9111 §3.5: a response to a request with Authorization is stored, for
// everyone, only when it carries public, must-revalidate or s-maxage; the
// request itself always goes to the origin.
func TestAuthorizationStoredWhenAllowed(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		var n atomic.Int64
		o.handle("/a/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
			fmt.Fprintf(w, "#%d", n.Add(1))
		})
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		for i, tc := range []struct {
			cc     string
			stored bool
		}{
			{"max-age=600", false},
			{"max-age=600,+public", true},
			{"max-age=600,+must-revalidate", true},
			{"s-maxage=600", true},
			{"public,+max-age=600,+private", false},
		} {
			path := fmt.Sprintf("/a/%d?cc=%s", i, tc.cc)
			if r := c.get(path, "Authorization: Basic YWxpY2U6cHc="); r.xcache() != "BYPASS" {
				t.Fatalf("%s %s with Authorization: %s", store, tc.cc, r.xcache())
			}
			want := "MISS"
			if tc.stored {
				want = "HIT"
			}
			if r := getUntil(t, c, want, path); r.xcache() != want {
				t.Fatalf("%s %s anonymous after: %s %q", store, tc.cc, r.xcache(), r.body)
			}
			// A request with Authorization is never answered from storage.
			if r := c.get(path, "Authorization: Basic Ym9iOnB3"); r.xcache() != "BYPASS" {
				t.Fatalf("%s %s second Authorization: %s", store, tc.cc, r.xcache())
			}
		}
	})
}

// The request's Cache-Control is obeyed only with RequestCacheControl. The
// page's age comes from the origin's Age field (memcached keeps real time,
// so no clock is injected).
func TestRequestDirectives(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		for _, obey := range []bool{false, true} {
			o := newOrigin(t)
			var n atomic.Int64
			o.handle("/r/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("Age", r.URL.Query().Get("age"))
				w.Header().Set("ETag", `"e"`)
				if r.Header.Get("If-None-Match") == `"e"` {
					w.WriteHeader(304)
					return
				}
				fmt.Fprintf(w, "#%d", n.Add(1))
			})
			p := startProxy(t, o.addr(), func(c *server.Config) {
				mod(c)
				c.RequestCacheControl = obey
			})
			c := dial(t, p.addr)
			base := fmt.Sprintf("/r/%v/", obey) // one memcached serves both rounds
			// only-if-cached on a miss: 504, nothing fetched.
			r := c.get(base+"1", "Cache-Control: only-if-cached")
			if obey && (r.StatusCode != 504 || n.Load() != 0) {
				t.Fatalf("%s: only-if-cached miss: %d %s %q, %d fetches", store, r.StatusCode, r.xcache(), r.body, n.Load())
			}
			aged := base + "2?age=10" // 10 s old, 590 s of freshness left
			c.get(aged)
			getUntil(t, c, "HIT", aged)
			for _, tc := range []struct {
				cc    string
				label string // when obeyed
			}{
				{"max-age=5", "REVALIDATED"},
				{"max-age=600", "HIT"},
				{"min-fresh=1000", "REVALIDATED"},
				{"no-cache", "REVALIDATED"},
				{"no-store", "PASS"},
				{"only-if-cached", "HIT"},
			} {
				r := getUntil(t, c, "HIT", aged) // a revalidated page lands asynchronously
				r = c.get(aged, "Cache-Control: "+tc.cc)
				want := "HIT"
				if obey {
					want = tc.label
				}
				if r.xcache() != want || r.StatusCode != 200 {
					t.Fatalf("%s obey=%v %s: %d %s", store, obey, tc.cc, r.StatusCode, r.xcache())
				}
			}
			getUntil(t, c, "HIT", aged)
			if r := c.get(aged, "Pragma: no-cache"); obey && r.xcache() != "REVALIDATED" {
				t.Fatalf("%s: Pragma: no-cache: %s", store, r.xcache())
			}
			if !obey {
				continue
			}
			// max-stale serves a stale page; without it, the origin is asked.
			// Stored with one second of freshness: wait for it to pass.
			stale := base + "3?age=599"
			c.get(stale)
			var got *response
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				got = c.get(stale, "Cache-Control: max-stale=7200")
				if got.xcache() == "STALE" {
					break
				}
			}
			if got.xcache() != "STALE" {
				t.Fatalf("%s: max-stale: %s", store, got.xcache())
			}
			// Once a second stale (whole seconds): beyond max-stale=0.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				got = c.get(stale, "Cache-Control: max-stale=0, only-if-cached")
				if got.StatusCode != 200 || got.xcache() != "STALE" {
					break
				}
			}
			if got.StatusCode != 504 {
				t.Fatalf("%s: stale beyond max-stale, only-if-cached: %d %s", store, got.StatusCode, got.xcache())
			}
		}
	})
}

// Every response says what the cache did in Cache-Status (RFC 9211).
func TestCacheStatus(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		o.handle("/cs/", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/cs/private":
				w.Header().Set("Cache-Control", "private")
			case "/cs/vary":
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("Vary", "Foo")
			case "/cs/etag":
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("ETag", `"e"`)
				if r.Header.Get("If-None-Match") == `"e"` {
					w.WriteHeader(304)
					return
				}
			default:
				w.Header().Set("Cache-Control", "max-age=600")
			}
			fmt.Fprint(w, "page")
		})
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		check := func(r *response, want string) {
			t.Helper()
			// A second may pass between store and hit: ttl=600 matches 598..600.
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), "ttl=600", "ttl=(600|599|598)") + "$"
			if got := r.Header.Get("Cache-Status"); !regexp.MustCompile(re).MatchString(got) {
				t.Fatalf("%s: Cache-Status %q, want %q", store, got, want)
			}
		}
		check(c.get("/cs/a"), "mcpage; fwd=uri-miss; fwd-status=200; stored; ttl=600")
		check(getUntil(t, c, "HIT", "/cs/a"), "mcpage; hit; ttl=600")
		check(c.get("/cs/private"), `mcpage; fwd=uri-miss; fwd-status=200; detail="private"`)
		check(c.get("/cs/vary", "Foo: 1"), "mcpage; fwd=uri-miss; fwd-status=200; stored; ttl=600")
		getUntil(t, c, "HIT", "/cs/vary", "Foo: 1")
		check(c.get("/cs/vary", "Foo: 2"), "mcpage; fwd=vary-miss; fwd-status=200; stored; ttl=600")
		check(c.get("/cs/a", "Authorization: Basic eDp5"), `mcpage; fwd=bypass; fwd-status=200; detail="authorization"`)
		c.send(request("POST", "/cs/post", "Content-Length: 0"))
		check(c.read("POST"), "mcpage; fwd=method; fwd-status=200")
		c.get("/cs/etag")
		getUntil(t, c, "HIT", "/cs/etag")
		c.send(request("PURGE", "/cs/etag"))
		c.read("PURGE")
		check(c.get("/cs/etag"), "mcpage; fwd=stale; fwd-status=304; stored; ttl=600")
	})
}

// An HTTP/1.0 client that asks for keep-alive is told the connection stays
// open, on misses, hits and passes alike; one that does not is closed.
func TestHTTP10KeepAlive(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		o.handle("/k/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			fmt.Fprint(w, "page")
		})
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		get10 := func(method, path, conn string) *response {
			t.Helper()
			c.send(method + " " + path + " HTTP/1.0\r\nHost: example.test\r\n" + conn + "\r\n")
			return c.read(method)
		}
		for i, method := range []string{"GET", "GET", "POST"} {
			r := get10(method, "/k/"+store, "Connection: keep-alive\r\n")
			if r.Header.Get("Connection") != "keep-alive" || r.Close || string(r.body) != "page" {
				t.Fatalf("%s %d %s: Connection %q close %v %s", store, i, method, r.Header.Get("Connection"), r.Close, r.xcache())
			}
		}
		r := get10("GET", "/k/"+store, "")
		if !r.Close || string(r.body) != "page" { // net/http reads "Connection: close" into Close
			t.Fatalf("%s: without keep-alive: close %v %s", store, r.Close, r.xcache())
		}
		c.expectClosed(5 * time.Second)
	})
}

// A HEAD for a stale page revalidates it as HEAD (RFC 9111 §4.3.5): a 200
// with the same strong ETag updates the stored fields and freshness, and
// the stored body stays; one with another ETag drops the page.
func TestHeadUpdatesStoredPage(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		store := path.Base(t.Name())
		o := newOrigin(t)
		var gets, heads atomic.Int64
		var etag atomic.Value
		etag.Store(`"v1"`)
		o.handle("/h/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", etag.Load().(string))
			w.Header().Set("X-Version", fmt.Sprint(heads.Load()))
			if r.Method == "HEAD" {
				heads.Add(1)
				w.Header().Set("Cache-Control", "max-age=600")
				return
			}
			gets.Add(1)
			w.Header().Set("Cache-Control", "max-age=1")
			fmt.Fprint(w, "body")
		})
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		path := "/h/" + store
		c.get(path)
		// Wait for the one second of freshness to pass.
		var r *response
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			c.send(request("HEAD", path))
			r = c.read("HEAD")
			if heads.Load() > 0 {
				break
			}
		}
		hr := r
		if heads.Load() != 1 || r.StatusCode != 200 || r.Header.Get("X-Version") != "0" || len(r.body) != 0 {
			t.Fatalf("%s: HEAD revalidation: %d heads, %d %s X-Version %q", store, heads.Load(), r.StatusCode, r.xcache(), r.Header.Get("X-Version"))
		}
		// Updated: fresh for 600 s now, with the stored body.
		r = getUntil(t, c, "HIT", path)
		if r.xcache() != "HIT" || string(r.body) != "body" || gets.Load() != 1 || !strings.Contains(r.Header.Get("Cache-Control"), "600") {
			t.Fatalf("%s: after HEAD update: %s %q, %d GETs, Cache-Control %q (HEAD was %s %v)", store, r.xcache(), r.body, gets.Load(), r.Header.Get("Cache-Control"), hr.xcache(), hr.Header)
		}
	})
}
