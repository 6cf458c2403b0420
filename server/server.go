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
// overtake an earlier Execute under load. New connections are accepted by one
// goroutine of the server's own, which hands each to a loop (accept.go) and
// never touches it again.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	gneterrors "github.com/panjf2000/gnet/v2/pkg/errors"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

// Sentinel errors.
var (
	// ErrNoListen is returned by New when Config.Listen is empty.
	ErrNoListen = errors.New("server: no listen address")
	// ErrStopped is returned by Serve when it is called after Shutdown, or a
	// second time.
	ErrStopped = errors.New("server: stopped")
	// ErrEngineStopped is returned by Serve when the event loops stopped
	// without Shutdown having asked them to.
	ErrEngineStopped = errors.New("server: engine stopped unexpectedly")
	// ErrGrace is returned by New when Config.Grace or StaleIfError exceeds
	// MaxStaleKeep.
	ErrGrace = errors.New("server: grace or stale-if-error longer than MaxStaleKeep")
)

// Server is one mcpage instance. Create it with New, run it with Serve, stop it
// with Shutdown (from any goroutine).
type Server struct {
	cfg       Config
	reqRules  cachepolicy.RequestRules
	keyPrefix []byte
	// maxVariants is Config.MaxVariants (vary.go).
	maxVariants int
	pool        *upstream.Pool
	embedded    *pagestore.Embedded // nil when cfg.NewStore is set

	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop
	// loopView is a read-only copy of loops, replaced whenever a loop is added.
	loopView atomic.Pointer[map[gnet.EventLoop]*loop]
	engine   gnet.Engine
	booted   chan struct{} // closed by OnBoot, under mu

	// Accepting (accept.go). The server accepts on its own listener and hands
	// each connection to the engine; gnet listens only on an unreachable
	// placeholder socket (see placeholderListener).
	ln          net.Listener                            // set by Serve under mu; nil before
	lnClosed    atomic.Bool                             // set when the server itself closes ln
	acceptStop  chan struct{}                           // closed with ln: ends the accept goroutine's pauses
	loopsUp     chan struct{}                           // closed on the first tick: the engine takes Register calls
	acceptDone  chan struct{}                           // closed when the accept goroutine returns
	engineDone  chan struct{}                           // closed when the engine has stopped
	acceptErr   error                                   // under mu: the permanent accept failure that stopped the engine
	placeholder string                                  // directory holding the placeholder socket, removed in OnBoot
	listenFn    func(addr string) (net.Listener, error) // nil → listen; tests wrap it

	fills      fillRegistry // cache fills in flight, for coalescing (coalesce.go)
	inflight   atomic.Int64 // requests accepted and not yet answered
	draining   atomic.Bool
	stopped    atomic.Bool // Shutdown was called
	serving    atomic.Bool // Serve was called
	stopCalled atomic.Bool // Shutdown stopped the engine (or refused to start it)
	stats      Stats
	metrics    *serverMetrics // metrics.go
	alog       *accessLog     // accesslog.go; nil without Config.AccessLog
	drain      drainState     // drain.go
	upstreams  []string       // the pool's addresses, "host:port"
}

// New validates cfg and builds a Server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		return nil, ErrNoListen
	}
	if cfg.Grace > MaxStaleKeep || cfg.StaleIfError > MaxStaleKeep {
		return nil, ErrGrace
	}
	c := cfg.withDefaults()
	m := newServerMetrics()
	upCfg := c.Upstream
	obs := upCfg.Observe
	upCfg.Observe = func(j *upstream.Job, took time.Duration) {
		m.observeUpstream(j, took)
		if x, ok := j.Ctx.(*exchange); ok {
			x.took = took // the access log's upstream time; the loop reads it in x.Run
		}
		if obs != nil {
			obs(j, took)
		}
	}
	pool, err := upstream.New(upCfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		metrics:     m,
		upstreams:   pool.Config().Addrs,
		cfg:         c,
		reqRules:    cachepolicy.RequestRules{BypassCookie: c.BypassCookie},
		keyPrefix:   []byte(c.KeyPrefix),
		maxVariants: c.MaxVariants,
		pool:        pool,
		loops:       make(map[gnet.EventLoop]*loop),
		fills:       fillRegistry{m: make(map[string][]waiter)},
		booted:      make(chan struct{}),
		acceptStop:  make(chan struct{}),
		loopsUp:     make(chan struct{}),
		acceptDone:  make(chan struct{}),
		engineDone:  make(chan struct{}),
	}
	m.set.RegisterMetricsWriter(s.writeCounters)
	if c.NewStore == nil {
		e, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: c.StoreSize})
		if err != nil {
			pool.Close()
			return nil, err
		}
		s.embedded = e
	}
	if c.AccessLog != nil {
		s.alog = newAccessLog(&c, &s.stats.AccessLogDropped)
	}
	return s, nil
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.booted }

