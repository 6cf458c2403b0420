package server_test

// Pages larger than one memcached item (stored as chunks and a manifest by
// server/mcstore), and values applications write into memcached themselves
// (raw values), through the whole proxy.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rainycape/memcache"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/mcstore"
	"github.com/mcpage/mcpage/server/pagestore"
)

// withMemcachedStore is withMemcached with the store configured by scfg, as
// cmd/mcpage wires -memcached, -mc-item-size and the -raw-* flags.
func withMemcachedStore(t *testing.T, scfg mcstore.Config, addrs ...string) func(*server.Config) {
	t.Helper()
	var list []ketama.Server
	for _, a := range addrs {
		list = append(list, ketama.Server{Addr: a})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	scfg.SweepEvery, scfg.FillTTL, scfg.FillWait, scfg.Keep = 5*time.Millisecond, 10, time.Second, server.MaxStaleKeep
	return func(c *server.Config) {
		if scfg.MaxPage == 0 {
			scfg.MaxPage = c.MaxItem
		}
		c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(el, ring, mcclient.Config{OpTimeout: time.Second, ConnectTimeout: time.Second})
			if err != nil {
				panic(err)
			}
			return mcstore.New(lc, scfg)
		}
	}
}

// randomBody is n incompressible bytes.
func randomBody(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bigOrigin serves at path a 3 MB random body (application/octet-stream:
// compressible by type, but gzip saves nothing, so it is stored identity)
// whose content is chosen by *version.
func bigOrigin(t *testing.T, path string, version *atomic.Uint64) *origin {
	o := newOrigin(t)
	o.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(randomBody(3<<20, version.Load()))
	})
	return o
}

// mcDirect is a client of the memcached servers beside the proxy.
func mcDirect(t *testing.T, addrs ...string) *mcclient.Client {
	t.Helper()
	var list []ketama.Server
	for _, a := range addrs {
		list = append(list, ketama.Server{Addr: a})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := mcclient.New(ring, mcclient.Config{OpTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// manifestAt reads the manifest stored under key.
func manifestAt(t *testing.T, cl *mcclient.Client, key []byte) (mcstore.Manifest, []byte) {
	t.Helper()
	res, err := cl.Get(key, nil, mcclient.GetOptions{})
	if err != nil || res.Status != mcclient.StatusOK {
		t.Fatalf("manifest %q: %v %v", key, res.Status, err)
	}
	var m mcstore.Manifest
	if err := mcstore.DecodeManifest(res.Value, 1<<30, &m); err != nil {
		t.Fatalf("value under %q is not a manifest: %v", key, err)
	}
	return m, res.Value
}

// expectBody asserts r is a 200 labelled label whose body is want exactly.
func expectBody(t *testing.T, what string, r *response, label string, want []byte) {
	t.Helper()
	if r.StatusCode != 200 || r.xcache() != label || !bytes.Equal(r.plain(t), want) {
		t.Fatalf("%s: %d %s, %d bytes (want %s, %d bytes, byte-exact)", what, r.StatusCode, r.xcache(), len(r.body), label, len(want))
	}
}

// A 3 MB incompressible page, larger than memcached's 1 MiB items: a MISS,
// then HITs byte-exact through the process that stored it and through
// another one sharing the memcached; the origin is asked once.
func TestChunkedPageAcrossProcesses(t *testing.T) {
	mc := mctest.Start(t, "-I", "1m")
	var version atomic.Uint64
	version.Store(1)
	o := bigOrigin(t, "/big", &version)
	want := randomBody(3<<20, 1)
	a := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{}, mc.Addr))
	b := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{}, mc.Addr))
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	expectBody(t, "first request", ca.get("/big", "Accept-Encoding: gzip"), "MISS", want)
	expectBody(t, "a, again", waitHit(t, ca, "/big"), "HIT", want)
	expectBody(t, "b", waitHit(t, cb, "/big"), "HIT", want)
	expectBody(t, "b, again", cb.get("/big", "Accept-Encoding: gzip"), "HIT", want)
	expectBody(t, "a, third", ca.get("/big"), "HIT", want)
	if n := o.hits("/big"); n != 1 {
		t.Fatalf("origin asked %d times", n)
	}
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/big"))
	if m, _ := manifestAt(t, mcDirect(t, mc.Addr), key); m.Count < 3 {
		t.Fatalf("manifest %+v", m)
	}
}

// -max-item bounds the whole page, chunked or not: a larger one is never
// stored.
func TestChunkedPageOverMaxItem(t *testing.T) {
	mc := mctest.Start(t, "-I", "1m")
	var version atomic.Uint64
	o := bigOrigin(t, "/big", &version)
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.MaxItem = 2 << 20
		withMemcachedStore(t, mcstore.Config{}, mc.Addr)(c)
	})
	c := dial(t, p.addr)
	want := randomBody(3<<20, 0)
	for i := 0; i < 3; i++ {
		expectBody(t, fmt.Sprint("request ", i), c.get("/big"), "MISS", want)
	}
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/big"))
	if res, _ := mcDirect(t, mc.Addr).Get(key, nil, mcclient.GetOptions{}); len(res.Value) != 0 {
		t.Fatalf("a page over -max-item was stored: %.4q", res.Value)
	}
}

