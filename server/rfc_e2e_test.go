package server_test

// RFC 9111 behaviours on both stores: every status with explicit freshness
// is stored (5xx never served stale), heuristic freshness and -ttl only for
// heuristically cacheable statuses, responses to requests with
// Authorization stored only when they say so, and the request directives
// behind Config.RequestCacheControl.

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

func TestEveryStatusWithExplicitFreshness(t *testing.T) {
	for store, mod := range storeMods(t) {
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
		clock := &fakeClock{}
		p := startProxy(t, o.addr(), func(c *server.Config) {
			mod(c)
			c.Clock = clock.now
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
		// Past its freshness, a stored 503 goes to the origin again even
		// within grace; a 200 is served stale.
		clock.advance(11 * time.Minute)
		if r := c.get("/s/503/fresh"); r.xcache() == "STALE" || r.xcache() == "HIT" {
			t.Fatalf("%s: stale 503 served: %s", store, r.xcache())
		}
		if r := c.get("/s/200/fresh"); r.xcache() != "STALE" {
			t.Fatalf("%s: stale 200 within grace: %s", store, r.xcache())
		}
	}
}

// RFC 9111 §3.5: a response to a request with Authorization is stored, for
// everyone, only when it carries public, must-revalidate or s-maxage; the
// request itself always goes to the origin.
func TestAuthorizationStoredWhenAllowed(t *testing.T) {
	for store, mod := range storeMods(t) {
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
	}
}

// The request's Cache-Control is obeyed only with RequestCacheControl.
func TestRequestDirectives(t *testing.T) {
	for store, mod := range storeMods(t) {
		for _, obey := range []bool{false, true} {
			o := newOrigin(t)
			var n atomic.Int64
			o.handle("/r/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("ETag", `"e"`)
				if r.Header.Get("If-None-Match") == `"e"` {
					w.WriteHeader(304)
					return
				}
				fmt.Fprintf(w, "#%d", n.Add(1))
			})
			clock := &fakeClock{}
			p := startProxy(t, o.addr(), func(c *server.Config) {
				mod(c)
				c.Clock = clock.now
				c.RequestCacheControl = obey
			})
			c := dial(t, p.addr)
			base := fmt.Sprintf("/r/%v/", obey) // one memcached serves both rounds
			// only-if-cached on a miss: 504, nothing fetched.
			r := c.get(base+"1", "Cache-Control: only-if-cached")
			if obey && (r.StatusCode != 504 || n.Load() != 0) {
				t.Fatalf("%s: only-if-cached miss: %d %s %q, %d fetches", store, r.StatusCode, r.xcache(), r.body, n.Load())
			}
			c.get(base+"2")
			getUntil(t, c, "HIT", base+"2")
			clock.advance(10 * time.Second)
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
				r := c.get(base+"2", "Cache-Control: "+tc.cc)
				want := "HIT"
				if obey {
					want = tc.label
				}
				if r.xcache() != want || r.StatusCode != 200 {
					t.Fatalf("%s obey=%v %s: %d %s", store, obey, tc.cc, r.StatusCode, r.xcache())
				}
			}
			if r := c.get(base+"2", "Pragma: no-cache"); obey && r.xcache() != "REVALIDATED" {
				t.Fatalf("%s: Pragma: no-cache: %s", store, r.xcache())
			}
			// max-stale serves a stale page; without it, the origin is asked.
			clock.advance(time.Hour)
			if r := c.get(base+"2", "Cache-Control: max-stale=7200"); obey && r.xcache() != "STALE" {
				t.Fatalf("%s: max-stale: %s", store, r.xcache())
			}
			if r := c.get(base+"2", "Cache-Control: max-stale=60, only-if-cached"); obey && r.StatusCode != 504 {
				t.Fatalf("%s: stale beyond max-stale, only-if-cached: %d", store, r.StatusCode)
			}
		}
	}
}
