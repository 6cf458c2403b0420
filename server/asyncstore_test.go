package server_test

// The asynchronous store seam: stores that answer later on the loop, that
// fail earlier lookups from inside a later Get (as a memcached connection
// whose write fails does), and the optional hooks a network store needs.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/pagestore"
)

var errStoreDown = errors.New("test store: connection failed")

// asyncStore keeps pages in an embedded store but answers every Get later,
// from the loop's event queue, as a network store does. With failEarlier,
// each Get first fails every lookup still pending, from inside Get.
type asyncStore struct {
	el          gnet.EventLoop
	inner       *pagestore.Embedded
	failEarlier bool
	pending     []pendingGet // loop-only
	answered    *atomic.Int64
	failed      *atomic.Int64
}

type pendingGet struct {
	key   string
	h     pagestore.Handler
	token uint64
}

func (s *asyncStore) Get(key []byte, h pagestore.Handler, token uint64) {
	if s.failEarlier {
		earlier := s.pending
		s.pending = nil
		for _, g := range earlier {
			s.failed.Add(1)
			g.h.PageLookup(g.token, nil, 0, errStoreDown)
		}
	}
	s.pending = append(s.pending, pendingGet{string(key), h, token})
	_ = s.el.Execute(context.Background(), runnable(func() {
		// Answer whatever is still pending, oldest first.
		todo := s.pending
		s.pending = nil
		for _, g := range todo {
			var rec []byte
			s.inner.Get([]byte(g.key), handlerFunc(func(_ uint64, r []byte, _ error) {
				rec = append([]byte(nil), r...) // the reply buffer is the store's
				if r == nil {
					rec = nil
				}
			}), 0)
			s.answered.Add(1)
			g.h.PageLookup(g.token, rec, 0, nil)
			// A network store reuses its reply buffer: scribble over it, so
			// a response that kept a view of it instead of copying is caught.
			for i := range rec {
				rec[i] = 'X'
			}
		}
	}))
}

func (s *asyncStore) Set(key, rec []byte, ttl time.Duration) { s.inner.Set(key, rec, ttl) }
func (s *asyncStore) Delete(key []byte)                      { s.inner.Delete(key) }

type runnable func()

func (f runnable) Run(context.Context) error { f(); return nil }

type handlerFunc func(uint64, []byte, error)

func (f handlerFunc) PageLookup(t uint64, r []byte, _ pagestore.State, err error) { f(t, r, err) }

// Every pipelined response must be the answer to its own request, whether
// the store answers later or fails earlier lookups from inside a later Get.
func TestAsyncStoreMatchesByToken(t *testing.T) {
	for _, failEarlier := range []bool{false, true} {
		t.Run(fmt.Sprintf("failEarlier=%v", failEarlier), func(t *testing.T) {
			o := newOrigin(t)
			o.handle("/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				fmt.Fprint(w, "page "+r.URL.Path)
			})
			o.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // makes the hits behind it likely to wait in their slots
				w.Header().Set("Cache-Control", "no-store")
				fmt.Fprint(w, "slow")
			})
			inner, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			var answered, failed atomic.Int64
			p := startProxy(t, o.addr(), func(c *server.Config) {
				c.Loops = 1
				c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
					return &asyncStore{el: el, inner: inner, failEarlier: failEarlier, answered: &answered, failed: &failed}
				}
			})
			c := dial(t, p.addr)
			for round := 0; round < 3; round++ { // misses, then hits (and misses when lookups fail)
				var b strings.Builder
				b.WriteString(request("GET", "/slow"))
				for i := 0; i < 20; i++ {
					b.WriteString(request("GET", fmt.Sprintf("/p%d", i)))
				}
				c.send(b.String())
				if r := c.read("GET"); string(r.body) != "slow" {
					t.Fatalf("round %d: first response %q", round, r.body)
				}
				for i := 0; i < 20; i++ {
					r := c.read("GET")
					if want := fmt.Sprintf("page /p%d", i); string(r.body) != want {
						t.Fatalf("round %d response %d: %q (%s), want %q", round, i, r.body, r.xcache(), want)
					}
					if round > 0 && !failEarlier && r.xcache() != "HIT" {
						t.Fatalf("round %d response %d: %s, want HIT", round, i, r.xcache())
					}
				}
			}
			if answered.Load() == 0 || failEarlier && failed.Load() == 0 {
				t.Fatalf("the store answered %d later and failed %d early", answered.Load(), failed.Load())
			}
		})
	}
}

// hookStore records the optional hooks' calls.
type hookStore struct {
	pagestore.Store
	mu                     sync.Mutex
	corks, uncorks, sweeps int
	depth                  int
	pendingLeft            int // Pending reports this many, counting down per call
	pendingCalls           int
	closed                 int
	closedAfterPending0    bool
	swept                  chan struct{}
}

func (h *hookStore) Cork() { h.mu.Lock(); h.corks++; h.depth++; h.mu.Unlock() }
func (h *hookStore) Uncork() {
	h.mu.Lock()
	h.uncorks++
	h.depth--
	h.mu.Unlock()
}
func (h *hookStore) Sweep(time.Time) {
	h.mu.Lock()
	h.sweeps++
	if h.sweeps == 3 {
		close(h.swept)
	}
	h.mu.Unlock()
}
func (h *hookStore) SweepEvery() time.Duration { return time.Millisecond }
func (h *hookStore) Pending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pendingCalls++
	if h.pendingLeft > 0 {
		h.pendingLeft--
		return 1
	}
	return 0
}
func (h *hookStore) Close() {
	h.mu.Lock()
	h.closed++
	h.closedAfterPending0 = h.pendingLeft == 0
	h.mu.Unlock()
}

// A network store gets Cork/Uncork around each client read, its own sweep
// timer, a shutdown that waits for its pending operations, and Close on its
// loop before the engine stops.
func TestStoreHooks(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") })
	inner, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	hs := &hookStore{Store: inner, pendingLeft: 5, swept: make(chan struct{})}
	cfg := server.Config{Listen: "127.0.0.1:0", Loops: 1}
	cfg.Upstream.Addrs = []string{o.addr()}
	cfg.NewStore = func(int, gnet.EventLoop) pagestore.Store { return hs }
	s, done := runServer(t, cfg)
	c := dial(t, s.Addr().String())
	c.get("/a")
	c.get("/a")
	select {
	case <-hs.swept:
	case <-time.After(10 * time.Second):
		t.Fatal("the store's sweep did not run")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.corks == 0 || hs.corks != hs.uncorks || hs.depth != 0 {
		t.Errorf("cork %d, uncork %d", hs.corks, hs.uncorks)
	}
	if hs.pendingCalls < 6 || hs.pendingLeft != 0 {
		t.Errorf("shutdown asked Pending %d times (%d left): it did not wait for the store", hs.pendingCalls, hs.pendingLeft)
	}
	if hs.closed != 1 || !hs.closedAfterPending0 {
		t.Errorf("Close called %d times (after pending drained: %v)", hs.closed, hs.closedAfterPending0)
	}
}
