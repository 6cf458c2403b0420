package server_test

// Range requests (range.go) on both stores: answered from the stored page
// (206, multipart/byteranges, 416, If-Range), fetched whole on a miss, over
// the representation the client gets (decoded for clients without gzip), and
// an origin's 206 passed through, never stored.

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// rangePage is the 100-byte body the range tests' origin serves: printable
// bytes, no two neighbours alike.
var rangePage = func() []byte {
	b := make([]byte, 100)
	for i := range b {
		b[i] = byte('!' + i%90)
	}
	return b
}()

// rangeOrigin serves body at path as a cacheable page with a strong ETag and
// a Last-Modified lm (at least a second before its Date).
func rangeOrigin(t *testing.T, path string, body []byte, lm time.Time) *origin {
	o := newOrigin(t)
	o.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm.UTC().Format(http.TimeFormat))
		w.Write(body)
	})
	return o
}

// expectPartial checks a single-range 206 for [first, last] of a page of size
// bytes whose body is page.
func expectPartial(t *testing.T, r *response, label string, first, last int, size int, page []byte) {
	t.Helper()
	want := fmt.Sprintf("bytes %d-%d/%d", first, last, size)
	if r.StatusCode != 206 || r.Header.Get("Content-Range") != want || !bytes.Equal(r.body, page[first:last+1]) {
		t.Fatalf("got %d, Content-Range %q, body %q; want 206, %q, %q", r.StatusCode, r.Header.Get("Content-Range"), r.body, want, page[first:last+1])
	}
	if r.xcache() != label {
		t.Fatalf("X-Cache %q, want %q", r.xcache(), label)
	}
	if r.ContentLength != int64(last-first+1) {
		t.Fatalf("Content-Length %d, want %d", r.ContentLength, last-first+1)
	}
}

// parts reads a multipart/byteranges body: each part's Content-Range and
// bytes, checking its Content-Type.
func parts(t *testing.T, r *response, partType string) (ranges []string, bodies [][]byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q (%v)", r.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("multipart: %v in %q", err, r.body)
		}
		if p.Header.Get("Content-Type") != partType {
			t.Fatalf("part Content-Type %q, want %q", p.Header.Get("Content-Type"), partType)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ranges = append(ranges, p.Header.Get("Content-Range"))
		bodies = append(bodies, b)
	}
}

