package server_test

// A cluster of three real memcached processes (internal/mctest) behind one
// or two mcpage servers: records read back by another memcached client,
// placement by libmemcached's ketama, fills shared between processes, one
// origin request for a cold page across processes, purges through one
// process seen by the other, and servers killed, frozen and replaced under
// load without a wrong, failed or hung response.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// clusterHost is the Host every request of these tests carries (request()).
const clusterHost = "example.test"

// mcCluster is three memcached processes and the ketama ring over them, in
// the order the proxies list them.
type mcCluster struct {
	mcs   []*mctest.Server
	addrs []string
	ring  *ketama.Ring
}

func startCluster(t *testing.T) *mcCluster {
	t.Helper()
	c := &mcCluster{}
	var list []ketama.Server
	for i := 0; i < 3; i++ {
		s := mctest.Start(t, "-m", "64")
		c.mcs = append(c.mcs, s)
		c.addrs = append(c.addrs, s.Addr)
		list = append(list, ketama.Server{Addr: s.Addr})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	c.ring = ring
	return c
}

// clusterKey is the memcached key of path under prefix, as the proxy builds
// it for Host clusterHost.
func clusterKey(prefix, path string) []byte {
	return cachepolicy.AppendKey(nil, []byte(prefix), []byte(clusterHost), []byte(path))
}

// owner is the server libmemcached's ketama places key on.
func (c *mcCluster) owner(key []byte) int { return c.ring.Pick(key) }

// peek reads key from server i alone with an independent client (rainycape,
// binary protocol): the value and whether the server holds the key at all.
func (c *mcCluster) peek(t *testing.T, i int, key []byte) ([]byte, bool) {
	t.Helper()
	cl, err := memcache.New(c.addrs[i])
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.SetTimeout(2 * time.Second)
	it, err := cl.Get(string(key))
	switch {
	case err == memcache.ErrCacheMiss:
		return nil, false
	case err != nil:
		t.Fatalf("direct get of %q from server %d (%s): %v", key, i, c.addrs[i], err)
	}
	return it.Value, true
}

// decodeRecord decodes a value read with peek.
func decodeRecord(t *testing.T, v []byte) *pagerecord.Record {
	t.Helper()
	var r pagerecord.Record
	if err := pagerecord.Decode(v, &r); err != nil {
		t.Fatalf("stored value (%d bytes) is not a record: %v", len(v), err)
	}
	return &r
}

// recordBody is the record's body decoded to what the origin sent.
func recordBody(t *testing.T, r *pagerecord.Record) []byte {
	t.Helper()
	if r.Encoding == pagerecord.Identity {
		return r.Body
	}
	b, err := pagerecord.AppendDecoded(nil, r.Body, r.Encoding, 1<<24)
	if err != nil {
		t.Fatalf("stored %s body does not decode: %v", r.Encoding, err)
	}
	return b
}

// storeSet counts the lookups one proxy starts (Store.Get calls; the
// retries of lookups parked behind another process's fill are internal to
// the store and not counted).
type storeSet struct {
	gets atomic.Int64
}

// countingStore is an mcstore.Store whose lookups are counted; every other
// method, and so every optional pagestore hook, is the Store's own.
type countingStore struct {
	*mcstore.Store
	gets *atomic.Int64
}

func (s countingStore) Get(key []byte, h pagestore.Handler, token uint64) {
	s.gets.Add(1)
	s.Store.Get(key, h, token)
}

// defaultMC and defaultStore are what most tests here run with: generous
// operation timeouts (a loaded -race run must not turn lookups into
// misses), fill election on.
var (
	defaultMC    = mcclient.Config{OpTimeout: time.Second, ConnectTimeout: time.Second, RetryInterval: 200 * time.Millisecond}
	defaultStore = mcstore.Config{SweepEvery: 5 * time.Millisecond, FillTTL: 10, FillWait: time.Second}
)

// stores makes a proxy keep its pages in the cluster, the way cmd/mcpage
// wires -memcached, with mc and st; set (optional) counts its lookups.
func (c *mcCluster) stores(mc mcclient.Config, st mcstore.Config, set *storeSet) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(el, c.ring, mc)
			if err != nil {
				panic(err)
			}
			s := mcstore.New(lc, st)
			if set == nil {
				return s
			}
			return countingStore{Store: s, gets: &set.gets}
		}
	}
}

