package server_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if n > 2 {
		b[0], b[n-1] = 0, 0xff // NUL and high bytes at the edges, where off-by-ones live
	}
	return b
}

func TestMissThenHit(t *testing.T) {
	o := newOrigin(t)
	o.handle("/a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Custom-Thing", "Kept As Is")
		fmt.Fprint(w, "hello from origin")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	r1 := c.get("/a")
	r2 := c.get("/a")
	if r1.StatusCode != 200 || r1.xcache() != "MISS" {
		t.Fatalf("first: %d %q", r1.StatusCode, r1.xcache())
	}
	if r2.StatusCode != 200 || r2.xcache() != "HIT" {
		t.Fatalf("second: %d %q", r2.StatusCode, r2.xcache())
	}
	if string(r2.body) != "hello from origin" || !bytes.Equal(r1.body, r2.body) {
		t.Fatalf("bodies differ: %q vs %q", r1.body, r2.body)
	}
	if got := r2.Header.Get("X-Custom-Thing"); got != "Kept As Is" {
		t.Fatalf("unknown header on hit: %q", got)
	}
	if got := o.hits("/a"); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
	if r2.Header.Get("Age") == "" {
		t.Fatal("hit without Age")
	}
	// Freshness came from -ttl: the hit says so to browsers.
	if cc := r2.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "max-age=") {
		t.Fatalf("Cache-Control on default-TTL hit = %q", cc)
	}
	if r2.Header.Get("Expires") == "" {
		t.Fatal("no Expires on a default-TTL hit")
	}
}

func TestExplicitFreshnessHeadersUnchanged(t *testing.T) {
	o := newOrigin(t)
	o.handle("/e", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Age", "10")
		fmt.Fprint(w, "explicit")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.get("/e")
	r := c.get("/e")
	if r.xcache() != "HIT" {
		t.Fatalf("X-Cache %q", r.xcache())
	}
	if got := r.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "public, max-age=300" {
		t.Fatalf("Cache-Control = %q, want the origin's only", got)
	}
	if r.Header.Get("Expires") != "" {
		t.Fatal("Expires added to a page with explicit freshness")
	}
	age, err := strconv.Atoi(r.Header.Get("Age"))
	if err != nil || age < 10 || age > 20 {
		t.Fatalf("Age = %q, want the origin's 10 plus time in store", r.Header.Get("Age"))
	}
}

func TestBinaryBodiesByteExact(t *testing.T) {
	sizes := []int{0, 1, 70000, 3000000}
	o := newOrigin(t)
	bodies := map[string][]byte{}
	for _, n := range sizes {
		for _, kind := range []string{"bin", "text"} {
			path := fmt.Sprintf("/%s/%d", kind, n)
			var b []byte
			ctype := "application/octet-stream"
			if kind == "bin" {
				b = randomBytes(n, uint64(n))
			} else {
				b = bytes.Repeat([]byte("<p>compressible text \x00\xff</p>\n"), n/28+1)[:n]
				ctype = "text/html"
			}
			bodies[path] = b
			o.handle(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ctype)
				w.Write(b)
			})
		}
	}
	p := startProxy(t, o.addr(), nil)
	for path, want := range bodies {
		for _, ae := range []string{"", "Accept-Encoding: gzip"} {
			c := dial(t, p.addr)
			var extra []string
			if ae != "" {
				extra = []string{ae}
			}
			for i := 0; i < 2; i++ {
				r := c.get(path, extra...)
				if r.StatusCode != 200 {
					t.Fatalf("%s %q #%d: status %d", path, ae, i, r.StatusCode)
				}
				if ae == "" && r.Header.Get("Content-Encoding") != "" {
					t.Fatalf("%s: Content-Encoding %q sent to a client without Accept-Encoding", path, r.Header.Get("Content-Encoding"))
				}
				got := r.plain(t)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s %q #%d (%s): body differs (len %d want %d)", path, ae, i, r.xcache(), len(got), len(want))
				}
				if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
					t.Fatalf("%s: Content-Length %s for %d bytes", path, cl, len(r.body))
				}
			}
		}
		if got := o.hits(path); got != 1 {
			t.Fatalf("%s: origin saw %d requests, want 1 (stored once, served to both kinds of client)", path, got)
		}
	}
}

