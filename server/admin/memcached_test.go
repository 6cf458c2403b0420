package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server/admin"
)

// results hands copies of a LoopClient's results to the test (buffered: the
// loop never blocks on it).
type results chan mcclient.Result

func (r results) OnResult(_ uint64, res *mcclient.Result) {
	x := *res
	x.Value, x.Message = nil, nil
	r <- x
}

func (r results) next(t *testing.T) mcclient.Result {
	t.Helper()
	select {
	case x := <-r:
		return x
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return mcclient.Result{}
	}
}

// keysOn returns n keys the ring places on server i.
func keysOn(ring *ketama.Ring, i, n int) [][]byte {
	var out [][]byte
	for k := 0; len(out) < n; k++ {
		key := []byte(fmt.Sprintf("metrics:%d", k))
		if ring.Pick(key) == i {
			out = append(out, key)
		}
	}
	return out
}

// TestMemcachedServerCounters runs a scripted sequence against two real
// memcached servers through a LoopClient and reads /metrics after each
// step: operations, replies, errors by kind (a CLIENT_ERROR; a frozen
// server's timeouts; an operation refused while its connection backs off;
// operations lost when the killed server's redial fails), ejections and
// connection failures move by exactly what each step did, per server.
// Deadlines are driven by calling Sweep with a time past them, not by
// waiting.
func TestMemcachedServerCounters(t *testing.T) {
	a, b := mctest.Start(t), mctest.Start(t)
	ring, err := ketama.New([]ketama.Server{{Addr: a.Addr, Weight: 1}, {Addr: b.Addr, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	el := mctest.EventLoops(t, &mcclient.LoopHost{}, 1)[0]
	lc, err := mcclient.NewLoopClient(el, ring, mcclient.Config{FailureLimit: 2, RetryInterval: time.Hour,
		OpTimeout: 100 * time.Millisecond, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mctest.OnLoop(t, el, lc.Close) })
	loops := &admin.LoopClients{}
	loops.Add(el, lc)
	f := &fakeProxy{}
	f.serving.Store(true)
	adm := startAdmin(t, admin.Config{Proxy: f, Memcached: loops.States})

	onA, onB := keysOn(ring, 0, 8), keysOn(ring, 1, 4)
	res := make(results, 100)
	on := func(fn func()) { mctest.OnLoop(t, el, fn) }
	// run starts operations on the loop and waits for their n results.
	run := func(n int, start func() error) []mcclient.Result {
		t.Helper()
		on(func() {
			if err := start(); err != nil {
				t.Errorf("start: %v", err)
			}
		})
		out := make([]mcclient.Result, n)
		for i := range out {
			out[i] = res.next(t)
		}
		return out
	}
	type want struct {
		ops, replies, timeout, connection, protocol, server, refused, ejections, connFailures, up, ejectedLoops, pending float64
	}
	check := func(step string, addr string, w want) {
		t.Helper()
		m := scrape(t, adm.Addr().String())
		got := want{
			ops:          m.get("mcpage_memcached_server_operations_total", "server", addr),
			replies:      m.get("mcpage_memcached_server_replies_total", "server", addr),
			timeout:      m.get("mcpage_memcached_server_errors_total", "server", addr, "kind", "timeout"),
			connection:   m.get("mcpage_memcached_server_errors_total", "server", addr, "kind", "connection"),
			protocol:     m.get("mcpage_memcached_server_errors_total", "server", addr, "kind", "protocol"),
			server:       m.get("mcpage_memcached_server_errors_total", "server", addr, "kind", "server"),
			refused:      m.get("mcpage_memcached_server_errors_total", "server", addr, "kind", "refused"),
			ejections:    m.get("mcpage_memcached_server_ejections_total", "server", addr),
			connFailures: m.get("mcpage_memcached_server_connection_failures_total", "server", addr),
			up:           m.get("mcpage_memcached_server_up", "server", addr),
			ejectedLoops: m.get("mcpage_memcached_server_ejected_loops", "server", addr),
			pending:      m.get("mcpage_memcached_server_pending_ops", "server", addr),
		}
		if got != w {
			t.Errorf("%s, %s:\n got %+v\nwant %+v", step, addr, got, w)
		}
		for _, kind := range []string{"timeout", "connection", "protocol", "server", "refused"} {
			if _, ok := m[seriesKey("mcpage_memcached_server_errors_total", "kind", kind, "server", addr)]; !ok {
				t.Errorf("%s: no errors_total series of kind %s for %s", step, kind, addr)
			}
		}
	}

	check("before any operation", a.Addr, want{})

	// 4 sets and 4 gets on A, 3 gets on B: all answered.
	run(11, func() error {
		for _, k := range onA[:4] {
			if err := lc.Set(k, []byte("v"), mcclient.SetOptions{}, res, 0); err != nil {
				return err
			}
			if err := lc.Get(k, mcclient.GetOptions{}, res, 0); err != nil {
				return err
			}
		}
		for _, k := range onB[:3] {
			if err := lc.Get(k, mcclient.GetOptions{}, res, 0); err != nil {
				return err
			}
		}
		return nil
	})
	check("11 answered", a.Addr, want{ops: 8, replies: 8, up: 1})
	check("11 answered", b.Addr, want{ops: 3, replies: 3, up: 1})
	// Writes: at least one, at most one per command.
	for addr, ops := range map[string]float64{a.Addr: 8, b.Addr: 3} {
		if w := scrape(t, adm.Addr().String()).get("mcpage_memcached_server_writes_total", "server", addr); w < 1 || w > ops {
			t.Errorf("%s: %v writes for %v operations", addr, w, ops)
		}
	}

	// Incrementing a value that is not a number: CLIENT_ERROR, an answered
	// failure; the connection stays up.
	r := run(2, func() error {
		if err := lc.Set(onA[4], []byte("abc"), mcclient.SetOptions{}, res, 0); err != nil {
			return err
		}
		return lc.Arith(onA[4], mcclient.ArithOptions{}, res, 0)
	})
	if r[1].Err != mcclient.ErrClientError {
		t.Fatalf("incr of a string: %+v", r[1])
	}
	check("CLIENT_ERROR", a.Addr, want{ops: 10, replies: 10, server: 1, up: 1})

	// A hangs: three gets time out together (one connection failure, not
	// yet an ejection: FailureLimit is 2).
	a.Freeze()
	r = run(3, func() error {
		for _, k := range onA[:3] {
			if err := lc.Get(k, mcclient.GetOptions{}, res, 0); err != nil {
				return err
			}
		}
		lc.Sweep(time.Now().Add(time.Second)) // past their deadlines
		return nil
	})
	for _, x := range r {
		if x.Err != mcclient.ErrTimeout {
			t.Fatalf("get on a frozen server: %+v", x)
		}
	}
	check("3 timeouts", a.Addr, want{ops: 13, replies: 10, server: 1, timeout: 3, connFailures: 1})

	// While the connection backs off, an operation is refused at once.
	on(func() {
		if err := lc.Get(onA[0], mcclient.GetOptions{}, res, 0); err != mcclient.ErrServerDown {
			t.Errorf("get while backing off: %v", err)
		}
	})
	check("refused", a.Addr, want{ops: 14, replies: 10, server: 1, timeout: 3, refused: 1, connFailures: 1})

	// A dies. Its backoff over, Sweep redials it; two gets wait for the
	// dial, which fails: they fail with it, and that second failure in a
	// row ejects A.
	a.Kill()
	r = run(2, func() error {
		lc.Sweep(time.Now().Add(10 * time.Second))
		for _, k := range onA[:2] {
			if err := lc.Get(k, mcclient.GetOptions{}, res, 0); err != nil {
				return err
			}
		}
		return nil
	})
	for _, x := range r {
		if x.Err != mcclient.ErrConnect {
			t.Fatalf("get while dialing a dead server: %+v", x)
		}
	}
	want5 := want{ops: 16, replies: 10, server: 1, timeout: 3, refused: 1, connection: 2, ejections: 1, connFailures: 2, ejectedLoops: 1}
	check("dead and ejected", a.Addr, want5)
	// Every operation is answered, failed unanswered, or pending.
	if want5.ops != want5.replies+want5.timeout+want5.connection+want5.protocol+want5.refused+want5.pending {
		t.Errorf("the counts do not add up: %+v", want5)
	}

	// A's keys now go to B.
	r = run(2, func() error {
		for _, k := range onA[5:7] {
			if err := lc.Get(k, mcclient.GetOptions{}, res, 0); err != nil {
				return err
			}
		}
		return nil
	})
	for _, x := range r {
		if x.Status != mcclient.StatusMiss {
			t.Fatalf("get of A's key on B: %+v", x)
		}
	}
	check("A's keys on B", a.Addr, want5)
	check("A's keys on B", b.Addr, want{ops: 5, replies: 5, up: 1})

	// Descriptors, beside the rest of the process metrics.
	m := scrape(t, adm.Addr().String())
	if open, limit := m.get("process_open_fds"), m.get("process_max_fds"); open < 1 || limit < open {
		t.Errorf("process_open_fds %v, process_max_fds %v", open, limit)
	}
}

// TestMemcachedCountersSurviveASilentLoop: a loop that does not answer a
// scrape in time leaves its state out, but its last counters stand in, so
// no counter goes backwards.
func TestMemcachedCountersSurviveASilentLoop(t *testing.T) {
	mc := mctest.Start(t)
	ring, err := ketama.New([]ketama.Server{{Addr: mc.Addr, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	els := mctest.EventLoops(t, &mcclient.LoopHost{}, 2)
	loops := &admin.LoopClients{}
	res := make(results, 10)
	for i, el := range els {
		lc, err := mcclient.NewLoopClient(el, ring, mcclient.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mctest.OnLoop(t, el, lc.Close) })
		loops.Add(el, lc)
		for j := 0; j <= i; j++ { // one get on loop 0, two on loop 1
			mctest.OnLoop(t, el, func() {
				if err := lc.Get([]byte("k"), mcclient.GetOptions{}, res, 0); err != nil {
					t.Fatal(err)
				}
			})
			res.next(t)
		}
	}
	states := loops.States(context.Background())
	if len(states) != 1 || states[0].Ops != 3 || states[0].Replies != 3 || states[0].Loops != 2 {
		t.Fatalf("both loops: %+v", states)
	}
	// Loop 1 is busy (blocked in a task) while the state is gathered.
	release := make(chan struct{})
	blocked := make(chan struct{})
	if err := els[1].Execute(context.Background(), runFunc(func() { close(blocked); <-release })); err != nil {
		t.Fatal(err)
	}
	<-blocked
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	states = loops.States(ctx)
	cancel()
	close(release)
	if len(states) != 1 || states[0].Ops != 3 || states[0].Replies != 3 || states[0].Loops != 1 {
		t.Fatalf("loop 1 silent: %+v", states)
	}
}

// runFunc is a task for EventLoop.Execute.
func runFunc(fn func()) gnet.Runnable {
	return gnet.RunnableFunc(func(context.Context) error { fn(); return nil })
}