// A Range miss fetches the whole page (no Range upstream), stores it and
// answers the range; later ranges of every kind come from the store.
func TestRangeFromStoredPage(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		lm := time.Now().Add(-time.Hour).Truncate(time.Second)
		o := rangeOrigin(t, "/r", rangePage, lm)
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)
		size := len(rangePage)

		expectPartial(t, c.get("/r", "Range: bytes=10-19"), "MISS", 10, 19, size, rangePage)
		if got := o.lastReq("/r").Header.Get("Range"); got != "" {
			t.Fatalf("the fill forwarded Range %q", got)
		}
		r := c.get("/r")
		if r.StatusCode != 200 || r.xcache() != "HIT" || !bytes.Equal(r.body, rangePage) || r.Header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("whole page: %d %s Accept-Ranges %q, %d bytes", r.StatusCode, r.xcache(), r.Header.Get("Accept-Ranges"), len(r.body))
		}
		if r.Header.Get("Content-Range") != "" {
			t.Fatalf("a 200 with Content-Range %q", r.Header.Get("Content-Range"))
		}
		expectPartial(t, c.get("/r", "Range: bytes=0-0"), "HIT", 0, 0, size, rangePage)
		expectPartial(t, c.get("/r", "Range: bytes=-5"), "HIT", size-5, size-1, size, rangePage)
		expectPartial(t, c.get("/r", "Range: bytes=95-"), "HIT", 95, size-1, size, rangePage)
		expectPartial(t, c.get("/r", "Range: bytes=90-1000"), "HIT", 90, size-1, size, rangePage)
		expectPartial(t, c.get("/r", "Range: bytes=5-9,0-6"), "HIT", 0, 9, size, rangePage) // coalesced

		r = c.get("/r", "Range: bytes=0-1, 50-52, -2")
		if r.StatusCode != 206 || r.xcache() != "HIT" || r.Header.Get("Content-Range") != "" {
			t.Fatalf("multipart: %d %s Content-Range %q", r.StatusCode, r.xcache(), r.Header.Get("Content-Range"))
		}
		if r.ContentLength != int64(len(r.body)) {
			t.Fatalf("multipart Content-Length %d for %d bytes", r.ContentLength, len(r.body))
		}
		crs, bodies := parts(t, r, "text/plain")
		wantCR := []string{"bytes 0-1/100", "bytes 50-52/100", "bytes 98-99/100"}
		wantB := []string{string(rangePage[0:2]), string(rangePage[50:53]), string(rangePage[98:])}
		if strings.Join(crs, "|") != strings.Join(wantCR, "|") || fmt.Sprintf("%q", bodies) != fmt.Sprintf("%q", wantB) {
			t.Fatalf("parts %q %q, want %q %q", crs, bodies, wantCR, wantB)
		}

		r = c.get("/r", "Range: bytes=100-")
		if r.StatusCode != 416 || r.Header.Get("Content-Range") != "bytes */100" || len(r.body) != 0 {
			t.Fatalf("unsatisfiable: %d Content-Range %q body %q", r.StatusCode, r.Header.Get("Content-Range"), r.body)
		}

		// If-Range: the strong ETag, or the Last-Modified date exactly.
		expectPartial(t, c.get("/r", "Range: bytes=1-2", `If-Range: "v1"`), "HIT", 1, 2, size, rangePage)
		expectPartial(t, c.get("/r", "Range: bytes=1-2", "If-Range: "+lm.UTC().Format(http.TimeFormat)), "HIT", 1, 2, size, rangePage)
		for _, ir := range []string{`"v0"`, `W/"v1"`, lm.Add(time.Second).UTC().Format(http.TimeFormat), "garbage", ""} {
			r = c.get("/r", "Range: bytes=1-2", "If-Range: "+ir)
			if r.StatusCode != 200 || !bytes.Equal(r.body, rangePage) {
				t.Fatalf("If-Range %q: %d %q, want the whole page", ir, r.StatusCode, r.body)
			}
		}

		// Ignored Range fields: the whole page.
		for _, rg := range []string{"bytes=5-1", "items=0-1", "bytes=" + strings.Repeat("1-1,", 17)} {
			r = c.get("/r", "Range: "+rg)
			if r.StatusCode != 200 || !bytes.Equal(r.body, rangePage) {
				t.Fatalf("Range %q: %d %q, want the whole page", rg, r.StatusCode, r.body)
			}
		}

		// If-None-Match comes first.
		if r = c.get("/r", "Range: bytes=1-2", `If-None-Match: "v1"`); r.StatusCode != 304 {
			t.Fatalf("If-None-Match with Range: %d, want 304", r.StatusCode)
		}

		// HEAD: the 206 head, no body.
		c.send(request("HEAD", "/r", "Range: bytes=10-29"))
		r = c.read("HEAD")
		if r.StatusCode != 206 || r.Header.Get("Content-Range") != "bytes 10-29/100" || r.ContentLength != 20 || len(r.body) != 0 {
			t.Fatalf("HEAD: %d %q length %d body %q", r.StatusCode, r.Header.Get("Content-Range"), r.ContentLength, r.body)
		}
		// The connection is still in step.
		expectPartial(t, c.get("/r", "Range: bytes=3-4"), "HIT", 3, 4, size, rangePage)
		if n := o.hits("/r"); n != 1 {
			t.Fatalf("origin saw %d requests, want 1", n)
		}
	})
}