func TestCompressedStoreServedPerClient(t *testing.T) {
	o := newOrigin(t)
	page := bytes.Repeat([]byte("<div>some html that compresses well</div>\n"), 1000)
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("ETag", `"v1"`)
		w.Write(page)
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.get("/big")
	gz := c.get("/big", "Accept-Encoding: br;q=1.0, gzip;q=0.5")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip client got CE=%q Vary=%q", gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
	}
	if len(gz.body) >= len(page)/2 {
		t.Fatalf("gzip body %d bytes for a %d-byte page", len(gz.body), len(page))
	}
	if !bytes.Equal(gunzip(t, gz.body), page) {
		t.Fatal("gzip body differs")
	}
	// q=0 refuses gzip: decompressed for this client.
	no := c.get("/big", "Accept-Encoding: gzip;q=0, identity")
	if no.Header.Get("Content-Encoding") != "" || !bytes.Equal(no.body, page) {
		t.Fatalf("gzip;q=0 client got CE=%q len=%d", no.Header.Get("Content-Encoding"), len(no.body))
	}
	if no.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatal("decompressed hit lacks Vary: Accept-Encoding")
	}
	if o.hits("/big") != 1 {
		t.Fatalf("origin hits %d", o.hits("/big"))
	}
}

func TestUpstreamGzipStoredAsIs(t *testing.T) {
	o := newOrigin(t)
	page := bytes.Repeat([]byte("origin-compressed "), 500)
	var zb bytes.Buffer
	zw := gzipWriter(&zb)
	zw.Write(page)
	zw.Close()
	o.handle("/gz", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write(page)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("ETag", `"strong"`)
		w.Write(zb.Bytes())
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	first := c.get("/gz") // no Accept-Encoding: the proxy asks for gzip, decodes for this client
	if first.Header.Get("Content-Encoding") != "" || !bytes.Equal(first.body, page) {
		t.Fatalf("miss for identity client: CE=%q len=%d", first.Header.Get("Content-Encoding"), len(first.body))
	}
	if et := first.Header.Get("ETag"); et != `W/"strong"` {
		t.Fatalf("ETag of a decoded body = %q, want weakened", et)
	}
	hit := c.get("/gz", "Accept-Encoding: gzip")
	if hit.xcache() != "HIT" || !bytes.Equal(hit.body, zb.Bytes()) {
		t.Fatalf("gzip hit: %q, body equal to origin's gzip: %v", hit.xcache(), bytes.Equal(hit.body, zb.Bytes()))
	}
	if et := hit.Header.Get("ETag"); et != `"strong"` {
		t.Fatalf("ETag of the origin's own bytes = %q", et)
	}
	if o.hits("/gz") != 1 {
		t.Fatalf("origin hits %d", o.hits("/gz"))
	}
}

func TestNeverStored(t *testing.T) {
	o := newOrigin(t)
	cases := map[string]http.HandlerFunc{
		"/setcookie": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			fmt.Fprint(w, "user page")
		},
		"/private": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "private, max-age=600")
			fmt.Fprint(w, "private")
		},
		"/nostore": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprint(w, "nostore")
		},
		"/error500": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			fmt.Fprint(w, "boom")
		},
		"/varystar": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "User-Agent, *")
			fmt.Fprint(w, "varies")
		},
		"/error302": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(302) // not heuristically cacheable: -ttl does not apply
			fmt.Fprint(w, "moved")
		},
	}
	for path, h := range cases {
		o.handle(path, h)
	}
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	for path := range cases {
		r1 := c.get(path)
		r2 := c.get(path)
		if r2.xcache() == "HIT" || o.hits(path) != 2 {
			t.Errorf("%s: stored (second X-Cache %q, origin hits %d)", path, r2.xcache(), o.hits(path))
		}
		if !bytes.Equal(r1.body, r2.body) {
			t.Errorf("%s: bodies differ", path)
		}
		if d := r2.Header.Get("X-Cache-Detail"); !strings.HasPrefix(d, "not stored: ") {
			t.Errorf("%s: X-Cache-Detail %q", path, d)
		}
	}
	wantDetail := map[string]string{"/setcookie": "set-cookie", "/private": "private", "/nostore": "no-store", "/error500": "status", "/varystar": "vary", "/error302": "status"}
	for path, why := range wantDetail {
		if d := c.get(path).Header.Get("X-Cache-Detail"); d != "not stored: "+why {
			t.Errorf("%s: X-Cache-Detail %q, want reason %q", path, d, why)
		}
	}
	r := c.get("/setcookie")
	if got := r.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Fatalf("Set-Cookie passed through as %q, want both", got)
	}
	if r := c.get("/error500"); r.StatusCode != 500 {
		t.Fatalf("500 passed as %d", r.StatusCode)
	}
}

