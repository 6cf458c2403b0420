package mcclient

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpage/mcpage/mcclient/ketama"
)

// Client is the goroutine-safe driver, for tools, tests and programs without
// an event loop. Any number of goroutines may call its methods at once; each
// call blocks until its reply (or failure) and returns it.
//
// Calls to one server share Config.ConnsPerServer connections with
// automatic pipelining: a caller appends its command to the connection's
// buffer and, unless another caller is already writing, writes everything
// buffered in one syscall. If nobody is reading the connection, the caller
// reads its reply itself (a lone caller costs what a plain
// request-response client does); otherwise the current reader hands it its
// reply. Concurrent callers' commands coalesce into few large writes and
// their replies into few large reads.
type Client struct {
	ring    *ketama.Ring
	cfg     Config
	servers []*clientServer
	alive   func(i int) bool // bound once: PickLive must not allocate
	calls   sync.Pool        // *call
	closed  atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// clientServer is one memcached server of a Client.
type clientServer struct {
	addr  string
	conns []*clientConn
	next  atomic.Uint32 // round-robin cursor

	mu sync.Mutex
	h  health // under mu
	// Mirrors of h for the lock-free fast paths.
	ejectedUntil atomic.Int64
	failing      atomic.Bool
}

// New returns a Client for the servers of ring. It starts dialing every
// connection in the background and returns without waiting; operations
// issued meanwhile queue until the connection is up (or fail after
// OpTimeout). Close releases it.
func New(ring *ketama.Ring, cfg Config) (*Client, error) {
	if ring == nil || ring.Len() == 0 {
		return nil, ErrBadOptions
	}
	cfg = cfg.withDefaults()
	cl := &Client{ring: ring, cfg: cfg, stop: make(chan struct{})}
	cl.alive = cl.isAlive
	cl.calls.New = func() any { return &call{done: make(chan struct{}, 1)} }
	for _, s := range ring.Servers() {
		srv := &clientServer{addr: s.Addr, conns: make([]*clientConn, cfg.ConnsPerServer)}
		for j := range srv.conns {
			c := &clientConn{cl: cl, srv: srv, st: newConnState(cfg.MaxPending, cfg.MaxValueSize),
				phase: phaseDialing, wake: make(chan struct{}, 1), lead: make(chan struct{}, 1),
				broken: make(chan struct{}, 1)}
			c.turn.L = &c.mu
			srv.conns[j] = c
			cl.wg.Add(1)
			go c.run()
		}
		cl.servers = append(cl.servers, srv)
	}
	cl.wg.Add(1)
	go cl.sweeper()
	return cl, nil
}

func (cl *Client) isAlive(i int) bool {
	u := cl.servers[i].ejectedUntil.Load()
	return u == 0 || time.Now().UnixNano() >= u
}

// call is one blocked caller: the Handler its operation completes.
type call struct {
	done     chan struct{} // capacity 1: the one completion never blocks the reader
	dst      []byte
	res      Result
	finished bool // set with res, under the connection's mutex
}

// OnResult copies what the caller keeps out of the reader's buffer.
func (k *call) OnResult(_ uint64, r *Result) {
	k.res = *r
	if r.Value != nil {
		k.res.Value = append(k.dst, r.Value...)
	}
	if r.Message != nil {
		k.res.Message = append([]byte(nil), r.Message...)
	}
	k.finished = true
	k.done <- struct{}{}
}

// Get fetches key. A hit has Status StatusOK with the value appended to dst
// in Result.Value (nil for an empty value and a nil dst); a miss has
// StatusMiss and is not an error. err is Result.Err.
func (cl *Client) Get(key, dst []byte, opt GetOptions) (Result, error) {
	return cl.do(key, dst, func(st *connState, k *call, deadline int64) error {
		return st.get(key, opt, k, 0, deadline)
	})
}

// Set stores value under key (StatusOK; StatusNotStored, StatusExists or
// StatusNotFound when opt's conditions fail). value is not retained.
func (cl *Client) Set(key, value []byte, opt SetOptions) (Result, error) {
	if len(value) >= directWriteMin {
		return cl.setDirect(key, value, opt)
	}
	return cl.do(key, nil, func(st *connState, k *call, deadline int64) error {
		return st.set(key, value, opt, k, 0, deadline)
	})
}

// Delete deletes key (StatusOK, or StatusNotFound), or with opt.Invalidate
// marks it stale.
func (cl *Client) Delete(key []byte, opt DeleteOptions) (Result, error) {
	return cl.do(key, nil, func(st *connState, k *call, deadline int64) error {
		return st.delete(key, opt, k, 0, deadline)
	})
}

// Arith increments or decrements the counter under key; Result.Number is
// its new value.
func (cl *Client) Arith(key []byte, opt ArithOptions) (Result, error) {
	return cl.do(key, nil, func(st *connState, k *call, deadline int64) error {
		return st.arith(key, opt, k, 0, deadline)
	})
}

// Noop sends mn to server i (an index into the ring's servers) and waits
// for MN: a round trip through the pipeline, e.g. a health check.
func (cl *Client) Noop(i int) error {
	if i < 0 || i >= len(cl.servers) {
		return ErrBadOptions
	}
	_, err := cl.doOn(cl.servers[i], nil, func(st *connState, k *call, deadline int64) error {
		return st.noop(k, 0, deadline)
	})
	return err
}

// do runs one operation on key's server and waits for its result.
func (cl *Client) do(key, dst []byte, start func(*connState, *call, int64) error) (Result, error) {
	srv, err := cl.server(key)
	if err != nil {
		return Result{Err: err}, err
	}
	return cl.doOn(srv, dst, start)
}

// server returns key's server: its place on the ring, skipping ejected ones.
func (cl *Client) server(key []byte) (*clientServer, error) {
	if cl.closed.Load() {
		return nil, ErrClosed
	}
	i := cl.ring.PickLive(key, cl.alive)
	if i < 0 {
		return nil, ErrNoServer
	}
	return cl.servers[i], nil
}

func (cl *Client) doOn(srv *clientServer, dst []byte, start func(*connState, *call, int64) error) (Result, error) {
	c, err := srv.lockConn()
	if err != nil {
		return Result{Err: err}, err
	}
	k := cl.calls.Get().(*call)
	k.dst = dst
	if err := start(&c.st, k, time.Now().UnixNano()+int64(cl.cfg.OpTimeout)); err != nil {
		c.mu.Unlock()
		return cl.release(k, err)
	}
	c.flushAndWait(k)
	return cl.release(k, nil)
}

// release returns k to the pool, and with it k's result, or err if the
// operation never started.
func (cl *Client) release(k *call, err error) (Result, error) {
	res := k.res
	if err != nil {
		res = Result{Err: err}
	}
	k.res, k.dst, k.finished = Result{}, nil, false
	cl.calls.Put(k)
	return res, res.Err
}

// setDirect stores a large value without copying it into the shared
// output buffer: the caller waits for the write turn and writes the value
// from its own memory, in order after everything queued before it. Its
// memory is safe to reuse once Set returns, since the caller itself does
// the write and Set cannot return before it.
func (cl *Client) setDirect(key, value []byte, opt SetOptions) (Result, error) {
	srv, err := cl.server(key)
	if err != nil {
		return Result{Err: err}, err
	}
	c, err := srv.lockConn()
	if err != nil {
		return Result{Err: err}, err
	}
	for c.writing && c.phase == phaseUp {
		c.turn.Wait()
	}
	if err := c.admitLocked(); err != nil { // the connection broke while we waited
		c.mu.Unlock()
		return Result{Err: err}, err
	}
	k := cl.calls.Get().(*call)
	deadline := time.Now().UnixNano() + int64(cl.cfg.OpTimeout)
	direct := c.phase == phaseUp
	if direct {
		err = c.st.setHeader(key, len(value), opt, k, 0, deadline)
	} else { // dialing: queue a copy like any command
		err = c.st.set(key, value, opt, k, 0, deadline)
	}
	if err != nil {
		c.mu.Unlock()
		return cl.release(k, err)
	}
	if direct {
		c.writeDirect(value)
	}
	c.flushAndWait(k)
	return cl.release(k, nil)
}

// lockConn returns, locked, the next connection (round-robin) that takes
// operations: up, or dialing (they queue). An idle one is told to dial.
func (s *clientServer) lockConn() (*clientConn, error) {
	n := uint32(len(s.conns))
	first := s.next.Add(1)
	err := ErrServerDown
	for j := range n {
		c := s.conns[(first+j)%n]
		c.mu.Lock()
		if err = c.admitLocked(); err == nil {
			return c, nil
		}
		c.mu.Unlock()
		if err == ErrClosed {
			break
		}
	}
	return nil, err
}

// admitLocked reports whether the connection takes an operation now: nil
// when up or dialing (an idle one starts dialing), ErrServerDown while it
// backs off, ErrClosed once the client is closed.
func (c *clientConn) admitLocked() error {
	switch c.phase {
	case phaseUp, phaseDialing:
		return nil
	case phaseIdle:
		c.phase = phaseDialing
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return nil
	case phaseClosed:
		return ErrClosed
	}
	return ErrServerDown
}

// sweeper enforces operation deadlines: a connection whose oldest operation
// is overdue is closed, which fails everything pending on it with ErrTimeout.
func (cl *Client) sweeper() {
	defer cl.wg.Done()
	t := time.NewTicker(sweepEvery(cl.cfg.OpTimeout))
	defer t.Stop()
	for {
		select {
		case <-cl.stop:
			return
		case now := <-t.C:
			n := now.UnixNano()
			for _, s := range cl.servers {
				for _, c := range s.conns {
					c.sweep(n)
				}
			}
		}
	}
}

// sweepEvery is the deadline check period: a tenth of the timeout, so an
// operation fails at most 10% late, within [1ms, 100ms].
func sweepEvery(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Millisecond), 100*time.Millisecond)
}

// Close fails every pending and later operation with ErrClosed, closes the
// connections and waits for the client's goroutines to end. Any goroutine
// may call it, once or more.
func (cl *Client) Close() error {
	if !cl.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(cl.stop)
	for _, s := range cl.servers {
		for _, c := range s.conns {
			c.mu.Lock()
			c.phase = phaseClosed
			if c.nc != nil {
				_ = c.nc.Close()
			}
			c.st.failAll(ErrClosed)
			c.mu.Unlock()
		}
	}
	cl.wg.Wait()
	return nil
}
