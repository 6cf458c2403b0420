package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/mcstore"
	"github.com/mcpage/mcpage/server/pagestore"
)

// flushStore is a network-like store: lookups are queued and only "sent"
// at the outermost Uncork, then answered from the loop's event queue, as
// memcached answers an mg; Pending counts lookups queued or in flight. It
// records how many lookups each flush carried.
type flushStore struct {
	el      gnet.EventLoop
	inner   *pagestore.Embedded
	corked  int
	queued  []pendingGet
	flight  int
	maxCork *atomic.Int64 // deepest cork seen
	flushed *atomic.Int64 // lookups flushed
	most    *atomic.Int64 // largest flush
}

func (s *flushStore) Get(key []byte, h pagestore.Handler, token uint64) {
	s.queued = append(s.queued, pendingGet{string(key), h, token})
	if s.corked == 0 {
		s.flush()
	}
}

func (s *flushStore) flush() {
	if len(s.queued) == 0 {
		return
	}
	sent := s.queued
	s.queued = nil
	s.flight += len(sent)
	s.flushed.Add(int64(len(sent)))
	if int64(len(sent)) > s.most.Load() {
		s.most.Store(int64(len(sent))) // only this loop writes it
	}
	_ = s.el.Execute(context.Background(), runnable(func() {
		for _, g := range sent {
			s.flight--
			var rec []byte
			s.inner.Get([]byte(g.key), handlerFunc(func(_ uint64, r []byte, _ error) { rec = append([]byte(nil), r...) }), 0)
			if len(rec) == 0 {
				rec = nil
			}
			g.h.PageLookup(g.token, rec, 0, nil)
		}
	}))
}

func (s *flushStore) Cork() {
	s.corked++
	if int64(s.corked) > s.maxCork.Load() {
		s.maxCork.Store(int64(s.corked))
	}
}

func (s *flushStore) Uncork() {
	if s.corked--; s.corked < 0 {
		panic("flushStore: Uncork without Cork")
	}
	if s.corked == 0 {
		s.flush()
	}
}

func (s *flushStore) Pending() int                           { return len(s.queued) + s.flight }
func (s *flushStore) Set(key, rec []byte, ttl time.Duration) { s.inner.Set(key, rec, ttl) }
func (s *flushStore) Delete(key []byte)                      { s.inner.Delete(key) }

// A store whose answers do not come on its own connections (no
// pagestore.Awaiter) is corked around each client event only: lookups
// still leave (nothing waits for a flush that never comes), every client
// gets its own page, and the cork is balanced.
func TestBatchedLookupsAllAnswered(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "page "+r.URL.Path)
	})
	inner, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var maxCork, flushed, most atomic.Int64
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.Loops = 1
		c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
			return &flushStore{el: el, inner: inner, maxCork: &maxCork, flushed: &flushed, most: &most}
		}
	})
	const clients, rounds = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := dial(t, p.addr)
			for r := 0; r < rounds; r++ {
				path := fmt.Sprintf("/c%d/%d", i, r%4)
				c.send(request("GET", path))
				resp := c.read("GET")
				if string(resp.body) != "page "+path {
					errs <- fmt.Errorf("%s: got %q", path, resp.body)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every answer came from a flushed lookup: all were flushed.
	if n := flushed.Load(); n != clients*rounds {
		t.Fatalf("%d lookups flushed, want %d", n, clients*rounds)
	}
	t.Logf("%d lookups, largest flush %d, deepest cork %d", flushed.Load(), most.Load(), maxCork.Load())
}

// While memcached owes the loop a reply, the lookups of other clients are
// held and leave together when that reply arrives (batch.go). memcached is
// frozen, so the reply cannot come before every lookup has started: A's mg
// is written at once (nothing was awaited), B's, C's and D's wait, and one
// write carries all three once memcached answers A. Every client gets its
// own page.
// batchFixture is a one-loop proxy in front of an origin that serves
// "page <path>" (max-age=600) and n memcached servers whose deadlines and
// sweeps lie far beyond the test, so that only memcached's own events may
// end a held batch; paths are stored and served as hits first. state reads
// server i's counters on the loop.
type batchFixture struct {
	mc    []*mctest.Server
	ring  *ketama.Ring
	addr  string
	state func(i int) mcclient.ServerState
}

func newBatchFixture(t *testing.T, n int, paths []string) *batchFixture {
	t.Helper()
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "page "+r.URL.Path)
	})
	f := &batchFixture{}
	var list []ketama.Server
	for range n {
		mc := mctest.Start(t)
		f.mc = append(f.mc, mc)
		list = append(list, ketama.Server{Addr: mc.Addr})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	f.ring = ring
	type built struct {
		lc *mcclient.LoopClient
		el gnet.EventLoop
	}
	var store atomic.Pointer[built] // set on the loop, read by the test
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.Loops = 1
		c.NewStore = func(_ int, loop gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(loop, ring, mcclient.Config{OpTimeout: time.Minute, ConnectTimeout: 5 * time.Second})
			if err != nil {
				panic(err)
			}
			store.Store(&built{lc, loop})
			return mcstore.New(lc, mcstore.Config{SweepEvery: time.Hour, FillTTL: 10, FillWait: time.Second, Keep: server.MaxStaleKeep})
		}
	})
	f.addr = p.addr
	warm := dial(t, p.addr)
	for _, path := range paths {
		eventually(t, 10*time.Second, path+" stored", func() bool {
			warm.send(request("GET", path))
			return warm.read("GET").xcache() == "HIT"
		})
	}
	f.state = func(i int) mcclient.ServerState {
		var st []mcclient.ServerState
		b := store.Load()
		mctest.OnLoop(t, b.el, func() { st = b.lc.ServerStates(nil) })
		return st[i]
	}
	return f
}