func TestBypass(t *testing.T) {
	o := newOrigin(t)
	o.handle("/b", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "b") })
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.get("/b") // store it
	for _, h := range []string{"Authorization: Basic eDp5", "Cookie: anything=1"} {
		r := c.get("/b", h)
		if r.xcache() != "BYPASS" {
			t.Fatalf("%s: X-Cache %q", h, r.xcache())
		}
	}
	if o.hits("/b") != 3 {
		t.Fatalf("origin hits %d, want 3", o.hits("/b"))
	}
	// Request Cache-Control and Pragma do not bypass (as in Varnish and nginx).
	if r := c.get("/b", "Cache-Control: no-cache", "Pragma: no-cache"); r.xcache() != "HIT" {
		t.Fatalf("no-cache request: X-Cache %q", r.xcache())
	}
}

func TestBypassCookieRegexp(t *testing.T) {
	o := newOrigin(t)
	o.handle("/c", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "c") })
	p := startProxy(t, o.addr(), func(c *server.Config) { c.BypassCookie = mustRegexp(`^(session|wordpress_logged_in.*)$`) })
	c := dial(t, p.addr)
	c.get("/c")
	if r := c.get("/c", "Cookie: _ga=GA1.2; theme=dark"); r.xcache() != "HIT" {
		t.Fatalf("tracking cookie: %q", r.xcache())
	}
	if r := c.get("/c", "Cookie: theme=dark; session=abc"); r.xcache() != "BYPASS" {
		t.Fatalf("session cookie: %q", r.xcache())
	}
}

func TestConditionalAndHead(t *testing.T) {
	o := newOrigin(t)
	lm := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	o.handle("/cond", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "conditional body")
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	full := c.get("/cond")
	if r := c.get("/cond", `If-None-Match: "xyz", "abc"`); r.StatusCode != 304 || len(r.body) != 0 || r.Header.Get("ETag") != `"abc"` {
		t.Fatalf("INM: %d len=%d etag=%q", r.StatusCode, len(r.body), r.Header.Get("ETag"))
	}
	if r := c.get("/cond", `If-None-Match: "nope"`); r.StatusCode != 200 {
		t.Fatalf("non-matching INM: %d", r.StatusCode)
	}
	if r := c.get("/cond", "If-Modified-Since: "+lm.Add(time.Hour).Format(http.TimeFormat)); r.StatusCode != 304 {
		t.Fatalf("IMS after LM: %d", r.StatusCode)
	}
	if r := c.get("/cond", "If-Modified-Since: "+lm.Add(-time.Hour).Format(http.TimeFormat)); r.StatusCode != 200 {
		t.Fatalf("IMS before LM: %d", r.StatusCode)
	}
	c.send(request("HEAD", "/cond"))
	h := c.read("HEAD")
	if h.StatusCode != 200 || len(h.body) != 0 {
		t.Fatalf("HEAD: %d body %d", h.StatusCode, len(h.body))
	}
	for _, name := range []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control", "X-Cache"} {
		if h.Header.Get(name) != full.Header.Get(name) && !(name == "X-Cache") {
			t.Errorf("HEAD %s = %q, GET had %q", name, h.Header.Get(name), full.Header.Get(name))
		}
	}
	if h.Header.Get("Content-Length") != strconv.Itoa(len("conditional body")) {
		t.Fatalf("HEAD Content-Length %q", h.Header.Get("Content-Length"))
	}
	// A HEAD miss fills the cache with a GET, and the next GET is a hit.
	o.handle("/headfirst", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "filled by HEAD") })
	c.send(request("HEAD", "/headfirst"))
	if r := c.read("HEAD"); r.Header.Get("Content-Length") != "14" {
		t.Fatalf("HEAD miss Content-Length %q", r.Header.Get("Content-Length"))
	}
	if r := c.get("/headfirst"); r.xcache() != "HIT" || string(r.body) != "filled by HEAD" {
		t.Fatalf("GET after HEAD: %q %q", r.xcache(), r.body)
	}
	if m := o.lastReq("/headfirst").Method; m != "GET" {
		t.Fatalf("HEAD miss sent %s upstream, want GET", m)
	}
}