// clusterBody is the origin's page for a request target: a function of the
// target alone, with binary bytes (NUL, CR LF, 0xFF, every byte value), of
// 64 B to about 8 KiB, a few up to ~190 KiB; some are compressible runs,
// some pseudo-random.
func clusterBody(target string) []byte {
	h := sha256.Sum256([]byte(target))
	n := 64 + int(binary.BigEndian.Uint16(h[:2]))%8000
	if h[4] < 16 { // one in 16: up to ~190 KiB, read from memcached in several reads
		n = 64 + 3*int(binary.BigEndian.Uint16(h[:2]))
	}
	b := make([]byte, 0, n+len(target)+64)
	b = append(b, target...)
	b = append(b, 0, '\r', '\n', 0xff)
	random := h[2]&1 == 1
	for i := 0; len(b) < n; i++ {
		if random {
			h = sha256.Sum256(h[:])
			b = append(b, h[:]...)
			continue
		}
		b = append(b, byte(i))
		if i%97 == 0 {
			b = append(b, target...)
		}
	}
	return b
}

// clusterType is the page's Content-Type: text (stored gzip'd when large
// enough) or an image type (never compressed by the proxy).
func clusterType(target string) string {
	if sha256.Sum256([]byte(target))[3]&1 == 0 {
		return "text/html; charset=utf-8"
	}
	return "image/x-test"
}

// clusterOrigin serves clusterBody for every target, storable for 10 min.
func clusterOrigin(t *testing.T) *origin {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", clusterType(r.RequestURI))
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(clusterBody(r.RequestURI))
	})
	return o
}

// checkPage reports what is wrong with a response for target, nil when it
// is the origin's page exactly.
func checkPage(status int, h http.Header, body []byte, target string) error {
	if status != 200 {
		return fmt.Errorf("%s: status %d (X-Cache %s)", target, status, h.Get("X-Cache"))
	}
	switch ce := h.Get("Content-Encoding"); ce {
	case "":
	case "gzip":
		b, err := pagerecord.AppendDecoded(nil, body, pagerecord.Gzip, 1<<24)
		if err != nil {
			return fmt.Errorf("%s: gzip body does not decode: %v", target, err)
		}
		body = b
	default:
		return fmt.Errorf("%s: Content-Encoding %q", target, ce)
	}
	if want := clusterBody(target); !bytes.Equal(body, want) {
		return fmt.Errorf("%s: foreign or corrupt body (X-Cache %s): %d bytes, want %d; starts %q",
			target, h.Get("X-Cache"), len(body), len(want), body[:min(len(body), 48)])
	}
	if ct := h.Get("Content-Type"); ct != clusterType(target) {
		return fmt.Errorf("%s: Content-Type %q, want %q", target, ct, clusterType(target))
	}
	return nil
}

func mustPage(t *testing.T, r *response, target string) {
	t.Helper()
	if err := checkPage(r.StatusCode, r.Header, r.body, target); err != nil {
		t.Fatal(err)
	}
}

// waitStored waits until server i holds a page under key and returns its
// record (a ms lands asynchronously after the response).
func (c *mcCluster) waitStored(t *testing.T, i int, key []byte) *pagerecord.Record {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if v, ok := c.peek(t, i, key); ok && len(v) > 0 {
			return decodeRecord(t, v)
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %d (%s) never held a page under %q", i, c.addrs[i], key)
		}
	}
}