// A torn chunk set (a chunk deleted, or overwritten with other bytes) is
// never served: the next request is a MISS answered from the origin, byte-
// exact, and the page is stored again.
func TestChunkedTornSetNeverServed(t *testing.T) {
	mc := mctest.Start(t, "-I", "1m")
	var version atomic.Uint64
	version.Store(7)
	o := bigOrigin(t, "/torn", &version)
	want := randomBody(3<<20, 7)
	p := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{}, mc.Addr))
	c := dial(t, p.addr)
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/torn"))
	rm, err := memcache.New(mc.Addr) // another client, as an operator's tool would be
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	direct := mcDirect(t, mc.Addr)
	tamper := []struct {
		name string
		do   func(chunk []byte)
	}{
		{"chunk deleted", func(chunk []byte) {
			if res, err := direct.Delete(chunk, mcclient.DeleteOptions{}); err != nil || res.Status != mcclient.StatusOK {
				t.Fatalf("delete chunk: %v %v", res.Status, err)
			}
		}},
		{"chunk overwritten", func(chunk []byte) {
			res, err := direct.Get(chunk, nil, mcclient.GetOptions{})
			if err != nil || res.Status != mcclient.StatusOK {
				t.Fatalf("get chunk: %v", err)
			}
			res.Value[100] ^= 0xff
			if _, err := direct.Set(chunk, res.Value, mcclient.SetOptions{TTL: 600}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	misses := 0
	expectBody(t, "fill", c.get("/torn"), "MISS", want)
	misses++
	for _, tc := range tamper {
		expectBody(t, tc.name+": before", waitHit(t, c, "/torn"), "HIT", want)
		m, _ := manifestAt(t, direct, key)
		tc.do(mcstore.AppendChunkKey(nil, key, m.Version, 1))
		expectBody(t, tc.name, c.get("/torn"), "MISS", want)
		misses++
		if n := o.hits("/torn"); n != misses {
			t.Fatalf("%s: origin asked %d times, want %d", tc.name, n, misses)
		}
		expectBody(t, tc.name+": stored again", waitHit(t, c, "/torn"), "HIT", want)
	}
	// The page key itself holds no page bytes, whatever a text-protocol
	// client reads there.
	if it, err := rm.Get(string(key)); err != nil || !bytes.HasPrefix(it.Value, []byte(mcstore.ManifestMagic)) {
		t.Fatalf("page key: %v", err)
	}
}

// A reader never gets a mix of two versions of a page: after the page
// changes (purged hard and refilled), an old manifest put back still gives
// the old page whole (its chunks are never overwritten), and a manifest
// naming chunks of both, or the new chunks under the old checksum, is a
// MISS answered with the current page.
func TestChunkedVersionsNeverMixed(t *testing.T) {
	mc := mctest.Start(t, "-I", "1m")
	var version atomic.Uint64
	version.Store(100)
	o := bigOrigin(t, "/mix", &version)
	pageA, pageB := randomBody(3<<20, 100), randomBody(3<<20, 200)
	p := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{}, mc.Addr))
	c := dial(t, p.addr)
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/mix"))
	direct := mcDirect(t, mc.Addr)
	expectBody(t, "A", c.get("/mix"), "MISS", pageA)
	expectBody(t, "A", waitHit(t, c, "/mix"), "HIT", pageA)
	ma, headA := manifestAt(t, direct, key)

	version.Store(200)
	c.send(request("PURGE", "/mix", "X-Purge: hard"))
	if r := c.read("PURGE"); r.StatusCode != 200 {
		t.Fatalf("PURGE: %d", r.StatusCode)
	}
	expectBody(t, "B", c.get("/mix"), "MISS", pageB)
	expectBody(t, "B", waitHit(t, c, "/mix"), "HIT", pageB)
	mb, headB := manifestAt(t, direct, key)
	if ma.Version == mb.Version {
		t.Fatal("one version for two pages")
	}

	// Written without a TTL: mg R never elects a reader to refresh such an
	// item, which would replace the manifest put back with a new page.
	put := func(k, v []byte) {
		t.Helper()
		if res, err := direct.Set(k, v, mcclient.SetOptions{}); err != nil || res.Status != mcclient.StatusOK {
			t.Fatalf("set %q: %v", k, err)
		}
	}
	// An old reader's manifest: the old page, whole.
	put(key, headA)
	expectBody(t, "old manifest", c.get("/mix"), "HIT", pageA)
	// A's manifest with chunk 1 of B in place of A's.
	chunkB1, err := direct.Get(mcstore.AppendChunkKey(nil, key, mb.Version, 1), nil, mcclient.GetOptions{})
	if err != nil || chunkB1.Status != mcclient.StatusOK {
		t.Fatal("chunk 1 of B is gone")
	}
	put(mcstore.AppendChunkKey(nil, key, ma.Version, 1), chunkB1.Value)
	expectBody(t, "A's manifest over a mixed set", c.get("/mix"), "MISS", pageB)
	expectBody(t, "refilled", waitHit(t, c, "/mix"), "HIT", pageB)
	// B's chunks under A's checksum.
	m := mb
	m.Sum = ma.Sum
	put(key, mcstore.AppendManifest(nil, &m))
	expectBody(t, "B's chunks, A's checksum", c.get("/mix"), "MISS", pageB)
	put(key, headB)
	expectBody(t, "B's own manifest", c.get("/mix"), "HIT", pageB)
}

// A manifest written by someone else (an absurd size, zero-length chunks,
// many missing chunks) is a MISS answered from the origin, with bounded
// work.
func TestChunkedHostileManifestIsMiss(t *testing.T) {
	mc := mctest.Start(t, "-I", "1m")
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "page %s", r.URL.Path)
	})
	p := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{}, mc.Addr))
	c := dial(t, p.addr)
	direct := mcDirect(t, mc.Addr)
	cases := map[string]mcstore.Manifest{
		"/huge":  {Version: 1, Total: 1 << 62, ChunkSize: 1 << 31, Count: 1 << 31},
		"/zero":  {Version: 1, Total: 1 << 20, ChunkSize: 0, Count: 1},
		"/many":  {Version: 1, Total: mcstore.MaxChunks, ChunkSize: 1, Count: mcstore.MaxChunks},
		"/large": {Version: 1, Total: 1 << 30, ChunkSize: 1 << 22, Count: 256},
	}
	for path, m := range cases {
		key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte(path))
		if _, err := direct.Set(key, mcstore.AppendManifest(nil, &m), mcclient.SetOptions{TTL: 600}); err != nil {
			t.Fatal(err)
		}
		r := c.get(path)
		if r.StatusCode != 200 || r.xcache() != "MISS" || string(r.body) != "page "+path {
			t.Fatalf("%s: %d %s %q", path, r.StatusCode, r.xcache(), r.body)
		}
		expectBody(t, path+" refilled", waitHit(t, c, path), "HIT", []byte("page "+path))
	}
}