// pathOn returns a path whose page key the ring gives server i.
func (f *batchFixture) pathOn(t *testing.T, i int) string {
	t.Helper()
	for n := 0; n < 1000; n++ {
		path := fmt.Sprintf("/k%d", n)
		if f.ring.Pick(cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte(path))) == i {
			return path
		}
	}
	t.Fatalf("no path for server %d", i)
	return ""
}

// send sends a request for path on a new connection and waits until its
// lookup has started on server i (its operation count reaches ops).
func (f *batchFixture) send(t *testing.T, path string, i int, ops uint64) *client {
	t.Helper()
	c := dial(t, f.addr)
	c.send(request("GET", path))
	eventually(t, 10*time.Second, fmt.Sprintf("%d operations started on server %d", ops, i), func() bool { return f.state(i).Ops == ops })
	return c
}

// While memcached owes the loop a reply, the lookups of other clients are
// held and leave together when that reply arrives (batch.go). memcached is
// frozen, so the reply cannot come before every lookup has started: A's mg
// is written at once (nothing was awaited), B's, C's and D's wait, and one
// write carries all three once memcached answers A. Every client gets its
// own page.
func TestBatchHeldUntilReply(t *testing.T) {
	paths := []string{"/a", "/b", "/c", "/d"}
	f := newBatchFixture(t, 1, paths)
	base := f.state(0)
	if base.Pending != 0 {
		t.Fatalf("%d operations pending before the test", base.Pending)
	}
	f.mc[0].Freeze()
	clients := make([]*client, len(paths))
	for i, path := range paths {
		clients[i] = f.send(t, path, 0, base.Ops+uint64(i)+1)
	}
	if got := f.state(0).Writes - base.Writes; got != 1 {
		t.Errorf("%d writes while memcached owed A its reply, want 1 (A's mg alone)", got)
	}
	f.mc[0].Thaw()
	for i, c := range clients {
		resp := c.read("GET")
		if string(resp.body) != "page "+paths[i] || resp.xcache() != "HIT" {
			t.Fatalf("%s: %s %q", paths[i], resp.xcache(), resp.body)
		}
	}
	if got := f.state(0).Writes - base.Writes; got != 2 {
		t.Errorf("%d writes for 4 lookups, want 2 (A's, then B's, C's and D's together)", got)
	}
}

// A batch held for a reply that never comes ends when that server's
// connection does. With two servers, A's lookup waits on a frozen server X
// and holds B's, for healthy server Y, in the batch; X is killed: A fails
// with its connection and is answered from the origin, and B's lookup
// leaves at once and is a hit on Y, instead of waiting for a sweep.
func TestBatchReleasedWhenServerDies(t *testing.T) {
	f := newBatchFixture(t, 2, nil)
	pa, pb := f.pathOn(t, 0), f.pathOn(t, 1)
	warm := dial(t, f.addr)
	for _, path := range []string{pa, pb} {
		eventually(t, 10*time.Second, path+" stored", func() bool {
			warm.send(request("GET", path))
			return warm.read("GET").xcache() == "HIT"
		})
	}
	x, y := f.state(0), f.state(1)
	f.mc[0].Freeze()
	a := f.send(t, pa, 0, x.Ops+1)
	b := f.send(t, pb, 1, y.Ops+1)
	if got := f.state(1).Writes - y.Writes; got != 0 {
		t.Errorf("B's mg was written (%d writes) while X owed A its reply: the batch did not hold", got)
	}
	f.mc[0].Kill()
	if resp := b.read("GET"); string(resp.body) != "page "+pb || resp.xcache() != "HIT" {
		t.Fatalf("B: %s %q, want a hit from Y", resp.xcache(), resp.body)
	}
	if resp := a.read("GET"); string(resp.body) != "page "+pa || resp.xcache() == "HIT" {
		t.Fatalf("A: %s %q, want the origin's page", resp.xcache(), resp.body)
	}
}