// 1. A miss then a hit through a three-server cluster; what mcpage stored is
// read back under the page's key, from the server ketama names, by another
// memcached client, and is the page: status, content type, body bytes.
func TestClusterMissThenHitCrossClient(t *testing.T) {
	cl := startCluster(t)
	o := clusterOrigin(t)
	p := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, nil))
	encodings := map[pagerecord.Encoding]int{}
	for i := 0; i < 10; i++ {
		target := fmt.Sprintf("/one/%d?x=%d", i, i*i)
		c := dial(t, p.addr)
		r := c.get(target)
		if r.xcache() != "MISS" {
			t.Fatalf("%s: first request %s", target, r.xcache())
		}
		mustPage(t, r, target)
		mustPage(t, waitHit(t, c, target), target)
		r = c.get(target, "Accept-Encoding: gzip")
		if r.xcache() != "HIT" {
			t.Fatalf("%s: gzip-accepting request after a hit: %s", target, r.xcache())
		}
		mustPage(t, r, target)

		key := clusterKey("", target)
		rec := decodeRecord(t, mustPeek(t, cl, cl.owner(key), key))
		if rec.Status != 200 {
			t.Fatalf("%s: stored status %d", target, rec.Status)
		}
		if ct := string(rec.Lookup("Content-Type")); ct != clusterType(target) {
			t.Fatalf("%s: stored Content-Type %q, want %q", target, ct, clusterType(target))
		}
		if b := recordBody(t, rec); !bytes.Equal(b, clusterBody(target)) {
			t.Fatalf("%s: stored body (%s, %d bytes decoded) is not the page (%d bytes)", target, rec.Encoding, len(b), len(clusterBody(target)))
		}
		encodings[rec.Encoding]++
		if n := o.hits(strings.SplitN(target, "?", 2)[0]); n != 1 {
			t.Fatalf("%s: origin saw %d requests, want 1", target, n)
		}
	}
	if encodings[pagerecord.Identity] == 0 || encodings[pagerecord.Gzip] == 0 {
		t.Fatalf("pages stored as %v: want both identity and gzip records", encodings)
	}
}

func mustPeek(t *testing.T, cl *mcCluster, i int, key []byte) []byte {
	t.Helper()
	v, ok := cl.peek(t, i, key)
	if !ok || len(v) == 0 {
		t.Fatalf("server %d (%s), ketama's choice, has no page under %q", i, cl.addrs[i], key)
	}
	return v
}

// 2. Every page lands on the server libmemcached's ketama names for its key
// (prefix + host + target, or the digest form for a long target), and on no
// other server.
func TestClusterKeysOnKetamaServer(t *testing.T) {
	cl := startCluster(t)
	o := clusterOrigin(t)
	const prefix = "mcp1:"
	p := startProxy(t, o.addr(), func(c *server.Config) {
		cl.stores(defaultMC, defaultStore, nil)(c)
		c.KeyPrefix = prefix
	})
	var targets []string
	for i := 0; i < 60; i++ {
		targets = append(targets, fmt.Sprintf("/k/%d?q=%x", i, i*7919))
	}
	for i := 0; i < 3; i++ { // too long for a plain key: the digest form
		targets = append(targets, fmt.Sprintf("/long/%d/%s", i, strings.Repeat("abcdefghij", 30)))
	}
	c := dial(t, p.addr)
	for _, target := range targets {
		mustPage(t, c.get(target), target)
	}
	perServer := make([]int, len(cl.addrs))
	for _, target := range targets {
		key := clusterKey(prefix, target)
		if strings.HasPrefix(target, "/long/") && len(key) != len(prefix)+cachepolicy.DigestLen {
			t.Fatalf("%s: key %q is not the digest form", target, key)
		}
		want := cl.owner(key)
		rec := cl.waitStored(t, want, key)
		if !bytes.Equal(recordBody(t, rec), clusterBody(target)) {
			t.Fatalf("%s: the record on server %d is not the page", target, want)
		}
		for i := range cl.addrs {
			if i == want {
				continue
			}
			if v, ok := cl.peek(t, i, key); ok {
				t.Fatalf("%s: key %q is on server %d (%d bytes) as well as on ketama's server %d", target, key, i, len(v), want)
			}
		}
		perServer[want]++
	}
	for i, n := range perServer {
		if n == 0 {
			t.Fatalf("no key placed on server %d of %v: placement not exercised", i, perServer)
		}
	}
}