// A page the origin sent plain and the proxy stored gzip'd: a client without
// gzip gets ranges of the decoded body, the origin's own bytes (its strong
// ETag holds for If-Range); a gzip client gets ranges of the gzip bytes with
// Content-Encoding: gzip and a weakened ETag (an If-Range with the origin's
// tag gets the whole page), and several ranges of them are answered whole.
// On the miss (decoded on the worker), on a hit decoded on the loop, and on
// a hit too large to decode on the loop.
func TestRangeCompressedPage(t *testing.T) {
	for _, n := range []int{4000, 400 << 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			eachStore(t, func(t *testing.T, mod func(*server.Config)) {
				page := bytes.Repeat([]byte("compressible text, "), n/19+1)[:n]
				o := rangeOrigin(t, "/z", page, time.Now().Add(-time.Hour))
				p := startProxy(t, o.addr(), mod)
				c := dial(t, p.addr)

				expectPartial(t, c.get("/z", "Range: bytes=100-199"), "MISS", 100, 199, n, page)
				r := c.get("/z", "Range: bytes=-10")
				expectPartial(t, r, "HIT", n-10, n-1, n, page)
				if r.Header.Get("Content-Encoding") != "" || r.Header.Get("ETag") != `"v1"` {
					t.Fatalf("decoded range: Content-Encoding %q ETag %q", r.Header.Get("Content-Encoding"), r.Header.Get("ETag"))
				}
				expectPartial(t, c.get("/z", "Range: bytes=0-9", `If-Range: "v1"`), "HIT", 0, 9, n, page)
				r = c.get("/z", "Range: bytes=0-1,10-11")
				if crs, bodies := parts(t, r, "text/plain"); len(crs) != 2 || string(bodies[1]) != string(page[10:12]) {
					t.Fatalf("decoded multipart: %q %q", crs, bodies)
				}

				whole := c.get("/z", "Accept-Encoding: gzip")
				if whole.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, whole.body), page) {
					t.Fatalf("whole gzip page: %q", whole.Header.Get("Content-Encoding"))
				}
				gz := whole.body
				r = c.get("/z", "Accept-Encoding: gzip", "Range: bytes=0-9")
				expectPartial(t, r, "HIT", 0, 9, len(gz), gz)
				if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("ETag") != `W/"v1"` {
					t.Fatalf("range of gzip bytes: Content-Encoding %q ETag %q", r.Header.Get("Content-Encoding"), r.Header.Get("ETag"))
				}
				r = c.get("/z", "Accept-Encoding: gzip", "Range: bytes=0-9", `If-Range: "v1"`)
				if r.StatusCode != 200 || !bytes.Equal(r.body, gz) {
					t.Fatalf("If-Range against a weakened ETag: %d, want the whole page", r.StatusCode)
				}
				r = c.get("/z", "Accept-Encoding: gzip", "Range: bytes=0-1,5-6")
				if r.StatusCode != 200 || !bytes.Equal(r.body, gz) {
					t.Fatalf("several ranges of gzip bytes: %d, want the whole page", r.StatusCode)
				}
				if n := o.hits("/z"); n != 1 {
					t.Fatalf("origin saw %d requests, want 1", n)
				}
			})
		})
	}
}

// A request that passes the cache forwards its Range and gets the origin's
// 206 as it is; an origin that answers a cacheable request with 206 anyway
// is passed through and not stored.
func TestRangeOrigin206PassedThrough(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) {
		o := newOrigin(t)
		o.handle("/file", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			http.ServeContent(w, r, "file.txt", time.Time{}, bytes.NewReader(rangePage))
		})
		o.handle("/always206", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("Content-Range", "bytes 4-9/10")
			w.WriteHeader(206)
			io.WriteString(w, "456789")
		})
		p := startProxy(t, o.addr(), mod)
		c := dial(t, p.addr)

		r := c.get("/file", "Authorization: Bearer x", "Range: bytes=2-4")
		if r.StatusCode != 206 || r.xcache() != "BYPASS" || !bytes.Equal(r.body, rangePage[2:5]) || r.Header.Get("Content-Range") != "bytes 2-4/100" {
			t.Fatalf("bypass: %d %s %q %q", r.StatusCode, r.xcache(), r.body, r.Header.Get("Content-Range"))
		}
		if got := o.lastReq("/file").Header.Get("Range"); got != "bytes=2-4" {
			t.Fatalf("the origin got Range %q", got)
		}
		if r = c.get("/file"); r.xcache() != "MISS" || r.StatusCode != 200 {
			t.Fatalf("after the bypass: %d %s, want a miss (the 206 was not stored)", r.StatusCode, r.xcache())
		}

		for i := range 2 {
			r = c.get("/always206", "Range: bytes=-6")
			if r.StatusCode != 206 || r.xcache() != "MISS" || string(r.body) != "456789" || r.Header.Get("Content-Range") != "bytes 4-9/10" {
				t.Fatalf("request %d: %d %s %q %q", i, r.StatusCode, r.xcache(), r.body, r.Header.Get("Content-Range"))
			}
		}
		if n := o.hits("/always206"); n != 2 {
			t.Fatalf("origin saw %d requests, want 2: a 206 was stored", n)
		}
	})
}
