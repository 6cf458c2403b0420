package mcstore

// Store tests over real memcached processes (internal/mctest): a Store on one
// gnet loop, as the server runs it, and an mcclient.Client beside it to look
// at and tamper with what is stored.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// env is a Store on its own loop over some memcached servers.
type env struct {
	t    *testing.T
	el   gnet.EventLoop
	st   *Store
	ring *ketama.Ring
	cl   *mcclient.Client
	rec  *recorder
	next uint64
}

func newEnv(t *testing.T, cfg Config, ccfg mcclient.Config, servers ...*mctest.Server) *env {
	t.Helper()
	var list []ketama.Server
	for _, s := range servers {
		list = append(list, ketama.Server{Addr: s.Addr})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	el := mctest.EventLoops(t, &mcclient.LoopHost{}, 1)[0]
	if ccfg.OpTimeout == 0 {
		ccfg.OpTimeout = 5 * time.Second
	}
	lc, err := mcclient.NewLoopClient(el, ring, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := mcclient.New(ring, mcclient.Config{OpTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SweepEvery == 0 {
		cfg.SweepEvery = 5 * time.Millisecond
	}
	e := &env{t: t, el: el, st: New(lc, cfg), ring: ring, cl: cl, rec: &recorder{got: map[uint64][]answer{}}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // the server's sweep timer
		defer close(done)
		tk := time.NewTicker(cfg.SweepEvery)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tk.C:
				_ = el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { e.st.Sweep(now); return nil }))
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		e.on(e.st.Close)
		_ = cl.Close()
		e.rec.checkOnce(t)
	})
	return e
}

// on runs fn on the store's loop and waits for it.
func (e *env) on(fn func()) { mctest.OnLoop(e.t, e.el, fn) }

// answer is one PageLookup call, its record copied.
type answer struct {
	rec []byte
	st  pagestore.State
	err error
}

// recorder is a pagestore.Handler that keeps every answer by token.
type recorder struct {
	mu   sync.Mutex
	got  map[uint64][]answer
	cond sync.Cond
}

func (r *recorder) PageLookup(token uint64, rec []byte, st pagestore.State, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c []byte
	if rec != nil {
		c = bytes.Clone(rec)
	}
	r.got[token] = append(r.got[token], answer{c, st, err})
}

// wait returns token's first answer, failing the test after 10 s.
func (r *recorder) wait(t *testing.T, token uint64) answer {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		a := r.got[token]
		r.mu.Unlock()
		if len(a) > 0 {
			return a[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup %d never answered", token)
		}
	}
}

// checkOnce fails the test if a lookup was answered more than once.
func (r *recorder) checkOnce(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for tok, a := range r.got {
		if len(a) != 1 {
			t.Errorf("lookup %d answered %d times", tok, len(a))
		}
	}
}

// start starts a lookup of key on the loop and returns its token.
func (e *env) start(key string) uint64 {
	e.next++
	tok := e.next
	e.on(func() { e.st.Get([]byte(key), e.rec, tok) })
	return tok
}

// get looks key up and waits for the answer.
func (e *env) get(key string) answer { return e.rec.wait(e.t, e.start(key)) }

// set stores rec under key on the loop.
func (e *env) set(key string, rec []byte, ttl time.Duration) {
	e.on(func() { e.st.Set([]byte(key), rec, ttl) })
}

// settle waits until the store has nothing in flight.
func (e *env) settle() {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var n int
		e.on(func() { n = e.st.Pending() })
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("store still has %d operations pending", n)
		}
	}
}

// item reads key directly: its value, or nil when missing.
func (e *env) item(key []byte) *mcclient.Result {
	e.t.Helper()
	res, err := e.cl.Get(key, nil, mcclient.GetOptions{})
	if err != nil {
		e.t.Fatalf("get %q: %v", key, err)
	}
	if res.Status != mcclient.StatusOK {
		return nil
	}
	return &res
}

// put writes key directly.
func (e *env) put(key, value []byte, opt mcclient.SetOptions) {
	e.t.Helper()
	if res, err := e.cl.Set(key, value, opt); err != nil || res.Status != mcclient.StatusOK {
		e.t.Fatalf("set %q: %v %v", key, res.Status, err)
	}
}