// 3. Two mcpage servers on one cluster: a page filled through either is a
// hit on the other, with the same bytes, and the origin is asked once.
func TestClusterFillSharedBetweenServers(t *testing.T) {
	cl := startCluster(t)
	o := clusterOrigin(t)
	a := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, nil))
	b := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, nil))
	for i := 0; i < 12; i++ {
		filler, reader := a, b
		if i%2 == 1 {
			filler, reader = b, a
		}
		target := fmt.Sprintf("/shared/%d", i)
		r := dial(t, filler.addr).get(target, "Accept-Encoding: gzip")
		if r.xcache() != "MISS" {
			t.Fatalf("%s: first request %s", target, r.xcache())
		}
		mustPage(t, r, target)
		rc := dial(t, reader.addr)
		mustPage(t, waitHit(t, rc, target), target)
		mustPage(t, rc.get(target, "Accept-Encoding: gzip"), target)
		if n := o.hits(target); n != 1 {
			t.Fatalf("%s: origin saw %d requests through two servers, want 1", target, n)
		}
	}
}

// 4. 100 concurrent requests for one cold page, half through each of two
// mcpage servers: the origin is asked at most twice (once per process at
// worst; one fill elected across processes at best). The origin holds its
// answer until the proxies have looked up all 100 requests.
func TestClusterColdPageOneFillAcrossServers(t *testing.T) {
	cl := startCluster(t)
	var sa, sb storeSet
	release := make(chan struct{})
	o := newOrigin(t)
	const target = "/hot/page"
	o.handle(target, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", clusterType(target))
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(clusterBody(target))
	})
	a := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, &sa))
	b := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, &sb))

	const clients = 100
	arrived := make(chan struct{})
	go func() {
		defer close(release)
		deadline := time.Now().Add(30 * time.Second)
		for sa.gets.Load()+sb.gets.Load() < clients {
			if time.Now().After(deadline) {
				return // the test fails below on the count
			}
			time.Sleep(time.Millisecond)
		}
		close(arrived)
	}()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	labels := make(chan string, clients)
	for i := 0; i < clients; i++ {
		addr := a.addr
		if i%2 == 1 {
			addr = b.addr
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("GET", "http://"+addr+target, nil)
			if err != nil {
				panic(err)
			}
			req.Host = clusterHost // one page (one key), whichever proxy is asked
			resp, err := hc.Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				err = checkPage(resp.StatusCode, resp.Header, body, target)
			}
			if err != nil {
				errs <- err
				return
			}
			labels <- resp.Header.Get("X-Cache")
		}()
	}
	wg.Wait()
	close(errs)
	close(labels)
	for err := range errs {
		t.Error(err)
	}
	select {
	case <-arrived:
	default:
		t.Fatalf("the proxies looked up %d of %d requests before the origin gave up waiting", sa.gets.Load()+sb.gets.Load(), clients)
	}
	count := map[string]int{}
	for l := range labels {
		count[l]++
	}
	n := o.hits(target)
	t.Logf("origin requests %d; answers %v; coalesced a %d b %d", n, count, a.Stats().Coalesced.Load(), b.Stats().Coalesced.Load())
	if n < 1 || n > 2 {
		t.Fatalf("origin saw %d requests for one cold page from %d clients over two servers, want at most 2", n, clients)
	}
}

