package mcclient

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient/ketama"
)

// loopEnv is a gnet engine with one loop and a LoopClient on it.
type loopEnv struct {
	t  *testing.T
	el gnet.EventLoop
	lc *LoopClient
}

func newLoopEnv(t *testing.T, ring *ketama.Ring, cfg Config) *loopEnv {
	t.Helper()
	el := mctest.EventLoops(t, &LoopHost{}, 1)[0]
	lc, err := NewLoopClient(el, ring, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &loopEnv{t: t, el: el, lc: lc}
	t.Cleanup(func() { mctest.OnLoop(t, el, lc.Close) })
	return e
}

// on runs fn on the loop and waits for it.
func (e *loopEnv) on(fn func()) { mctest.OnLoop(e.t, e.el, fn) }

// sweeper calls Sweep on the loop every d until the test ends, as a host's ticker would.
func (e *loopEnv) sweeper(d time.Duration) {
	stop := make(chan struct{})
	done := make(chan struct{})
	e.t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				_ = e.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { e.lc.Sweep(now); return nil }))
			}
		}
	}()
}

// chanHandler forwards copies of results to a channel (buffered so the loop never blocks).
type chanHandler struct{ ch chan recorded }

func newChanHandler() *chanHandler { return &chanHandler{ch: make(chan recorded, 100000)} }

func (h *chanHandler) OnResult(token uint64, res *Result) {
	r := *res
	r.Value, r.Message = nil, nil
	h.ch <- recorded{token, r, string(res.Value)}
}

func (h *chanHandler) next(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-h.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return recorded{}
	}
}

// do starts one operation on the loop and waits for its result.
func (e *loopEnv) do(start func(h Handler) error) recorded {
	e.t.Helper()
	h := newChanHandler()
	var err error
	e.on(func() { err = start(h) })
	if err != nil {
		return recorded{res: Result{Err: err}}
	}
	return h.next(e.t)
}