// manifestOf reads and decodes the manifest under key.
func (e *env) manifestOf(key string) (Manifest, []byte) {
	e.t.Helper()
	it := e.item([]byte(key))
	if it == nil {
		e.t.Fatalf("%s: no item", key)
	}
	var m Manifest
	if err := DecodeManifest(it.Value, 1<<30, &m); err != nil {
		e.t.Fatalf("%s: %v (%.8q)", key, err, it.Value)
	}
	return m, it.Value
}

// bigRecord is a record of an incompressible n-byte body.
func bigRecord(n int, seed uint64) []byte {
	body := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	rec := pagerecord.Record{Status: 200, Header: []byte("Content-Type: application/octet-stream\r\n"),
		Body: body, StoredAt: time.Now().Unix(), TTL: 600}
	return pagerecord.AppendRecord(nil, &rec)
}

func startMC(t *testing.T) *mctest.Server { return mctest.Start(t, "-I", "1m", "-m", "128") }

// A 3 MB record is stored as chunks of ItemSize and a manifest, chunks
// living longer than the manifest, and read back byte-exact.
func TestChunkedRoundTrip(t *testing.T) {
	e := newEnv(t, Config{}, mcclient.Config{}, startMC(t))
	rec := bigRecord(3<<20, 1)
	e.set("big", rec, time.Minute)
	e.settle()
	m, _ := e.manifestOf("big")
	if m.Total != uint64(len(rec)) || m.ChunkSize != DefaultItemSize || m.Count != 4 || m.Sum != Checksum(rec) {
		t.Fatalf("manifest %+v for a %d-byte record", m, len(rec))
	}
	head, _ := e.cl.Get([]byte("big"), nil, mcclient.GetOptions{NoValue: true})
	var joined []byte
	for i := 0; i < int(m.Count); i++ {
		it := e.item(AppendChunkKey(nil, []byte("big"), m.Version, i))
		if it == nil || len(it.Value) != m.ChunkLen(i) {
			t.Fatalf("chunk %d: %v", i, it)
		}
		if it.TTL <= head.TTL || it.TTL > head.TTL+chunkTTLMargin {
			t.Fatalf("chunk %d lives %ds, manifest %ds", i, it.TTL, head.TTL)
		}
		joined = append(joined, it.Value...)
	}
	if !bytes.Equal(joined, rec) {
		t.Fatal("chunks do not make up the record")
	}
	for i := 0; i < 2; i++ { // the second from the spare buffer
		if a := e.get("big"); !bytes.Equal(a.rec, rec) || a.st != 0 || a.err != nil {
			t.Fatalf("lookup %d: %d bytes, state %d, %v", i, len(a.rec), a.st, a.err)
		}
	}
	if s := e.st.Stats(); s.ChunkedHits != 2 || s.ChunkedMisses != 0 {
		t.Fatalf("stats %+v", s)
	}
	// A record that fits one item is stored as it always was.
	small := bigRecord(1000, 2)
	e.set("big", small, time.Minute)
	e.settle()
	if a := e.get("big"); !bytes.Equal(a.rec, small) {
		t.Fatalf("small record after a chunked one: %d bytes", len(a.rec))
	}
}

// A chunk missing, overwritten with other bytes of the same length, or of
// another length makes the page a miss, never a damaged page, and the
// manifest is deleted so that the next reader fills it.
func TestChunkedTornIsMiss(t *testing.T) {
	e := newEnv(t, Config{}, mcclient.Config{}, startMC(t))
	tamper := map[string]func(key []byte, v []byte){
		"deleted": func(key, _ []byte) { _, _ = e.cl.Delete(key, mcclient.DeleteOptions{}) },
		"overwritten": func(key, v []byte) {
			v = bytes.Clone(v)
			v[len(v)/2] ^= 1
			e.put(key, v, mcclient.SetOptions{TTL: 600})
		},
		"shortened":  func(key, v []byte) { e.put(key, v[1:], mcclient.SetOptions{TTL: 600}) },
		"lengthened": func(key, v []byte) { e.put(key, append(bytes.Clone(v), 0), mcclient.SetOptions{TTL: 600}) },
	}
	for name, f := range tamper {
		for _, chunk := range []int{0, 3} {
			rec := bigRecord(3<<20, uint64(chunk))
			e.set("torn", rec, time.Minute)
			e.settle()
			if a := e.get("torn"); !bytes.Equal(a.rec, rec) {
				t.Fatalf("%s: intact page not served", name)
			}
			m, _ := e.manifestOf("torn")
			ck := AppendChunkKey(nil, []byte("torn"), m.Version, chunk)
			f(ck, e.item(ck).Value)
			if a := e.get("torn"); a.rec != nil || a.st != 0 || a.err != nil {
				t.Fatalf("%s chunk %d: served %d bytes, state %d, %v", name, chunk, len(a.rec), a.st, a.err)
			}
			e.settle()
			if e.item([]byte("torn")) != nil {
				t.Fatalf("%s chunk %d: the manifest of a torn page is still there", name, chunk)
			}
		}
	}
}