// 5. PURGE through one server is seen by the other: after a soft purge the
// new page is served (possibly after the old one while it is refreshed,
// never anything else) and the origin is asked once; after a hard purge the
// next read is a MISS with the new page.
func TestClusterPurgeAcrossServers(t *testing.T) {
	cl := startCluster(t)
	var mu sync.Mutex
	version := map[string]int{}
	page := func(path string) string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%s version %d", path, version[path])
	}
	bump := func(path string) {
		mu.Lock()
		version[path]++
		mu.Unlock()
	}
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, page(r.URL.Path))
	})
	a := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, nil))
	b := startProxy(t, o.addr(), cl.stores(defaultMC, defaultStore, nil))
	// waitPage asks c for path until it answers want as a HIT; every answer
	// meanwhile is 200 with one of allowed.
	waitPage := func(c *client, path, want string, allowed ...string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			r := c.get(path)
			ok := r.StatusCode == 200 && string(r.body) == want
			for _, a := range allowed {
				ok = ok || r.StatusCode == 200 && string(r.body) == a
			}
			if !ok {
				t.Fatalf("%s: %d %s %q; want %q", path, r.StatusCode, r.xcache(), r.body, append([]string{want}, allowed...))
			}
			if r.xcache() == "HIT" && string(r.body) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never a HIT with %q; last %s %q", path, want, r.xcache(), r.body)
			}
		}
	}
	purge := func(c *client, path string, hard bool, want int) {
		t.Helper()
		var extra []string
		if hard {
			extra = append(extra, "X-Purge: hard")
		}
		c.send(request("PURGE", path, extra...))
		if r := c.read("PURGE"); r.StatusCode != want {
			t.Fatalf("PURGE %s (hard %v): %d %q, want %d", path, hard, r.StatusCode, r.body, want)
		}
	}
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	for i := 0; i < 6; i++ { // over the three servers
		path := fmt.Sprintf("/purged/%d", i)
		purger, reader := cb, ca
		if i%2 == 1 {
			purger, reader = ca, cb
		}
		bump(path)
		v1 := page(path)
		if r := reader.get(path); r.xcache() != "MISS" || string(r.body) != v1 {
			t.Fatalf("%s: %s %q", path, r.xcache(), r.body)
		}
		waitPage(purger, path, v1)

		// Soft: the reader eventually gets the new page, in a bounded number
		// of requests, and so does the purger; one origin request.
		bump(path)
		v2 := page(path)
		purge(purger, path, false, 200)
		waitPage(reader, path, v2, v1)
		waitPage(purger, path, v2, v1)
		if n := o.hits(path); n != 2 {
			t.Fatalf("%s: origin saw %d requests after a soft purge, want 2", path, n)
		}

		// Hard: the next read through the other server is a MISS.
		bump(path)
		v3 := page(path)
		purge(purger, path, true, 200)
		if r := reader.get(path); r.xcache() != "MISS" || string(r.body) != v3 {
			t.Fatalf("%s after a hard purge through the other server: %s %q, want MISS %q", path, r.xcache(), r.body, v3)
		}
		waitPage(purger, path, v3)
		purge(reader, path, true, 200)
		purge(purger, path, true, 404)
	}
}

// 5b. A purge through one server must also retire the other server's
// decoded copy of the page (the per-loop memo of gzip-stored pages inflated
// for clients that do not take gzip). The memo is keyed by the record's
// stored-at second and compressed length; the clock stands still here, and
// the new page compresses to the same length, as a small edit of a page
// refetched within the same second does.
func TestClusterPurgeReplacesDecodedCopy(t *testing.T) {
	for _, hard := range []bool{false, true} {
		t.Run(fmt.Sprintf("hard=%v", hard), func(t *testing.T) { testPurgeReplacesDecodedCopy(t, hard) })
	}
}

