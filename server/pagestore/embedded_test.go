package pagestore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// result is one PageLookup call.
type result struct {
	token uint64
	rec   []byte
	err   error
}

// recorder is a Handler that copies what it is given (rec is valid only
// during the call).
type recorder struct{ got []result }

func (r *recorder) PageLookup(token uint64, rec []byte, _ State, err error) {
	var c []byte
	if rec != nil {
		c = bytes.Clone(rec)
	}
	r.got = append(r.got, result{token, c, err})
}

// get performs one Get and returns its single result.
func get(t *testing.T, s Store, key string) result {
	t.Helper()
	var r recorder
	s.Get([]byte(key), &r, 77)
	if len(r.got) != 1 || r.got[0].token != 77 {
		t.Fatalf("Get(%q): %d PageLookup calls %+v, want 1 with token 77", key, len(r.got), r.got)
	}
	return r.got[0]
}

// fakeClock is an otter.Clock the tests move by hand; it never ticks.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.now.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) advance(d time.Duration)             { c.now.Add(int64(d)) }
func newTestStore(t *testing.T, max int64, h embeddedHooks) *Embedded {
	t.Helper()
	e, err := newEmbedded(EmbeddedConfig{MaxBytes: max}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestNewEmbeddedConfig(t *testing.T) {
	if _, err := NewEmbedded(EmbeddedConfig{MaxBytes: -1}); err != ErrBadConfig {
		t.Fatalf("negative MaxBytes: err %v", err)
	}
	e, err := NewEmbedded(EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.max != DefaultMaxBytes || e.c.GetMaximum() != DefaultMaxBytes {
		t.Fatalf("zero MaxBytes gave %d / %d, want %d", e.max, e.c.GetMaximum(), DefaultMaxBytes)
	}
}

func TestSetGetDelete(t *testing.T) {
	type op struct {
		do, key, val string // do: set, get, del
		ttl          time.Duration
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"miss on empty", []op{{do: "get", key: "a"}}},
		{"set then get", []op{{do: "set", key: "a", val: "A", ttl: time.Hour}, {do: "get", key: "a", val: "A"}, {do: "get", key: "b"}}},
		{"overwrite", []op{{do: "set", key: "a", val: "1", ttl: time.Hour}, {do: "set", key: "a", val: "2", ttl: time.Hour}, {do: "get", key: "a", val: "2"}}},
		{"delete", []op{{do: "set", key: "a", val: "1", ttl: time.Hour}, {do: "del", key: "a"}, {do: "get", key: "a"}}},
		{"delete absent", []op{{do: "del", key: "a"}, {do: "get", key: "a"}}},
		{"ttl 0 removes", []op{{do: "set", key: "a", val: "1", ttl: time.Hour}, {do: "set", key: "a", val: "2", ttl: 0}, {do: "get", key: "a"}}},
		{"negative ttl removes", []op{{do: "set", key: "a", val: "1", ttl: time.Hour}, {do: "set", key: "a", val: "2", ttl: -time.Second}, {do: "get", key: "a"}}},
		{"empty key and value", []op{{do: "set", key: "", val: "", ttl: time.Hour}, {do: "get", key: "", val: ""}, {do: "get", key: "x"}}},
		{"binary key", []op{{do: "set", key: "\x00\xff k", val: "v\x00", ttl: time.Hour}, {do: "get", key: "\x00\xff k", val: "v\x00"}, {do: "get", key: "\x00\xff"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestStore(t, 1<<20, embeddedHooks{})
			for i, o := range tc.ops {
				switch o.do {
				case "set":
					e.Set([]byte(o.key), []byte(o.val), o.ttl)
				case "del":
					e.Delete([]byte(o.key))
				case "get":
					r := get(t, e, o.key)
					if r.err != nil {
						t.Fatalf("op %d: err %v", i, r.err)
					}
					if o.val == "" && o.key != "" {
						if r.rec != nil {
							t.Fatalf("op %d: Get(%q) = %q, want miss", i, o.key, r.rec)
						}
					} else if r.rec == nil || string(r.rec) != o.val {
						t.Fatalf("op %d: Get(%q) = %q (nil %v), want %q", i, o.key, r.rec, r.rec == nil, o.val)
					}
				}
			}
		})
	}
}

func TestSetCopiesKey(t *testing.T) {
	e := newTestStore(t, 1<<20, embeddedHooks{})
	key := []byte("page")
	e.Set(key, []byte("P"), time.Hour)
	copy(key, "XXXX")
	if r := get(t, e, "page"); string(r.rec) != "P" {
		t.Fatalf("after the caller reused its key buffer: %q", r.rec)
	}
	if r := get(t, e, "XXXX"); r.rec != nil {
		t.Fatal("the caller's modified buffer became a key")
	}
}

func TestTTLExpiry(t *testing.T) {
	clock := &fakeClock{}
	clock.now.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	e := newTestStore(t, 1<<20, embeddedHooks{clock: clock})
	e.Set([]byte("short"), []byte("s"), 10*time.Second)
	e.Set([]byte("long"), []byte("l"), time.Hour)
	tests := []struct {
		advance     time.Duration
		short, long bool
	}{
		{0, true, true},
		{10*time.Second - time.Nanosecond, true, true},
		{time.Nanosecond, false, true}, // exactly 10 s: expired
		{time.Hour - 10*time.Second - time.Nanosecond, false, true},
		{time.Nanosecond, false, false},
	}
	for i, tc := range tests {
		clock.advance(tc.advance)
		if got := get(t, e, "short").rec != nil; got != tc.short {
			t.Fatalf("step %d: short present %v, want %v", i, got, tc.short)
		}
		if got := get(t, e, "long").rec != nil; got != tc.long {
			t.Fatalf("step %d: long present %v, want %v", i, got, tc.long)
		}
	}
	// Expired pages leave the count once maintenance has removed them: its
	// timer wheel works in buckets of about a second, so a page may be counted
	// (never returned) for up to that long after it expired.
	clock.advance(3 * time.Second)
	if n := e.Len(); n != 0 {
		t.Fatalf("Len 3 s after everything expired = %d", n)
	}
	// Overwriting sets a new TTL from now; reads do not extend it.
	e.Set([]byte("k"), []byte("1"), 5*time.Second)
	clock.advance(4 * time.Second)
	e.Set([]byte("k"), []byte("2"), 5*time.Second)
	clock.advance(4 * time.Second)
	if r := get(t, e, "k"); string(r.rec) != "2" {
		t.Fatalf("re-set page: %q", r.rec)
	}
	clock.advance(time.Second)
	if r := get(t, e, "k"); r.rec != nil {
		t.Fatal("page outlived its TTL (reads must not extend it)")
	}
}

// present sums the weights of the pages of keys that a Get finds: the
// store's real content, measured without trusting its accounting.
func present(t *testing.T, e *Embedded, keys [][]byte) (n int, bytes int64) {
	for _, k := range keys {
		var r recorder
		e.Get(k, &r, 0)
		if r.got[0].rec != nil {
			n++
			bytes += weigh(k, r.got[0].rec)
		}
	}
	return n, bytes
}

func TestByteBound(t *testing.T) {
	const maxBytes = 1 << 20
	e := newTestStore(t, maxBytes, embeddedHooks{})
	var keys [][]byte
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		k := []byte(fmt.Sprintf("GET/churn/%d", i))
		keys = append(keys, k)
		e.Set(k, make([]byte, 1+rng.IntN(20000)), time.Hour)
		if b := e.Bytes(); b > maxBytes {
			t.Fatalf("after %d Sets Bytes() = %d > %d", i+1, b, maxBytes)
		}
	}
	if n, b := present(t, e, keys); b > maxBytes || n == 0 || b < maxBytes/4 {
		t.Fatalf("%d pages of %d bytes resident, bound %d (and the store should be in use)", n, b, maxBytes)
	}

	// Concurrent churn from several goroutines, then settle.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				e.Set(keys[(g*500+i)%len(keys)], make([]byte, 10000), time.Hour)
			}
		}(g)
	}
	wg.Wait()
	if b := e.Bytes(); b > maxBytes {
		t.Fatalf("after concurrent churn Bytes() = %d > %d", b, maxBytes)
	}
	if _, b := present(t, e, keys); b > maxBytes {
		t.Fatalf("after concurrent churn %d bytes resident > %d", b, maxBytes)
	}
}