// A newer page never overwrites the chunks an older manifest names: a reader
// of either manifest gets that page whole. A manifest naming chunks of two
// pages is a miss.
func TestChunkedNeverMixed(t *testing.T) {
	e := newEnv(t, Config{}, mcclient.Config{}, startMC(t))
	a, b := bigRecord(3<<20, 10), bigRecord(3<<20, 11)
	e.set("page", a, time.Minute)
	e.settle()
	ma, headA := e.manifestOf("page")
	e.set("page", b, time.Minute)
	e.settle()
	mb, headB := e.manifestOf("page")
	if ma.Version == mb.Version {
		t.Fatal("two stores, one version")
	}
	if got := e.get("page"); !bytes.Equal(got.rec, b) {
		t.Fatal("the newer page is not served")
	}
	e.put([]byte("page"), headA, mcclient.SetOptions{TTL: 600}) // an old reader's view
	if got := e.get("page"); !bytes.Equal(got.rec, a) {
		t.Fatal("the older manifest does not give the older page whole")
	}
	// Chunk 1 of B under A's key for chunk 1: A's manifest now names a mix.
	e.put(AppendChunkKey(nil, []byte("page"), ma.Version, 1),
		e.item(AppendChunkKey(nil, []byte("page"), mb.Version, 1)).Value, mcclient.SetOptions{TTL: 600})
	if got := e.get("page"); got.rec != nil || got.err != nil {
		t.Fatalf("mixed chunk set served: %d bytes, %v", len(got.rec), got.err)
	}
	// B's chunks under a manifest with A's checksum.
	mixed := mb
	mixed.Sum = ma.Sum
	e.put([]byte("page"), AppendManifest(nil, &mixed), mcclient.SetOptions{TTL: 600})
	if got := e.get("page"); got.rec != nil || got.err != nil {
		t.Fatalf("chunks under a wrong checksum served: %d bytes", len(got.rec))
	}
	e.put([]byte("page"), headB, mcclient.SetOptions{TTL: 600})
	if got := e.get("page"); !bytes.Equal(got.rec, b) {
		t.Fatal("B's own manifest does not give B")
	}
}

// A manifest written by someone else costs at most MaxPage bytes and
// MaxChunks lookups, and is a miss: one a reader cannot parse is deleted,
// one it only may not read (too large for it, a newer layout) is left.
func TestChunkedHostileManifest(t *testing.T) {
	e := newEnv(t, Config{MaxPage: 1 << 20}, mcclient.Config{}, startMC(t))
	huge := Manifest{Version: 1, Total: 1 << 40, ChunkSize: 1<<32 - 1, Count: 256}
	tooLarge := Manifest{Version: 1, Total: 2 << 20, ChunkSize: 1 << 20, Count: 2}
	zeroChunk := Manifest{Version: 1, Total: 100, ChunkSize: 0, Count: 1}
	many := Manifest{Version: 1, Total: MaxChunks, ChunkSize: 1, Count: MaxChunks}
	tooMany := Manifest{Version: 1, Total: MaxChunks + 1, ChunkSize: 1, Count: MaxChunks + 1}
	newer := AppendManifest(nil, &many)
	newer[4] = ManifestLayout + 1
	cases := []struct {
		name    string
		v       []byte
		deleted bool
	}{
		{"huge total", AppendManifest(nil, &huge), true},
		{"over MaxPage", AppendManifest(nil, &tooLarge), false},
		{"zero chunk size", AppendManifest(nil, &zeroChunk), true},
		{"too many chunks", AppendManifest(nil, &tooMany), true},
		{"newer layout", newer, false},
		{"truncated", AppendManifest(nil, &many)[:20], true},
		{"256 missing chunks", AppendManifest(nil, &many), true},
	}
	for _, c := range cases {
		e.put([]byte("evil"), c.v, mcclient.SetOptions{TTL: 600})
		if a := e.get("evil"); a.rec != nil || a.st != 0 || a.err != nil {
			t.Fatalf("%s: %d bytes, state %d, %v", c.name, len(a.rec), a.st, a.err)
		}
		e.settle()
		var n int
		e.on(func() { n = len(e.st.fetches) + len(e.st.fetching) + e.st.getBytes })
		if n != 0 {
			t.Fatalf("%s: assembly state left behind (%d)", c.name, n)
		}
		if gone := e.item([]byte("evil")) == nil; gone != c.deleted {
			t.Fatalf("%s: manifest deleted %v, want %v", c.name, gone, c.deleted)
		}
	}
}