// Values an application writes under a page's key without a record head are
// served as the body (mod_mcpage's convention), with -raw-content-type, and
// gzip-coded when their client flags carry -raw-gzip-flag (nginx's
// memcached_gzip_flag): decoded for a client that does not take gzip. The
// origin is never asked.
func TestRawValuesFromApplications(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "from the origin")
	})
	p := startProxy(t, o.addr(), withMemcachedStore(t, mcstore.Config{RawGzipFlag: 2, RawContentType: mcstore.DefaultRawContentType}, mc.Addr))
	app, err := memcache.New(mc.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	put := func(path string, value []byte, flags uint32) {
		t.Helper()
		key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte(path))
		if err := app.Set(&memcache.Item{Key: string(key), Value: value, Flags: flags, Expiration: 300}); err != nil {
			t.Fatal(err)
		}
	}
	html := bytes.Repeat([]byte("<p>written by the application</p>\n"), 100)
	var gz bytes.Buffer
	zw := gzipWriter(&gz)
	zw.Write(html)
	zw.Close()
	put("/x", html, 0)
	put("/gz", gz.Bytes(), 2|4)
	put("/not-gz", gz.Bytes(), 4)

	c := dial(t, p.addr)
	check := func(what string, r *response, ce string, body []byte) {
		t.Helper()
		if r.StatusCode != 200 || r.xcache() != "HIT" || r.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			r.Header.Get("Content-Encoding") != ce || !bytes.Equal(r.body, body) {
			t.Fatalf("%s: %d %s %q %q, %d bytes", what, r.StatusCode, r.xcache(), r.Header.Get("Content-Type"),
				r.Header.Get("Content-Encoding"), len(r.body))
		}
	}
	check("/x", c.get("/x"), "", html)
	check("/x with gzip", c.get("/x", "Accept-Encoding: gzip"), "", html)
	r := c.get("/gz", "Accept-Encoding: gzip")
	check("/gz to a gzip client", r, "gzip", r.body)
	if !bytes.Equal(gunzip(t, r.body), html) {
		t.Fatal("/gz: not the application's page")
	}
	check("/gz to an identity client", c.get("/gz"), "", html)
	check("/not-gz", c.get("/not-gz", "Accept-Encoding: gzip"), "", gz.Bytes())
	for _, path := range []string{"/x", "/gz", "/not-gz"} {
		if n := o.hits(path); n != 0 {
			t.Fatalf("%s: origin asked %d times", path, n)
		}
	}
}
