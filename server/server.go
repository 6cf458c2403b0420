// Package server is mcpage's front end: gnet event loops that parse HTTP/1.1
// with httpparse, answer hits from the page store on the loop that received
// the request, and hand misses to the upstream worker pool, writing every
// response in request order.
//
// Threading model. Each client connection belongs to one event loop for its
// whole life; all of its state (parser, response queue, timers) is touched
// only on that loop, so none of it is locked. The page store handle is per
// loop too. The only other goroutines are the upstream workers, which never
// touch connection state: they compute a complete response (and the record to
// store) and hand it back to the connection's loop with EventLoop.Execute,
// where it is queued in order. AsyncWrite is never used, because it can
// overtake an earlier Execute under load.
package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

// Sentinel errors.
var (
	// ErrNoListen is returned by New when Config.Listen is empty.
	ErrNoListen = errors.New("server: no listen address")
	// ErrStopped is returned by Serve when it is called after Shutdown.
	ErrStopped = errors.New("server: stopped")
)

// Server is one mcpage instance. Create it with New, run it with Serve, stop it
// with Shutdown (from any goroutine).
type Server struct {
	gnet.BuiltinEventEngine

	cfg       Config
	reqRules  cachepolicy.RequestRules
	keyPrefix []byte
	pool      *upstream.Pool
	embedded  *pagestore.Embedded // nil when cfg.NewStore is set

	mu     sync.Mutex
	loops  map[gnet.EventLoop]*loop
	engine gnet.Engine
	booted chan struct{}

	inflight atomic.Int64 // requests accepted and not yet answered
	draining atomic.Bool
	stopped  atomic.Bool
	stats    Stats
}

// New validates cfg and builds a Server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		return nil, ErrNoListen
	}
	c := cfg.withDefaults()
	pool, err := upstream.New(c.Upstream)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       c,
		reqRules:  cachepolicy.RequestRules{BypassCookie: c.BypassCookie},
		keyPrefix: []byte(c.KeyPrefix),
		pool:      pool,
		loops:     make(map[gnet.EventLoop]*loop),
		booted:    make(chan struct{}),
	}
	if c.NewStore == nil {
		e, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: c.StoreSize})
		if err != nil {
			pool.Close()
			return nil, err
		}
		s.embedded = e
	}
	return s, nil
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.booted }

// Serve listens and runs the event loops; it blocks until Shutdown stops them.
func (s *Server) Serve() error {
	if s.stopped.Load() {
		return ErrStopped
	}
	loops := s.cfg.Loops
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	err := gnet.Run(s, "tcp://"+s.cfg.Listen,
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(false),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.cfg.Logger}),
	)
	if s.pool != nil {
		s.pool.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if err != nil && s.stopped.Load() {
		return nil
	}
	return err
}

// Shutdown stops accepting new connections, lets responses in flight finish
// (bounded by ctx and Config.ShutdownTimeout), then stops the loops. Serve
// returns after that. Safe to call from any goroutine, more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	s.draining.Store(true)
	select {
	case <-s.booted:
	default:
		return nil // never started
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			s.cfg.Logger.Warn("shutdown: responses still in flight at deadline", "inflight", s.inflight.Load())
			return s.stopEngine()
		case <-t.C:
		}
	}
	return s.stopEngine()
}

func (s *Server) stopEngine() error {
	s.mu.Lock()
	eng := s.engine
	s.mu.Unlock()
	if err := eng.Stop(context.Background()); err != nil {
		return fmt.Errorf("server: stop: %w", err)
	}
	return nil
}

// OnBoot records the engine so Shutdown can stop it.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.mu.Lock()
	s.engine = eng
	s.mu.Unlock()
	close(s.booted)
	return gnet.None
}

// loopFor returns the per-loop state of el, creating it on first use. It is
// called on el's own goroutine (from OnOpen), so the loop state it creates is
// initialised on the loop that owns it.
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	s.mu.Lock()
	l := s.loops[el]
	if l == nil {
		l = newLoop(s, el, len(s.loops))
		s.loops[el] = l
	}
	s.mu.Unlock()
	return l
}

// OnOpen attaches connection state. While draining, new connections are
// closed at once: the listener cannot be closed separately from the engine.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	l := s.loopFor(c.EventLoop())
	c.SetContext(l.newConn(c))
	s.stats.Conns.Add(1)
	return nil, gnet.None
}

// OnClose releases the connection's state; responses still being fetched are
// dropped when they come back.
func (s *Server) OnClose(c gnet.Conn, _ error) gnet.Action {
	if cn, ok := c.Context().(*conn); ok {
		cn.release()
	}
	return gnet.None
}

// OnTraffic parses and dispatches every complete request in the buffer.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return cn.onTraffic()
}

// OnTick hands the timeout sweep to every loop; the sweep itself runs on the
// loop, since connection state is loop-only.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.mu.Lock()
	for _, l := range s.loops {
		_ = l.el.Execute(context.Background(), l)
	}
	s.mu.Unlock()
	return sweepInterval(s.cfg.ReadTimeout), gnet.None
}

// sweepInterval is how often idle connections are looked at: often enough
// that a timeout fires within a tenth of its length (at most a second late).
func sweepInterval(timeout time.Duration) time.Duration {
	d := timeout / 10
	if d > time.Second {
		d = time.Second
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// Stats are counters for tests and the operator.
type Stats struct {
	Conns       atomic.Int64 // connections accepted
	Hits        atomic.Int64
	Misses      atomic.Int64 // cacheable requests sent upstream
	Passes      atomic.Int64 // requests forwarded without caching
	Stores      atomic.Int64 // records written to the store
	Errors      atomic.Int64 // error responses generated by mcpage (4xx for bad input, 5xx for upstream failures)
	StoreErrors atomic.Int64 // store lookups that failed (served as misses)
	Upstream    atomic.Int64 // upstream exchanges started
}

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return &s.stats }