// Lookups of one chunked page that arrive together share one assembly, and
// each is answered once with the whole page.
func TestChunkedLookupsShareAssembly(t *testing.T) {
	e := newEnv(t, Config{}, mcclient.Config{}, startMC(t))
	rec := bigRecord(3<<20, 3)
	e.set("shared", rec, time.Minute)
	e.settle()
	const n = 20
	first := e.next + 1
	e.on(func() {
		for i := 0; i < n; i++ {
			e.next++
			e.st.Get([]byte("shared"), e.rec, e.next)
		}
	})
	for tok := first; tok < first+n; tok++ {
		if a := e.rec.wait(t, tok); !bytes.Equal(a.rec, rec) {
			t.Fatalf("lookup %d: %d bytes, %v", tok, len(a.rec), a.err)
		}
	}
	if s := e.st.Stats(); s.ChunkedHits != 1 {
		t.Fatalf("%d assemblies for %d lookups that arrived together", s.ChunkedHits, n)
	}
}

// twoServers stores a chunked page under key with its manifest on one
// server and at least one chunk on the other, and returns that other one.
func twoServers(t *testing.T, e *env, mcs []*mctest.Server, key string, rec []byte) *mctest.Server {
	t.Helper()
	for try := 0; try < 50; try++ {
		e.set(key, rec, time.Minute)
		e.settle()
		m, _ := e.manifestOf(key)
		head := e.ring.Pick([]byte(key))
		for i := 0; i < int(m.Count); i++ {
			if j := e.ring.Pick(AppendChunkKey(nil, []byte(key), m.Version, i)); j != head {
				return mcs[j]
			}
		}
	}
	t.Fatal("every chunk set landed on the manifest's server")
	return nil
}

// A chunk server that does not answer makes the lookup a miss within the
// operation timeout; the lookup is answered once.
func TestChunkedChunkServerHangs(t *testing.T) {
	mcs := []*mctest.Server{startMC(t), startMC(t)}
	e := newEnv(t, Config{}, mcclient.Config{OpTimeout: 300 * time.Millisecond, FailureLimit: -1}, mcs...)
	rec := bigRecord(3<<20, 4)
	other := twoServers(t, e, mcs, "hang", rec)
	other.Freeze()
	defer other.Thaw()
	start := time.Now()
	a := e.get("hang")
	if a.rec != nil || a.err == nil {
		t.Fatalf("%d bytes, %v; want a failed lookup", len(a.rec), a.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("answered after %v", d)
	}
}

// Close answers a lookup whose chunks are still being fetched, once, with
// an error, and writes no manifest for a chunked Set in flight.
func TestChunkedCloseInFlight(t *testing.T) {
	mcs := []*mctest.Server{startMC(t), startMC(t)}
	e := newEnv(t, Config{}, mcclient.Config{FailureLimit: -1}, mcs...)
	rec := bigRecord(3<<20, 5)
	other := twoServers(t, e, mcs, "closing", rec)
	other.Freeze()
	defer other.Thaw()
	tok := e.start("closing")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var heads, chunks int
		e.on(func() { heads, chunks = len(e.st.lookups), len(e.st.fetches) })
		if heads == 0 && chunks > 0 {
			break // the manifest is in, a chunk mg is out
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookups %d, chunk mg %d", heads, chunks)
		}
	}
	e.on(func() {
		e.st.Set([]byte("closing2"), rec, time.Minute) // some chunks to the frozen server
		e.st.Close()
		if n := e.st.Pending(); n != 0 {
			t.Errorf("%d pending after Close", n)
		}
	})
	if a := e.rec.wait(t, tok); a.rec != nil || a.err == nil {
		t.Fatalf("%d bytes, %v; want an error", len(a.rec), a.err)
	}
	other.Thaw() // whatever it was sent is answered now; nothing more is sent
	e.settle()
	if e.item([]byte("closing2")) != nil {
		t.Fatal("a manifest was written after Close")
	}
	if a := e.get("closing"); a.err != ErrClosed {
		t.Fatalf("lookup after Close: %v", a.err)
	}
}

