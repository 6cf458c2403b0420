package pagestore

import (
	"bytes"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// DefaultMaxBytes is EmbeddedConfig.MaxBytes's zero-value default.
const DefaultMaxBytes = 256 << 20

// EmbeddedConfig configures NewEmbedded. The zero value is usable.
type EmbeddedConfig struct {
	// MaxBytes bounds the store: the sum over entries of key length + record
	// length + a fixed per-entry overhead (160 bytes, the entry and the
	// library's node). 0 → DefaultMaxBytes (256 MiB). A page whose weight
	// exceeds MaxBytes is never stored.
	MaxBytes int64
}

// Embedded is the in-process page store: one instance shared by all event
// loops, safe for concurrent use; *Embedded implements Store, answering every
// Get synchronously, before Get returns.
//
// It is built on github.com/maypok86/otter/v2 (W-TinyLFU eviction with a
// weigher and per-entry expiry), picked over github.com/dgraph-io/ristretto/v2
// by BenchmarkChoice (choice_bench_test.go; 10 KB pages, uint64 keys; ranges
// over runs on a 2-core VM shared with other work, on which the order of the
// columns held in every run, also when load doubled every figure):
//
//	                               otter        otter, sync    ristretto
//	                               (default)    executor
//	parallel Get hit, ns/op        35-65        64-91          71-101
//	Get + 1/8 Set churn, ns/op     77-123       90-144         116-158
//	allocs per Get hit             0            0              0
//	Set then Get not visible (*)   ≤ 0.01 %     0.3-11 %       100 %
//	accounted bytes ≤ MaxBytes     yes          yes            yes
//
//	(*) new 10 KB pages into a full 1 MiB store, whose admission window
//	holds about one page; TestSetVisibleToNextGet pins 0 misses at 16 MiB.
//
// Ristretto buffers Sets and applies them asynchronously (and may drop them
// under contention), so a page is not visible to the very next Get unless the
// setter blocks in Wait: the second request for a page would miss, which a
// page cache must not do. Otter applies a Set to its hash table before
// returning.
//
// Otter's maintenance (replaying the read and write buffers into the
// eviction policy, evicting, expiring) runs where Get puts it, never on a
// goroutine of its own: otter hands each pass to an Executor, and the default
// one starts a goroutine for it. Every few dozen hits that woke an OS thread
// from the event loop (a futex call per ~8 hits at 1 KB, 37 % of the
// process's futex calls), which on a 2-core machine then competed with the
// loops and the clients. Here the executor only queues the pass, and the Get
// that queued it (or the next one, on any loop) runs it after the page has
// been handed to its handler: no goroutine, no wakeup, the same work. A page
// just Set is therefore always visible to the next Get, which runs the pass
// only after its lookup (TestSetVisibleToNextGet); running the pass inline in
// Set instead (the "sync executor" column) evicts brand-new pages that
// TinyLFU does not admit before anyone could read them. A page larger than
// otter's admission window (about 1 % of MaxBytes) in a full store may be
// evicted by the pass after that Get in favour of pages read more often;
// measured with 0.5-4 MiB pages in a full 16 MiB store, such a page needed 2
// fills before it stayed. Sets from a goroutine that never calls Get leave
// their pass to the next Get, to the writer that finds otter's write buffer
// full (it then runs maintenance itself), or to otter's once-a-second
// periodic clean-up.
//
// Keys are hashed to uint64 with hash/maphash under a per-store random seed
// (so clients cannot aim for collisions), which keeps Get free of allocation
// (a string key would need a conversion); the entry keeps the full key and a
// different key with the same hash is a miss, never a wrong page.
type Embedded struct {
	c      *otter.Cache[uint64, *entry]
	seed   maphash.Seed
	hash   func(seed maphash.Seed, key []byte) uint64 // maphash.Bytes; tests inject collisions
	max    int64
	closed atomic.Bool

	// Maintenance passes otter handed to the executor, run by Get (runTasks).
	pending atomic.Bool
	mu      sync.Mutex
	tasks   []func()
	running []func() // the other buffer, swapped with tasks to run them
}

var _ Store = (*Embedded)(nil)

// embeddedHooks are test seams, unexported.
type embeddedHooks struct {
	hash  func(seed maphash.Seed, key []byte) uint64 // nil → maphash.Bytes
	clock otter.Clock                                // nil → wall clock
}

// NewEmbedded builds an embedded store. It returns ErrBadConfig for a
// negative MaxBytes. Call Close when done with it.
func NewEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	return newEmbedded(cfg, embeddedHooks{})
}