func TestOversizedPage(t *testing.T) {
	const maxBytes = 64 << 10
	e := newTestStore(t, maxBytes, embeddedHooks{})
	key := []byte("big")
	e.Set(key, []byte("small"), time.Hour)
	// A page that alone exceeds the bound is refused, and the older page of
	// that key goes: it is stale now.
	e.Set(key, make([]byte, maxBytes), time.Hour)
	if r := get(t, e, "big"); r.rec != nil {
		t.Fatalf("oversized page stored or old page kept (%d bytes)", len(r.rec))
	}
	// The heaviest page that fits is stored.
	fit := make([]byte, maxBytes-len(key)-entryOverhead)
	e.Set(key, fit, time.Hour)
	if r := get(t, e, "big"); len(r.rec) != len(fit) {
		t.Fatalf("a page of exactly MaxBytes weight: got %d bytes", len(r.rec))
	}
	if b := e.Bytes(); b != maxBytes {
		t.Fatalf("Bytes() = %d, want %d", b, maxBytes)
	}
}

func TestSetVisibleToNextGet(t *testing.T) {
	// A full 16 MiB store of 10 KB pages, then new pages: each must be a hit
	// for the Get right after its Set (the second request for a page).
	e := newTestStore(t, 16<<20, embeddedHooks{})
	rec := make([]byte, 10<<10)
	for i := 0; i < 3000; i++ {
		e.Set([]byte(fmt.Sprintf("warm/%d", i)), rec, time.Hour)
	}
	misses := 0
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("new/%d", i)
		e.Set([]byte(k), rec, time.Hour)
		if get(t, e, k).rec == nil {
			misses++
		}
	}
	if misses != 0 {
		t.Fatalf("%d of 2000 fresh pages missed on the next Get", misses)
	}
}

