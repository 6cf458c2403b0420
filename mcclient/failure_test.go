package mcclient

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient/ketama"
)

// keysOn returns n keys the ring places on server i.
func keysOn(r *ketama.Ring, i, n int, prefix string) [][]byte {
	var keys [][]byte
	for j := 0; len(keys) < n; j++ {
		k := fmt.Appendf(nil, "%s:%d", prefix, j)
		if r.Pick(k) == i {
			keys = append(keys, k)
		}
	}
	return keys
}

// connPending reads how many operations wait on a Client connection.
func connPending(c *clientConn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.pending()
}

// Killing one server with operations in flight fails exactly those, leaves
// the other server's alone, and the client recovers once it is back.
func TestClientKillMidPipeline(t *testing.T) {
	t.Parallel()
	a, b := mctest.Start(t), mctest.Start(t)
	ring := ringOf(t, a, b)
	cl, err := New(ring, Config{OpTimeout: 10 * time.Second, FailureLimit: -1, ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keysA, keysB := keysOn(ring, 0, 50, "kill"), keysOn(ring, 1, 50, "kill")
	for _, k := range append(append([][]byte{}, keysA...), keysB...) {
		if _, err := cl.Set(k, k, SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a.Freeze() // A's operations stay pending until the kill
	var wg sync.WaitGroup
	var failedA, okA, failedB, okB atomic.Int32
	run := func(keys [][]byte, ok, failed *atomic.Int32) {
		for _, k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := cl.Get(k, nil, GetOptions{})
				switch {
				case err == nil && string(res.Value) == string(k):
					ok.Add(1)
				case errors.Is(err, ErrConnClosed):
					failed.Add(1)
				default:
					t.Errorf("get %s: %+v %v", k, res.Status, err)
				}
			}()
		}
	}
	run(keysA, &okA, &failedA)
	eventually(t, 5*time.Second, "A's 50 gets pending", func() bool { return connPending(cl.servers[0].conns[0]) == 50 })
	run(keysB, &okB, &failedB)
	a.Kill()
	wg.Wait()
	if failedA.Load() != 50 || okA.Load() != 0 || okB.Load() != 50 || failedB.Load() != 0 {
		t.Fatalf("A: %d failed %d ok; B: %d failed %d ok", failedA.Load(), okA.Load(), failedB.Load(), okB.Load())
	}
	a.Restart()
	eventually(t, 5*time.Second, "A back", func() bool {
		res, err := cl.Set(keysA[0], []byte("again"), SetOptions{})
		return err == nil && res.Status == StatusOK
	})
	if v, ok := rawGet(t, a.Addr, string(keysA[0])); !ok || v != "again" {
		t.Fatalf("restarted A holds %q %v", v, ok)
	}
}

// A server that keeps failing is ejected: its keys go to the next server on
// the ring, no other key moves; after RetryInterval it is probed and, once
// it answers, takes its keys back.
func TestClientEjectionAndReturn(t *testing.T) {
	t.Parallel()
	srv := []*mctest.Server{mctest.Start(t), mctest.Start(t), mctest.Start(t)}
	ring := ringOf(t, srv...)
	const retry = 600 * time.Millisecond
	cl, err := New(ring, Config{FailureLimit: 2, RetryInterval: retry, ReconnectBackoff: 10 * time.Millisecond,
		OpTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keys := [3][][]byte{keysOn(ring, 0, 20, "ej"), keysOn(ring, 1, 20, "ej"), keysOn(ring, 2, 20, "ej")}
	srv[0].Kill()
	ejectedAt := time.Now()
	// Until the ejection, server 0's keys fail; afterwards they succeed elsewhere.
	eventually(t, 5*time.Second, "server 0 ejected", func() bool {
		_, err := cl.Set(keys[0][0], []byte("moved"), SetOptions{})
		return err == nil
	})
	notDead := func(i int) bool { return i != 0 }
	for _, k := range keys[0] {
		if _, err := cl.Set(k, []byte("moved"), SetOptions{}); err != nil {
			t.Fatalf("set %s while 0 is ejected: %v", k, err)
		}
		dst := ring.PickLive(k, notDead)
		if v, ok := rawGet(t, srv[dst].Addr, string(k)); !ok || v != "moved" {
			t.Fatalf("key %s of ejected server 0 not on its next server %d", k, dst)
		}
	}
	for i := 1; i <= 2; i++ {
		for _, k := range keys[i] {
			if _, err := cl.Set(k, []byte("stay"), SetOptions{}); err != nil {
				t.Fatal(err)
			}
			if v, ok := rawGet(t, srv[i].Addr, string(k)); !ok || v != "stay" {
				t.Fatalf("key %s of live server %d moved", k, i)
			}
		}
	}
	srv[0].Restart()
	// After the retry interval a probe succeeds and the keys come home.
	eventually(t, 5*time.Second, "server 0 back", func() bool {
		_, _ = cl.Set(keys[0][1], []byte("home"), SetOptions{})
		v, ok := rawGet(t, srv[0].Addr, string(keys[0][1]))
		return ok && v == "home"
	})
	if since := time.Since(ejectedAt); since < retry {
		t.Fatalf("server 0 back after %v, before its %v retry interval", since, retry)
	}
	for _, k := range keys[0] {
		if _, err := cl.Set(k, []byte("home"), SetOptions{}); err != nil {
			t.Fatal(err)
		}
		if v, ok := rawGet(t, srv[0].Addr, string(k)); !ok || v != "home" {
			t.Fatalf("key %s not back on server 0", k)
		}
	}
}

// A hung server: the oldest operation's deadline fails everything pending.
func TestClientOpTimeout(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	const timeout = 200 * time.Millisecond
	cl := newClient(t, Config{OpTimeout: timeout, FailureLimit: -1, ReconnectBackoff: 10 * time.Millisecond}, mc)
	if _, err := cl.Set([]byte("k"), []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	mc.Freeze()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cl.Get([]byte("k"), nil, GetOptions{}); err != ErrTimeout {
				t.Errorf("get on a frozen server: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < timeout || d > timeout+500*time.Millisecond {
		t.Fatalf("timed out after %v with OpTimeout %v", d, timeout)
	}
	mc.Thaw()
	eventually(t, 5*time.Second, "recovery", func() bool {
		res, err := cl.Get([]byte("k"), nil, GetOptions{})
		return err == nil && string(res.Value) == "v"
	})
}

func TestClientQueueFull(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	cl := newClient(t, Config{MaxPending: 4, OpTimeout: 5 * time.Second}, mc)
	if err := cl.Noop(0); err != nil {
		t.Fatal(err)
	}
	mc.Freeze()
	defer mc.Thaw()
	for i := 0; i < 4; i++ {
		go func() { _, _ = cl.Get([]byte("k"), nil, GetOptions{}) }()
	}
	eventually(t, 2*time.Second, "4 pending", func() bool { return connPending(cl.servers[0].conns[0]) == 4 })
	if _, err := cl.Get([]byte("k"), nil, GetOptions{}); err != ErrQueueFull {
		t.Fatalf("5th op with MaxPending 4: %v", err)
	}
}

func TestClientConnectFailure(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r, err := ketama.New([]ketama.Server{{Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := New(r, Config{FailureLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	_, err = cl.Get([]byte("k"), nil, GetOptions{})
	if !errors.Is(err, ErrConnect) && !errors.Is(err, ErrServerDown) {
		t.Fatalf("get from a closed port: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refused connection took %v to report", d)
	}
	// With ejection on, a dead single server ends as ErrNoServer.
	cl2, err := New(r, Config{FailureLimit: 1, ReconnectBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	eventually(t, 2*time.Second, "ErrNoServer", func() bool {
		_, err := cl2.Get([]byte("k"), nil, GetOptions{})
		return err == ErrNoServer
	})
}

// A peer that answers garbage: the operation fails with the decoder's
// error, and the client reconnects instead of trusting the stream.
func TestClientMalformedReplyReconnects(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					_, _ = c.Write([]byte("VA 3 O0\r\nabcdef\r\n")) // longer than announced
				}
			}()
		}
	}()
	r, _ := ketama.New([]ketama.Server{{Addr: l.Addr().String()}})
	cl, err := New(r, Config{FailureLimit: -1, ReconnectBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Get([]byte("k"), nil, GetOptions{}); err != ErrReplyFraming {
		t.Fatalf("get from a garbage server: %v", err)
	}
	eventually(t, 2*time.Second, "a reconnect", func() bool {
		_, _ = cl.Get([]byte("k"), nil, GetOptions{})
		return accepted.Load() >= 2
	})
}

// A server closing idle connections (memcached -o idle_timeout) is not a
// failure: the connection goes idle, and the next operation redials and
// succeeds without an error.
func TestIdleConnectionClosedByServer(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t, "-o", "idle_timeout=1")
	t.Run("Client", func(t *testing.T) {
		t.Parallel()
		cl := newClient(t, Config{FailureLimit: 1}, mc)
		if _, err := cl.Set([]byte("idle:c"), []byte("v"), SetOptions{}); err != nil {
			t.Fatal(err)
		}
		c := cl.servers[0].conns[0]
		eventually(t, 10*time.Second, "the server to close the idle connection", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.phase == phaseIdle
		})
		res, err := cl.Get([]byte("idle:c"), nil, GetOptions{})
		if err != nil || string(res.Value) != "v" {
			t.Fatalf("get after the idle close: %+v %v", res, err)
		}
		if cl.servers[0].failing.Load() {
			t.Fatal("an idle close counted as a failure")
		}
	})
	t.Run("LoopClient", func(t *testing.T) {
		t.Parallel()
		e := newLoopEnv(t, ringOf(t, mc), Config{FailureLimit: 1})
		if r := e.do(func(h Handler) error { return e.lc.Set([]byte("idle:l"), []byte("v"), SetOptions{}, h, 0) }); r.res.Err != nil {
			t.Fatal(r.res.Err)
		}
		c := e.lc.servers[0].conns[0]
		eventually(t, 10*time.Second, "the server to close the idle connection", func() bool {
			var idle bool
			e.on(func() { idle = c.phase == phaseIdle })
			return idle
		})
		r := e.do(func(h Handler) error { return e.lc.Get([]byte("idle:l"), GetOptions{}, h, 0) })
		if r.res.Err != nil || r.value != "v" {
			t.Fatalf("get after the idle close: %+v", r)
		}
		var fails int
		e.on(func() { fails = e.lc.servers[0].h.fails })
		if fails != 0 {
			t.Fatalf("an idle close counted %d failures", fails)
		}
	})
}