func testPurgeReplacesDecodedCopy(t *testing.T, hard bool) {
	cl := startCluster(t)
	text := func(v int) []byte {
		return []byte(strings.Repeat("<p>the same paragraph, again and again</p>\n", 80) + fmt.Sprintf("<p>price %d</p>\n", v))
	}
	// Two versions whose stored (gzip) bodies have the same length.
	v1, v2 := text(10), []byte(nil)
	for v := 11; v < 100; v++ {
		if len(pagerecord.AppendGzip(nil, text(v))) == len(pagerecord.AppendGzip(nil, v1)) {
			v2 = text(v)
			break
		}
	}
	if v2 == nil {
		t.Fatal("no second version compressing to the same length")
	}
	var cur atomic.Pointer[[]byte]
	cur.Store(&v1)
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(*cur.Load())
	})
	now := time.Now()
	frozen := func(c *server.Config) { c.Clock = func() time.Time { return now }; c.Loops = 1 }
	a := startProxy(t, o.addr(), func(c *server.Config) { cl.stores(defaultMC, defaultStore, nil)(c); frozen(c) })
	b := startProxy(t, o.addr(), func(c *server.Config) { cl.stores(defaultMC, defaultStore, nil)(c); frozen(c) })
	const path = "/article"
	key := clusterKey("", path)
	owner := cl.owner(key)

	ca, cb := dial(t, a.addr), dial(t, b.addr)
	if r := ca.get(path); r.xcache() != "MISS" || !bytes.Equal(r.body, v1) {
		t.Fatalf("first: %s %d bytes", r.xcache(), len(r.body))
	}
	// a serves the stored gzip page inflated to a client without gzip: its
	// loop memoises the decoded body.
	if r := waitHit(t, ca, path); !bytes.Equal(r.body, v1) || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("hit on a: %q, %d bytes", r.Header.Get("Content-Encoding"), len(r.body))
	}
	old := cl.waitStored(t, owner, key)
	if old.Encoding != pagerecord.Gzip {
		t.Fatalf("stored as %s, want gzip", old.Encoding)
	}

	// The page changes; b purges it and refetches it (with gzip: no decode
	// on b).
	cur.Store(&v2)
	var extra []string
	if hard {
		extra = append(extra, "X-Purge: hard")
	}
	cb.send(request("PURGE", path, extra...))
	if r := cb.read("PURGE"); r.StatusCode != 200 {
		t.Fatalf("PURGE via b: %d", r.StatusCode)
	}
	var rec *pagerecord.Record
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := cb.get(path, "Accept-Encoding: gzip")
		if r.StatusCode != 200 {
			t.Fatalf("b after purge: %d", r.StatusCode)
		}
		if v, ok := cl.peek(t, owner, key); ok && len(v) > 0 {
			if rec = decodeRecord(t, v); bytes.Equal(recordBody(t, rec), v2) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the new page never reached memcached")
		}
	}
	if rec.StoredAt != old.StoredAt || len(rec.Body) != len(old.Body) {
		t.Fatalf("precondition: new record stored at %d, %d bytes; old at %d, %d bytes", rec.StoredAt, len(rec.Body), old.StoredAt, len(old.Body))
	}
	// a now reads the new record from memcached: it must serve v2.
	r := ca.get(path)
	if r.StatusCode != 200 || !bytes.Equal(r.body, v2) {
		which := "neither version"
		if bytes.Equal(r.body, v1) {
			which = "the purged version"
		}
		t.Fatalf("a after b's purge and refetch: %d %s, %s (%d bytes): a served its decoded copy of the old record",
			r.StatusCode, r.xcache(), which, len(r.body))
	}
}