// Addr is the address the server listens on, with the port the system chose
// when Config.Listen asked for port 0. It is set once Ready is closed; nil
// before Serve has bound the listener.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve listens and runs the event loops; it blocks until Shutdown stops them.
// It returns nil only after Shutdown: a listen address it cannot bind, a
// listener that fails for good, or event loops that stop by themselves all
// make it return an error.
//
// The server accepts connections itself (accept.go) rather than letting gnet
// do it: gnet's acceptor stops the whole engine on any accept error other than
// EAGAIN, EINTR, ECONNRESET or ECONNABORTED, so running out of file
// descriptors (EMFILE) would end the process. gnet listens only on a
// placeholder socket nobody can reach, which it needs for Engine.Register and
// Engine.Stop to work at all.
func (s *Server) Serve() error {
	if s.stopped.Load() || s.serving.Swap(true) {
		return ErrStopped
	}
	defer s.closeResources()
	listenFn := s.listenFn
	if listenFn == nil {
		listenFn = s.listenConfigured // drain.go
	}
	ln, err := listenFn(s.cfg.Listen)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	defer s.closeListener()

	ph, dir, err := placeholderListener()
	if err != nil {
		return err
	}
	s.placeholder = dir
	defer removePlaceholder(dir)

	loops := s.cfg.Loops
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	err = gnet.Rotate(&engineHandler{s: s}, []string{ph},
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(false),
		// Register is called from the accept goroutine: RoundRobin's
		// counter is not safe for that, LeastConnections reads atomics.
		gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.cfg.Logger}),
	)
	close(s.engineDone)
	s.closeListener()
	if s.bootedNow() {
		<-s.acceptDone
	}

	s.mu.Lock()
	acceptErr := s.acceptErr
	s.mu.Unlock()
	switch {
	case acceptErr != nil:
		return acceptErr
	case s.stopCalled.Load():
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", ErrEngineStopped, err)
	default:
		return ErrEngineStopped
	}
}

// closeResources releases what New created, once Serve is over.
//
// Closing the upstream pool waits for exchanges in flight, which the
// upstream timeout bounds; Serve waits for that at most ShutdownTimeout (a
// Shutdown that reached its deadline has already dropped their clients) and
// leaves the rest to finish in the background.
func (s *Server) closeResources() {
	if s.pool != nil {
		closed := make(chan struct{})
		go func() {
			s.pool.Close()
			close(closed)
		}()
		t := time.NewTimer(s.cfg.ShutdownTimeout)
		select {
		case <-closed:
		case <-t.C:
			s.cfg.Logger.Warn("shutdown: upstream exchanges still running; not waiting for them")
		}
		t.Stop()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	s.closeAccessLog() // the loops have stopped
}

// bootedNow reports whether OnBoot has let the engine start.
func (s *Server) bootedNow() bool {
	select {
	case <-s.booted:
		return true
	default:
		return false
	}
}

// Shutdown stops accepting new connections (the listener is closed, so new
// clients are refused rather than accepted and dropped), lets responses in
// flight finish (bounded by ctx and Config.ShutdownTimeout), then stops the
// loops. Serve returns after that. Safe to call from any goroutine, more than
// once. Drain (drain.go) stops without cutting off any client instead.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	s.draining.Store(true)
	s.closeListener()
	// OnBoot checks stopped under mu: either it has already let the engine
	// start (booted is closed), or it will see stopped and refuse to.
	s.mu.Lock()
	booted := s.bootedNow()
	s.mu.Unlock()
	if !booted {
		return nil // never started, or will not start
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	// The accept goroutine ends at once now that the listener is closed; a
	// connection it was handing over is registered (and closed by OnOpen).
	select {
	case <-s.acceptDone:
	case <-ctx.Done():
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			s.cfg.Logger.Warn("shutdown: responses still in flight at deadline", "inflight", s.inflight.Load())
			return s.closeAndStop()
		case <-t.C:
		}
	}
	// Pages fetched before the shutdown are still being written to a network
	// store: wait for them too, within the same deadline.
	for s.storesPending(ctx) > 0 {
		select {
		case <-ctx.Done():
			s.cfg.Logger.Warn("shutdown: store operations still in flight at deadline")
			return s.closeAndStop()
		case <-t.C:
		}
	}
	return s.closeAndStop()
}

// closeAndStop closes every loop's store on its loop, then stops the engine.
func (s *Server) closeAndStop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	s.closeStores(ctx)
	cancel()
	err := s.stopEngine()
	if err == nil {
		s.closeAccessLog() // the loops have stopped: write what they logged
	}
	return err
}

func (s *Server) stopEngine() error {
	s.mu.Lock()
	eng := s.engine
	s.mu.Unlock()
	s.stopCalled.Store(true)
	err := eng.Stop(context.Background())
	if err != nil && !errors.Is(err, gneterrors.ErrEngineInShutdown) {
		// ErrEngineInShutdown: the engine had already stopped by itself,
		// which Serve reports.
		return fmt.Errorf("server: stop: %w", err)
	}
	return nil
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
	Coalesced   atomic.Int64 // misses that waited for a fill of the same page in flight instead of going upstream
	StaleHits   atomic.Int64 // requests answered with a stale page (X-Cache: STALE): while it was refreshed, or instead of an origin failure
	Refreshes   atomic.Int64 // background refreshes of stale pages started
	// AccessLogDropped counts access log lines not written: their loop's
	// buffer found the writer behind, or the write failed.
	AccessLogDropped atomic.Int64
	// ProxyRejected counts connections closed for their PROXY protocol
	// header: missing or malformed from a peer in ProxyAllow, present from
	// another (proxy.go).
	ProxyRejected atomic.Int64
}

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return &s.stats }

// loopOf returns el's loop state, or nil if no client has used el yet. It
// takes no lock: store connections' events call it on every reply.
func (s *Server) loopOf(el gnet.EventLoop) *loop {
	if m := s.loopView.Load(); m != nil {
		return (*m)[el]
	}
	return nil
}

// loopFor returns the per-loop state of el, creating it on first use. It is
// called on el's own goroutine (from OnOpen), so the loop state it creates is
// initialised on the loop that owns it.
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	if l := s.loopOf(el); l != nil {
		return l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = newLoop(s, el, len(s.loops))
		s.loops[el] = l
		view := make(map[gnet.EventLoop]*loop, len(s.loops))
		for k, v := range s.loops {
			view[k] = v
		}
		s.loopView.Store(&view) // copy on write: loops are added at most Loops times
	}
	return l
}

// clock reads Config.Clock. Any goroutine.
func (s *Server) clock() time.Time { return s.cfg.Clock() }