// A chunk that memcached refuses (its -I is smaller than ItemSize) leaves no
// manifest, and a placeholder this store won (mg N) is handed back, so that
// other processes stop waiting for the page.
func TestChunkedSetFailureWritesNoManifest(t *testing.T) {
	mc := mctest.Start(t, "-I", "512k")
	e := newEnv(t, Config{FillTTL: 10}, mcclient.Config{}, mc)
	if a := e.get("refused"); a.rec != nil || a.err != nil {
		t.Fatalf("cold lookup: %v", a.err)
	}
	if it := e.item([]byte("refused")); it == nil || len(it.Value) != 0 {
		t.Fatal("no placeholder after a cold lookup")
	}
	e.set("refused", bigRecord(3<<20, 6), time.Minute)
	e.settle()
	if e.item([]byte("refused")) != nil {
		t.Fatal("manifest or placeholder left after the chunks were refused")
	}
	if s := e.st.Stats(); s.ChunkedDrops != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// A later Set or Delete of the key, on the same loop, is never undone by the
// manifest of an earlier chunked Set landing after it.
func TestChunkedSetSuperseded(t *testing.T) {
	e := newEnv(t, Config{}, mcclient.Config{}, startMC(t))
	big, small := bigRecord(3<<20, 7), bigRecord(100, 8)
	e.on(func() {
		e.st.Set([]byte("k1"), big, time.Minute)
		e.st.Delete([]byte("k1"))
		e.st.Set([]byte("k2"), big, time.Minute)
		e.st.Set([]byte("k2"), small, time.Minute)
	})
	e.settle()
	if e.item([]byte("k1")) != nil {
		t.Fatal("deleted page came back")
	}
	if it := e.item([]byte("k2")); it == nil || !bytes.Equal(it.Value, small) {
		t.Fatal("the later page was overwritten by an earlier one's manifest")
	}
}

// ChunkMemory bounds the chunked pages in flight: Sets past it are dropped,
// lookups past it wait and then get their page.
func TestChunkMemoryBound(t *testing.T) {
	e := newEnv(t, Config{ChunkMemory: 4 << 20, FillTTL: 10}, mcclient.Config{}, startMC(t))
	recs := [][]byte{bigRecord(3<<20, 20), bigRecord(3<<20, 21), bigRecord(3<<20, 22)}
	e.on(func() {
		for i, r := range recs {
			e.st.Set([]byte{'p', '0' + byte(i)}, r, time.Minute)
		}
	})
	e.settle()
	if e.item([]byte("p0")) == nil || e.item([]byte("p1")) != nil || e.item([]byte("p2")) != nil {
		t.Fatal("want only the first of three Sets past ChunkMemory stored")
	}
	if s := e.st.Stats(); s.ChunkedDrops != 2 {
		t.Fatalf("stats %+v", s)
	}
	for i := 1; i < 3; i++ {
		e.set(string([]byte{'p', '0' + byte(i)}), recs[i], time.Minute)
		e.settle()
	}
	first := e.next + 1
	e.on(func() {
		for i := range recs {
			e.next++
			e.st.Get([]byte{'p', '0' + byte(i)}, e.rec, e.next)
		}
	})
	for i := range recs {
		if a := e.rec.wait(t, first+uint64(i)); !bytes.Equal(a.rec, recs[i]) {
			t.Fatalf("page %d: %d bytes, %v", i, len(a.rec), a.err)
		}
	}
}

// A value an application wrote without a record head is served as the body
// of a 200 record, with the configured Content-Type, gzip when its client
// flags say so, fresh for the item's remaining TTL, with state 0 even when
// mg R hands this reader a win.
func TestRawValue(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e := newEnv(t, Config{Keep: time.Hour, RawGzipFlag: 2, RawContentType: "text/plain", RawTTL: 30 * time.Second,
		Clock: func() time.Time { return now }}, mcclient.Config{}, startMC(t))
	cases := []struct {
		name  string
		flags uint32
		ttl   int32
		enc   pagerecord.Encoding
		fresh uint32
	}{
		{"identity", 0, 100, pagerecord.Identity, 100},
		{"other flag bits", 5, 100, pagerecord.Identity, 100},
		{"gzip", 2 | 8, 100, pagerecord.Gzip, 100},
		{"no expiry", 0, 0, pagerecord.Identity, 30},
	}
	for _, c := range cases {
		body := []byte("<p>" + c.name + "</p>")
		e.put([]byte("raw"), body, mcclient.SetOptions{Flags: c.flags, TTL: c.ttl})
		a := e.get("raw")
		var r pagerecord.Record
		if err := pagerecord.Decode(a.rec, &r); err != nil || a.st != 0 || a.err != nil {
			t.Fatalf("%s: %v, state %d, %v", c.name, err, a.st, a.err)
		}
		if r.Status != 200 || string(r.Header) != "Content-Type: text/plain\r\n" || !bytes.Equal(r.Body, body) ||
			r.Encoding != c.enc || r.OrigEncoding != c.enc || r.StoredAt != now.Unix() || r.AgeAtStore != 0 ||
			r.TTL > c.fresh || r.TTL < c.fresh-2 {
			t.Fatalf("%s: record %+v", c.name, r)
		}
	}
	e.on(func() {
		if len(e.st.won) != 0 {
			t.Error("a win on a raw value was kept")
		}
	})
	if s := e.st.Stats(); s.RawHits != int64(len(cases)) {
		t.Fatalf("stats %+v", s)
	}
}

func TestCheckRawContentType(t *testing.T) {
	for _, ct := range []string{"text/html; charset=utf-8", "application/json", "x/y;\tq=1"} {
		if err := CheckRawContentType(ct); err != nil {
			t.Errorf("%q: %v", ct, err)
		}
	}
	for _, ct := range []string{"text/html\r\nSet-Cookie: a=b", "text/html\r\nX: y", "a\nb", "a\x00", "a\x7f"} {
		if err := CheckRawContentType(ct); err != ErrRawContentType {
			t.Errorf("%q accepted", ct)
		}
	}
}

// strictJudge is a Handler that may not be served a page being refreshed.
type strictJudge struct {
	*recorder
	mu     sync.Mutex
	judged [][]byte
}

func (j *strictJudge) MayServeWhileRefreshing(rec []byte, _ bool) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.judged = append(j.judged, bytes.Clone(rec))
	return false
}