func newEmbedded(cfg EmbeddedConfig, hooks embeddedHooks) (*Embedded, error) {
	if cfg.MaxBytes < 0 {
		return nil, ErrBadConfig
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	e := &Embedded{seed: maphash.MakeSeed(), hash: maphash.Bytes, max: cfg.MaxBytes}
	if hooks.hash != nil {
		e.hash = hooks.hash
	}
	c, err := otter.New(&otter.Options[uint64, *entry]{
		MaximumWeight: uint64(cfg.MaxBytes),
		// Set refuses weights above MaxBytes, and MaxBytes is not bounded by
		// uint32, so clamp: an entry this heavy fills any bound it fits.
		Weigher: func(_ uint64, v *entry) uint32 { return uint32(min(v.weight, math.MaxUint32)) },
		// The TTL is the entry's own; a read does not extend it.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(en otter.Entry[uint64, *entry]) time.Duration {
			return en.Value.ttl
		}),
		Clock: hooks.clock,
		// Queue maintenance for the next Get (see Embedded) instead of
		// starting a goroutine for it.
		Executor: e.queueTask,
	})
	if err != nil {
		return nil, err
	}
	e.c = c
	return e, nil
}

// Get implements Store: it calls h.PageLookup before returning, with the
// page stored under key if one is there and not expired, else nil; after
// Close with ErrClosed. rec is the stored slice itself: the handler must not
// modify it. Any goroutine may call Get; it does not allocate.
func (e *Embedded) Get(key []byte, h Handler, token uint64) {
	if e.closed.Load() {
		h.PageLookup(token, nil, 0, ErrClosed)
		return
	}
	v, ok := e.c.GetIfPresent(e.hash(e.seed, key))
	if !ok || !bytes.Equal(v.key, key) {
		h.PageLookup(token, nil, 0, nil)
	} else {
		h.PageLookup(token, v.rec, 0, nil)
	}
	if e.pending.Load() {
		e.runTasks()
	}
}

// queueTask is otter's Executor: it queues fn for the next Get. Otter calls it
// with its own locks held, so it only appends; it never runs fn.
func (e *Embedded) queueTask(fn func()) {
	e.mu.Lock()
	e.tasks = append(e.tasks, fn)
	e.pending.Store(true)
	e.mu.Unlock()
}

// runTasks runs the queued maintenance passes on the calling goroutine (a
// loop, inside Get, after the lookup was answered). A pass may queue another;
// that one waits for the next Get. The two buffers are reused, so this does
// not allocate once they have grown.
func (e *Embedded) runTasks() {
	e.mu.Lock()
	run := e.tasks
	e.tasks = e.running[:0]
	e.running = nil
	e.pending.Store(false)
	e.mu.Unlock()
	for i, fn := range run {
		run[i] = nil
		fn()
	}
	e.mu.Lock()
	if e.running == nil {
		e.running = run[:0]
	}
	e.mu.Unlock()
}

// Set implements Store. A page with ttl ≤ 0 or heavier than MaxBytes is not
// stored, and whatever key held before is removed. A different key with the
// same 64-bit hash is replaced (it becomes a miss). After Close, Set does
// nothing. Any goroutine may call Set.
func (e *Embedded) Set(key []byte, rec []byte, ttl time.Duration) {
	if e.closed.Load() {
		return
	}
	w := weigh(key, rec)
	if ttl <= 0 || w > e.max {
		e.Delete(key)
		return
	}
	e.c.Set(e.hash(e.seed, key), &entry{key: bytes.Clone(key), rec: rec, ttl: ttl, weight: w})
}

// Delete implements Store: it removes key's page. A page of another key that
// shares key's hash is left alone. Any goroutine may call Delete.
func (e *Embedded) Delete(key []byte) {
	if e.closed.Load() {
		return
	}
	e.c.ComputeIfPresent(e.hash(e.seed, key), func(old *entry) (*entry, otter.ComputeOp) {
		if bytes.Equal(old.key, key) {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// Close stops the store's background goroutine and drops every page. Later
// Gets report ErrClosed; later Sets and Deletes do nothing. Call it once no
// loop uses the store any more; calling it twice is harmless.
func (e *Embedded) Close() {
	if e.closed.Swap(true) {
		return
	}
	e.c.StopAllGoroutines()
	e.c.InvalidateAll()
}

// Len returns the number of stored pages. It first runs the cache's pending
// maintenance (evictions, expiry), so it counts every Set that returned; an
// expired page (which no Get returns) may still be counted for about a
// second, until the expiry timer wheel's bucket comes due. It is for stats and
// tests, not for a request path. Any goroutine may call it.
func (e *Embedded) Len() int {
	e.c.CleanUp()
	return e.c.EstimatedSize()
}

// Bytes returns the bytes the stored pages count against MaxBytes (keys,
// records and per-entry overhead), after running pending maintenance as Len
// does. Any goroutine may call it.
func (e *Embedded) Bytes() int64 {
	e.c.CleanUp()
	return int64(e.c.WeightedSize())
}
