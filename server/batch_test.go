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
func TestBatchHeldUntilReply(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "page "+r.URL.Path)
	})
	mc := mctest.Start(t)
	ring, err := ketama.New([]ketama.Server{{Addr: mc.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	type built struct {
		lc *mcclient.LoopClient
		el gnet.EventLoop
	}
	var store atomic.Pointer[built] // set on the loop, read by the test
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.Loops = 1
		c.NewStore = func(_ int, loop gnet.EventLoop) pagestore.Store {
			// Deadlines and sweeps far beyond the test: only the reply may
			// end the batch (a Sweep ends it too).
			lc, err := mcclient.NewLoopClient(loop, ring, mcclient.Config{OpTimeout: time.Minute, ConnectTimeout: 5 * time.Second})
			if err != nil {
				panic(err)
			}
			store.Store(&built{lc, loop})
			return mcstore.New(lc, mcstore.Config{SweepEvery: time.Hour, FillTTL: 10, FillWait: time.Second, Keep: server.MaxStaleKeep})
		}
	})
	paths := []string{"/a", "/b", "/c", "/d"}
	warm := dial(t, p.addr)
	for _, path := range paths {
		eventually(t, 10*time.Second, path+" stored", func() bool {
			warm.send(request("GET", path))
			return warm.read("GET").xcache() == "HIT"
		})
	}
	state := func() mcclient.ServerState {
		var st []mcclient.ServerState
		b := store.Load()
		mctest.OnLoop(t, b.el, func() { st = b.lc.ServerStates(nil) })
		return st[0]
	}
	waitOps := func(n uint64) {
		eventually(t, 10*time.Second, fmt.Sprintf("%d operations started", n), func() bool { return state().Ops == n })
	}
	base := state()
	if base.Pending != 0 {
		t.Fatalf("%d operations pending before the test", base.Pending)
	}

	mc.Freeze()
	clients := make([]*client, len(paths))
	for i, path := range paths {
		clients[i] = dial(t, p.addr)
		clients[i].send(request("GET", path))
		waitOps(base.Ops + uint64(i) + 1) // this client's lookup has started
	}
	if got := state().Writes - base.Writes; got != 1 {
		t.Errorf("%d writes while memcached owed A its reply, want 1 (A's mg alone)", got)
	}
	mc.Thaw()
	for i, c := range clients {
		resp := c.read("GET")
		if string(resp.body) != "page "+paths[i] || resp.xcache() != "HIT" {
			t.Fatalf("%s: %s %q", paths[i], resp.xcache(), resp.body)
		}
	}
	if got := state().Writes - base.Writes; got != 2 {
		t.Errorf("%d writes for 4 lookups, want 2 (A's, then B's, C's and D's together)", got)
	}
}