// A chunked page's refresh is elected on its manifest (mg R) like any
// page's: the elected reader gets Refresh, the others are judged on the
// whole assembled record and, when they may not be served it, wait for the
// refresh without fetching the chunks again, until FillWait is over.
func TestChunkedRefreshElection(t *testing.T) {
	e := newEnv(t, Config{Keep: time.Hour, FillWait: 300 * time.Millisecond}, mcclient.Config{}, startMC(t))
	rec := bigRecord(3<<20, 30)
	e.set("hot", rec, time.Minute)
	e.settle()
	_, head := e.manifestOf("hot")
	e.put([]byte("hot"), head, mcclient.SetOptions{TTL: 100}) // less than Keep left: R fires
	if a := e.get("hot"); !bytes.Equal(a.rec, rec) || a.st != pagestore.Refresh {
		t.Fatalf("first reader: %d bytes, state %d", len(a.rec), a.st)
	}
	j := &strictJudge{recorder: e.rec}
	e.next++
	tok := e.next
	start := time.Now()
	e.on(func() { e.st.Get([]byte("hot"), j, tok) })
	a := e.rec.wait(t, tok)
	if !bytes.Equal(a.rec, rec) || a.st != pagestore.Refreshing || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("second reader: %d bytes, state %d, after %v", len(a.rec), a.st, time.Since(start))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.judged) != 1 || !bytes.Equal(j.judged[0], rec) {
		t.Fatalf("judged %d times", len(j.judged))
	}
	if s := e.st.Stats(); s.ChunkedHits != 3 {
		t.Fatalf("%d assemblies; want 3 (elected, judged, final)", s.ChunkedHits)
	}
}