// 6. Memcached servers die, hang and come back while clients load two
// mcpage servers: every response is 200 with exactly its page, none fails
// or hangs (10 s client timeout), and after each server returns hits
// resume on it by themselves.
func TestClusterServerFailuresUnderLoad(t *testing.T) {
	cl := startCluster(t)
	o := clusterOrigin(t)
	mc := mcclient.Config{
		OpTimeout:           100 * time.Millisecond,
		ConnectTimeout:      200 * time.Millisecond,
		FailureLimit:        3,
		RetryInterval:       200 * time.Millisecond,
		ReconnectBackoff:    20 * time.Millisecond,
		MaxReconnectBackoff: 200 * time.Millisecond,
	}
	st := mcstore.Config{SweepEvery: 10 * time.Millisecond, FillTTL: 10, FillWait: time.Second}
	a := startProxy(t, o.addr(), cl.stores(mc, st, nil))
	b := startProxy(t, o.addr(), cl.stores(mc, st, nil))
	proxies := []*proxy{a, b}

	var targets []string
	for i := 0; i < 120; i++ {
		targets = append(targets, fmt.Sprintf("/load/%d", i))
	}
	l := startLoad(t, []string{a.addr, b.addr}, targets, 6)
	defer l.halt()

	// resumed waits until a page never asked before, placed on server i,
	// is a HIT through both proxies and is stored on server i itself.
	probes := 0
	resumed := func(i int, phase string) {
		t.Helper()
		var target string
		for {
			probes++
			target = fmt.Sprintf("/probe/%d", probes)
			if cl.owner(clusterKey("", target)) == i {
				break
			}
		}
		cs := []*client{dial(t, a.addr), dial(t, b.addr)}
		key := clusterKey("", target)
		start := time.Now()
		for deadline := start.Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			hits := 0
			for j, c := range cs {
				r := c.get(target)
				if err := checkPage(r.StatusCode, r.Header, r.body, target); err != nil {
					t.Fatalf("%s: probe via %d: %v", phase, j, err)
				}
				if r.xcache() == "HIT" {
					hits++
				}
			}
			v, ok := cl.peek(t, i, key)
			if hits == len(cs) && ok && len(v) > 0 {
				if !bytes.Equal(recordBody(t, decodeRecord(t, v)), clusterBody(target)) {
					t.Fatalf("%s: server %d holds a wrong record for %s", phase, i, target)
				}
				t.Logf("%s: hits on server %d resumed after %v", phase, i, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: hits on server %d did not resume (hits %d/%d, stored there %v)", phase, i, hits, len(cs), ok)
			}
		}
	}

	l.await(t, 300, "warm-up")
	resumed(0, "warm-up")

	cl.mcs[0].Kill()
	l.await(t, 150, "server 0 killed")
	cl.mcs[0].Restart() // a new, empty process on the same port
	l.await(t, 50, "server 0 restarted")
	resumed(0, "server 0 restarted")

	cl.mcs[1].Freeze()
	l.await(t, 150, "server 1 frozen")
	cl.mcs[1].Thaw()
	l.await(t, 50, "server 1 thawed")
	resumed(1, "server 1 thawed")

	cl.mcs[2].Freeze()
	l.await(t, 100, "server 2 frozen")
	cl.mcs[2].Kill()
	l.await(t, 100, "server 2 killed while frozen")
	cl.mcs[2].Restart()
	l.await(t, 50, "server 2 restarted")
	resumed(2, "server 2 restarted")

	l.halt()
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d responses failed (first ones logged above)", n, l.done.Load()+n)
	}
	var errs, storeErrs int64
	for _, p := range proxies {
		errs += p.Stats().Errors.Load()
		storeErrs += p.Stats().StoreErrors.Load()
	}
	t.Logf("%d responses; %d hits; origin requests %d; failed lookups (served as misses) %d; proxy errors %d",
		l.done.Load(), l.hits.Load(), o.requests(), storeErrs, errs)
	if errs != 0 {
		t.Fatalf("the proxies generated %d error responses", errs)
	}
	if storeErrs == 0 {
		t.Fatal("no lookup ever failed: the outages were not exercised")
	}
}

// requests is how many requests the origin received, all paths.
func (o *origin) requests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.count {
		n += c
	}
	return n
}

// load is clients requesting targets through the proxies in a loop, each
// response checked.
type load struct {
	t      *testing.T
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	done   atomic.Int64 // correct responses
	hits   atomic.Int64
	failed atomic.Int64
}

func startLoad(t *testing.T, addrs, targets []string, workers int) *load {
	l := &load{t: t, stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go l.worker(w, addrs, targets)
	}
	return l
}

func (l *load) worker(w int, addrs, targets []string) {
	defer l.wg.Done()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		target := targets[(w*7919+n*31)%len(targets)]
		addr := addrs[(w+n)%len(addrs)]
		req, err := http.NewRequest("GET", "http://"+addr+target, nil)
		if err != nil {
			panic(err)
		}
		req.Host = clusterHost
		if (w+n/2)%2 == 1 {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		err = l.one(hc, req, target)
		if err != nil {
			if l.failed.Add(1) <= 10 {
				l.t.Errorf("worker %d, request %d via %s: %v", w, n, addr, err)
			}
			continue
		}
		l.done.Add(1)
	}
}

func (l *load) one(hc *http.Client, req *http.Request, target string) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: reading body: %v", target, err)
	}
	if resp.Header.Get("X-Cache") == "HIT" {
		l.hits.Add(1)
	}
	return checkPage(resp.StatusCode, resp.Header, body, target)
}

// await waits until n more responses have been checked, bounded.
func (l *load) await(t *testing.T, n int64, phase string) {
	t.Helper()
	target := l.done.Load() + n
	for deadline := time.Now().Add(30 * time.Second); l.done.Load() < target; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d of %d more responses in 30s (failed %d)", phase, n-(target-l.done.Load()), n, l.failed.Load())
		}
	}
}

// halt stops the clients and waits for them.
func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}