func TestRevalidation(t *testing.T) {
	o := newOrigin(t)
	var full, notmod int
	o.handle("/rv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"rv1"`)
		w.Header().Set("Cache-Control", "max-age=1")
		if r.Header.Get("If-None-Match") == `"rv1"` {
			notmod++
			w.Header().Set("X-Refreshed", "yes")
			w.WriteHeader(304)
			return
		}
		full++
		fmt.Fprint(w, "revalidated body")
	})
	clock := &fakeClock{}
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Clock = clock.now })
	c := dial(t, p.addr)
	c.get("/rv")
	clock.advance(2100 * time.Millisecond) // past max-age=1: stale
	r := c.get("/rv")
	if r.StatusCode != 200 || string(r.body) != "revalidated body" {
		t.Fatalf("after 304: %d %q", r.StatusCode, r.body)
	}
	if r.xcache() != "REVALIDATED" {
		t.Fatalf("X-Cache %q", r.xcache())
	}
	if r.Header.Get("X-Refreshed") != "yes" {
		t.Fatal("stored headers not refreshed from the 304")
	}
	if full != 1 || notmod != 1 {
		t.Fatalf("origin full=%d notmod=%d, want 1 and 1", full, notmod)
	}
	if r := c.get("/rv"); r.xcache() != "HIT" {
		t.Fatalf("after freshening: %q", r.xcache())
	}
}

func TestUnsafeInvalidates(t *testing.T) {
	o := newOrigin(t)
	v := 1
	o.handle("/item", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			v++
			w.Header().Set("Location", "/other")
			w.WriteHeader(201)
			return
		}
		fmt.Fprintf(w, "v%d", v)
	})
	o.handle("/other", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "other v%d", v) })
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.get("/item")
	c.get("/other")
	if r := c.get("/item"); r.xcache() != "HIT" {
		t.Fatal("not stored")
	}
	c.send("POST /item HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nnew")
	if r := c.read("POST"); r.StatusCode != 201 || r.xcache() != "PASS" {
		t.Fatalf("POST: %d %q", r.StatusCode, r.xcache())
	}
	if r := c.get("/item"); r.xcache() != "MISS" || string(r.body) != "v2" {
		t.Fatalf("after POST: %q %q", r.xcache(), r.body)
	}
	if r := c.get("/other"); r.xcache() != "MISS" {
		t.Fatalf("Location target not invalidated: %q", r.xcache())
	}
}

func TestLongURLKey(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.RawQuery) })
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	long := "/?q=" + strings.Repeat("x", 400)
	odd := "/?q=%C3%A9%20~!$&'()*+,;=:@"
	for _, path := range []string{long, odd} {
		r1 := c.get(path)
		r2 := c.get(path)
		if r2.xcache() != "HIT" || !bytes.Equal(r1.body, r2.body) {
			t.Fatalf("%.40s: %q", path, r2.xcache())
		}
	}
	// Keys differ per URL even when only the digest form is used.
	if r := c.get(long + "y"); r.xcache() != "MISS" {
		t.Fatalf("different long URL served as %q", r.xcache())
	}
}