func TestHashCollision(t *testing.T) {
	collide := func(maphash.Seed, []byte) uint64 { return 42 }
	e := newTestStore(t, 1<<20, embeddedHooks{hash: collide})
	e.Set([]byte("a"), []byte("A"), time.Hour)
	if r := get(t, e, "b"); r.rec != nil {
		t.Fatalf("colliding key b got a's page %q", r.rec)
	}
	if r := get(t, e, "a"); string(r.rec) != "A" {
		t.Fatalf("a: %q", r.rec)
	}
	e.Delete([]byte("b")) // must not remove a's page
	if r := get(t, e, "a"); string(r.rec) != "A" {
		t.Fatal("Delete of a colliding key removed another key's page")
	}
	e.Set([]byte("b"), []byte("B"), time.Hour) // replaces a: one slot per hash
	if r := get(t, e, "a"); r.rec != nil {
		t.Fatalf("a after b took the slot: %q", r.rec)
	}
	if r := get(t, e, "b"); string(r.rec) != "B" {
		t.Fatalf("b: %q", r.rec)
	}
	// Keys that are prefixes of one another collide too under the hook.
	e.Set([]byte("bb"), []byte("BB"), time.Hour)
	if r := get(t, e, "b"); r.rec != nil {
		t.Fatal("prefix key served")
	}
}

func TestClose(t *testing.T) {
	e := newTestStore(t, 1<<20, embeddedHooks{})
	e.Set([]byte("a"), []byte("A"), time.Hour)
	e.Close()
	if r := get(t, e, "a"); r.rec != nil || !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Get after Close: %+v", r)
	}
	e.Set([]byte("b"), []byte("B"), time.Hour)
	e.Delete([]byte("a"))
	if n := e.Len(); n != 0 {
		t.Fatalf("Len after Close = %d", n)
	}
	e.Close() // twice is harmless
}

// TestConcurrent hammers one store from several goroutines (run with -race):
// every hit must carry the page of the key asked for.
func TestConcurrent(t *testing.T) {
	e := newTestStore(t, 256<<10, embeddedHooks{})
	const keys = 300
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			var r recorder
			for i := 0; i < 3000; i++ {
				k := []byte(fmt.Sprintf("k%d", rng.IntN(keys)))
				switch rng.IntN(10) {
				case 0, 1:
					// The page names its key, so a mixed-up hit shows.
					e.Set(k, append(bytes.Clone(k), make([]byte, rng.IntN(4000))...), time.Duration(1+rng.IntN(10))*time.Second)
				case 2:
					e.Delete(k)
				default:
					r.got = r.got[:0]
					e.Get(k, &r, uint64(i))
					if len(r.got) != 1 || r.got[0].token != uint64(i) || r.got[0].err != nil ||
						(r.got[0].rec != nil && !bytes.HasPrefix(r.got[0].rec, k)) {
						bad.Add(1)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d bad lookups", n)
	}
	if b := e.Bytes(); b > 256<<10 {
		t.Fatalf("Bytes() = %d over the bound", b)
	}
}

// nopHandler discards results without allocating.
type nopHandler struct{ hits int }

func (h *nopHandler) PageLookup(_ uint64, rec []byte, _ State, _ error) {
	if rec != nil {
		h.hits++
	}
}

func TestGetAllocs(t *testing.T) {
	e := newTestStore(t, 1<<20, embeddedHooks{})
	key := []byte("GET http://example.com/some/page?x=1")
	e.Set(key, make([]byte, 10<<10), time.Hour)
	miss := []byte("GET http://example.com/absent")
	var h nopHandler
	if n := testing.AllocsPerRun(10000, func() { e.Get(key, &h, 1) }); n != 0 {
		t.Errorf("Get hit allocates %v times", n)
	}
	if h.hits < 10000 {
		t.Fatalf("only %d hits", h.hits)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Get(miss, &h, 1) }); n != 0 {
		t.Errorf("Get miss allocates %v times", n)
	}
}

// TestGetStartsNoGoroutine: hits and misses, with Sets among them, run
// otter's maintenance on the caller (Embedded's executor) instead of starting
// a goroutine for it, which would wake an OS thread from the event loop.
func TestGetStartsNoGoroutine(t *testing.T) {
	e := newTestStore(t, 1<<20, embeddedHooks{})
	rec := make([]byte, 1<<10)
	for i := 0; i < 200; i++ {
		e.Set([]byte(fmt.Sprintf("k/%d", i)), rec, time.Hour)
	}
	var h nopHandler
	keys := make([][]byte, 300) // a third of them misses
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("k/%d", i))
	}
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := created()
	for i := 0; i < 50000; i++ {
		e.Get(keys[i%len(keys)], &h, 1)
		if i%100 == 0 {
			e.Set(keys[i%len(keys)], rec, time.Hour)
		}
	}
	if n := created() - before; n != 0 {
		t.Errorf("50000 Gets and 500 Sets started %d goroutines", n)
	}
	if h.hits == 0 {
		t.Fatal("no hits")
	}
	if e.pending.Load() {
		e.runTasks()
	}
	if e.Len() == 0 {
		t.Fatal("empty store")
	}
}