func TestLoopClientRoundTrips(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	e := newLoopEnv(t, ringOf(t, mc), Config{})
	lc := e.lc
	k := []byte("loop:k")
	if r := e.do(func(h Handler) error { return lc.Get(k, GetOptions{}, h, 1) }); r.res.Status != StatusMiss || r.token != 1 {
		t.Fatalf("get before set: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Set(k, []byte("v\r\n\x00"), SetOptions{Flags: 9}, h, 2) }); r.res.Status != StatusOK || r.token != 2 {
		t.Fatalf("set: %+v", r)
	}
	r := e.do(func(h Handler) error { return lc.Get(k, GetOptions{}, h, 3) })
	if r.res.Status != StatusOK || r.value != "v\r\n\x00" || r.res.Flags != 9 {
		t.Fatalf("get: %+v", r)
	}
	if v, ok := rawGet(t, mc.Addr, string(k)); !ok || v != "v\r\n\x00" {
		t.Fatalf("memcached holds %q", v)
	}
	if r := e.do(func(h Handler) error {
		return lc.Arith([]byte("loop:n"), ArithOptions{Create: true, Initial: 41}, h, 4)
	}); r.res.Number != 41 {
		t.Fatalf("arith create: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Arith([]byte("loop:n"), ArithOptions{}, h, 4) }); r.res.Number != 42 {
		t.Fatalf("arith: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Delete(k, DeleteOptions{}, h, 5) }); r.res.Status != StatusOK {
		t.Fatalf("delete: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Get(k, GetOptions{}, h, 6) }); r.res.Status != StatusMiss {
		t.Fatalf("get after delete: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Get(nil, GetOptions{}, h, 7) }); r.res.Err != ErrKeyEmpty {
		t.Fatalf("empty key: %+v", r)
	}
	if r := e.do(func(h Handler) error { return lc.Set(k, make([]byte, 1<<20+1), SetOptions{}, h, 8) }); r.res.Err != ErrValueTooLarge {
		t.Fatalf("value over MaxValueSize: %+v", r)
	}
}

// Commands started while corked, or from handlers during a read, go out in
// one write per connection.
func TestLoopClientBatching(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	e := newLoopEnv(t, ringOf(t, mc), Config{})
	lc := e.lc
	c := lc.servers[0].conns[0]
	e.on(func() { lc.Sweep(time.Now()) }) // connect ahead
	eventually(t, 5*time.Second, "connection up", func() bool {
		var up bool
		e.on(func() { up = c.phase == phaseUp })
		return up
	})
	h := newChanHandler()
	var before, during uint64
	e.on(func() {
		before = c.writes
		lc.Cork()
		for i := 0; i < 100; i++ {
			if err := lc.Set(fmt.Appendf(nil, "batch:%d", i), []byte("x"), SetOptions{}, h, uint64(i)); err != nil {
				t.Error(err)
			}
		}
		during = c.writes
		if n := lc.Pending(); n != 100 {
			t.Errorf("Pending() = %d with 100 sets queued", n)
		}
		lc.Uncork()
	})
	for i := 0; i < 100; i++ {
		if r := h.next(t); r.token != uint64(i) || r.res.Status != StatusOK {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	var after uint64
	e.on(func() { after = c.writes })
	if during != before || after != before+1 {
		t.Fatalf("writes: before %d, while corked %d, after uncork %d; want one write for 100 commands", before, during, after)
	}
	// Handlers run corked: 10 gets started from one reply leave in one write.
	fan := &fanOut{lc: lc, h: h, n: 10}
	e.on(func() {
		before = c.writes
		if err := lc.Get([]byte("batch:0"), GetOptions{}, fan, 0); err != nil {
			t.Error(err)
		}
	})
	for i := 0; i < 10; i++ {
		if r := h.next(t); r.value != "x" {
			t.Fatalf("fan-out result %d: %+v", i, r)
		}
	}
	e.on(func() { after = c.writes })
	if after != before+2 {
		t.Fatalf("%d writes for one get and a fan-out of 10, want 2", after-before)
	}
}

// fanOut starts n gets from its first result.
type fanOut struct {
	lc *LoopClient
	h  Handler
	n  int
}

func (f *fanOut) OnResult(uint64, *Result) {
	for i := 0; i < f.n; i++ {
		_ = f.lc.Get(fmt.Appendf(nil, "batch:%d", i), GetOptions{}, f.h, uint64(i))
	}
}

// chain keeps gets in flight on the loop until total have completed, each
// result starting the next one, the way a server keeps one lookup per
// waiting request.
type chain struct {
	lc        *LoopClient
	key       []byte
	total     int
	issued    int
	completed int
	failed    int
	done      chan struct{}
}

// start issues n gets (corked, as a server's read event would).
func (c *chain) start(n int) {
	c.lc.Cork()
	for i := 0; i < n; i++ {
		c.issue()
	}
	c.lc.Uncork()
}

func (c *chain) issue() {
	if c.issued < c.total {
		c.issued++
		if c.lc.Get(c.key, GetOptions{}, c, 0) != nil {
			c.failed++
			c.completed++
		}
	}
}

func (c *chain) OnResult(_ uint64, res *Result) {
	if res.Status != StatusOK || len(res.Value) != 100 {
		c.failed++
	}
	if c.completed++; c.completed == c.total {
		close(c.done)
		return
	}
	c.issue()
}

// The loop-affine path allocates nothing per operation: 20 000 gets, 64 in
// flight, on one loop, cost a handful of allocations in all (gnet's Execute
// and the test's channel), not one per get.
func TestLoopClientZeroAllocs(t *testing.T) {
	mc := mctest.Start(t)
	e := newLoopEnv(t, ringOf(t, mc), Config{})
	key := []byte("alloc:k")
	if r := e.do(func(h Handler) error { return e.lc.Set(key, make([]byte, 100), SetOptions{}, h, 0) }); r.res.Status != StatusOK {
		t.Fatal(r)
	}
	run := func(total, width int) (mallocs uint64, failed int) {
		ch := &chain{lc: e.lc, key: key, total: total, done: make(chan struct{})}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		e.on(func() { ch.start(width) })
		<-ch.done
		runtime.ReadMemStats(&ms1)
		return ms1.Mallocs - ms0.Mallocs, ch.failed
	}
	run(2000, 64) // warm up buffers
	const total = 20000
	mallocs, failed := run(total, 64)
	if failed != 0 {
		t.Fatalf("%d of %d gets failed", failed, total)
	}
	if mallocs > 200 {
		t.Fatalf("%d allocations for %d gets: the loop path allocates per operation", mallocs, total)
	}
	t.Logf("%d allocations in all for %d gets", mallocs, total)
}

func TestLoopClientTimeoutAndRecovery(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	const timeout = 200 * time.Millisecond
	e := newLoopEnv(t, ringOf(t, mc), Config{OpTimeout: timeout, FailureLimit: -1, ReconnectBackoff: 10 * time.Millisecond})
	e.sweeper(20 * time.Millisecond)
	if r := e.do(func(h Handler) error { return e.lc.Set([]byte("k"), []byte("v"), SetOptions{}, h, 0) }); r.res.Err != nil {
		t.Fatal(r.res.Err)
	}
	mc.Freeze()
	h := newChanHandler()
	start := time.Now()
	e.on(func() {
		for i := 0; i < 20; i++ {
			_ = e.lc.Get([]byte("k"), GetOptions{}, h, uint64(i))
		}
	})
	for i := 0; i < 20; i++ {
		if r := h.next(t); r.res.Err != ErrTimeout || r.token != uint64(i) {
			t.Fatalf("result %d on a frozen server: %+v", i, r)
		}
	}
	if d := time.Since(start); d < timeout || d > timeout+500*time.Millisecond {
		t.Fatalf("timed out after %v with OpTimeout %v", d, timeout)
	}
	mc.Thaw()
	eventually(t, 5*time.Second, "recovery", func() bool {
		r := e.do(func(h Handler) error { return e.lc.Get([]byte("k"), GetOptions{}, h, 0) })
		return r.value == "v"
	})
}

func TestLoopClientKillAndEjection(t *testing.T) {
	t.Parallel()
	a, b := mctest.Start(t), mctest.Start(t)
	ring := ringOf(t, a, b)
	const retry = 500 * time.Millisecond
	e := newLoopEnv(t, ring, Config{OpTimeout: 5 * time.Second, FailureLimit: 2, RetryInterval: retry,
		ReconnectBackoff: 10 * time.Millisecond})
	e.sweeper(10 * time.Millisecond)
	keysA, keysB := keysOn(ring, 0, 30, "lk"), keysOn(ring, 1, 30, "lk")
	h := newChanHandler()
	e.on(func() {
		for _, k := range append(append([][]byte{}, keysA...), keysB...) {
			_ = e.lc.Set(k, k, SetOptions{}, h, 0)
		}
	})
	for i := 0; i < 60; i++ {
		if r := h.next(t); r.res.Status != StatusOK {
			t.Fatalf("set: %+v", r)
		}
	}
	// Freeze A so its gets pend, then kill it: exactly those fail.
	a.Freeze()
	e.on(func() {
		for i, k := range keysA {
			_ = e.lc.Get(k, GetOptions{}, h, uint64(i))
		}
	})
	eventually(t, 2*time.Second, "A's gets pending", func() bool {
		var n int
		e.on(func() { n = e.lc.servers[0].conns[0].st.pending() })
		return n == len(keysA)
	})
	e.on(func() {
		for i, k := range keysB {
			_ = e.lc.Get(k, GetOptions{}, h, uint64(100+i))
		}
	})
	a.Kill()
	var failedA, okB int
	for i := 0; i < 60; i++ {
		r := h.next(t)
		switch {
		case r.token < 100 && r.res.Err == ErrConnClosed:
			failedA++
		case r.token >= 100 && r.res.Status == StatusOK && r.value == string(keysB[r.token-100]):
			okB++
		default:
			t.Fatalf("unexpected %+v", r)
		}
	}
	if failedA != 30 || okB != 30 {
		t.Fatalf("%d of A's gets failed, %d of B's succeeded", failedA, okB)
	}
	// Redials fail until A is ejected; then its keys land on B.
	killedAt := time.Now()
	eventually(t, 5*time.Second, "A ejected", func() bool {
		r := e.do(func(h Handler) error { return e.lc.Set(keysA[0], []byte("moved"), SetOptions{}, h, 0) })
		return r.res.Err == nil
	})
	if v, ok := rawGet(t, b.Addr, string(keysA[0])); !ok || v != "moved" {
		t.Fatalf("A's key not on B while A is ejected: %q %v", v, ok)
	}
	for _, k := range keysB {
		if r := e.do(func(h Handler) error { return e.lc.Set(k, []byte("stay"), SetOptions{}, h, 0) }); r.res.Err != nil {
			t.Fatal(r.res.Err)
		}
	}
	a.Restart()
	eventually(t, 5*time.Second, "A back", func() bool {
		_ = e.do(func(h Handler) error { return e.lc.Set(keysA[1], []byte("home"), SetOptions{}, h, 0) })
		v, ok := rawGet(t, a.Addr, string(keysA[1]))
		return ok && v == "home"
	})
	if d := time.Since(killedAt); d < retry {
		t.Fatalf("A took keys back after %v, within its %v retry interval", d, retry)
	}
	for _, k := range keysB {
		if v, ok := rawGet(t, b.Addr, string(k)); !ok || v != "stay" {
			t.Fatalf("B's key %s moved", k)
		}
	}
}

// A handler may close the client; every other pending operation fails
// with ErrClosed and later calls are refused.
func TestLoopClientCloseFromHandler(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	e := newLoopEnv(t, ringOf(t, mc), Config{})
	h := newChanHandler()
	closer := &closeOnResult{lc: e.lc, h: h}
	e.on(func() {
		_ = e.lc.Get([]byte("a"), GetOptions{}, closer, 0)
		for i := 1; i <= 5; i++ {
			_ = e.lc.Get([]byte("a"), GetOptions{}, h, uint64(i))
		}
	})
	for i := 1; i <= 5; i++ {
		if r := h.next(t); r.res.Err != ErrClosed || r.token != uint64(i) {
			t.Fatalf("after Close in a handler: %+v", r)
		}
	}
	var err error
	e.on(func() { err = e.lc.Get([]byte("a"), GetOptions{}, h, 0) })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("get after Close: %v", err)
	}
}

type closeOnResult struct {
	lc *LoopClient
	h  *chanHandler
	n  atomic.Int32
}

func (c *closeOnResult) OnResult(uint64, *Result) {
	c.n.Add(1)
	c.lc.Close()
}
