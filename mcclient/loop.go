package mcclient

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/mcclient/ketama"
)

// LoopClient is the loop-affine driver: its connections are owned by one
// gnet event loop, which also runs every callback. It takes no locks and
// starts no goroutine per operation; dialing happens on a short-lived
// goroutine and the connection is then enrolled on the loop.
//
// Everything except NewLoopClient must be called on the loop's goroutine:
// from the host's event handlers, from EventLoop.Execute runnables, or from
// a Handler. The host must forward the events of LoopClient connections
// (see LoopConnHandler) and call Sweep on the loop periodically.
//
// Commands queued while the client is corked (Cork/Uncork, and always
// during its own callbacks and Sweep) go out together when the outermost
// Uncork runs; otherwise each is written at once. "Together" is bounded: a
// connection hands gnet at most loopWriteMax bytes per write, cut at
// command boundaries (a larger command goes alone), and writes on only
// while gnet holds less than that for it. The rest waits in the
// connection's own queue, to be written after the loop's other ready
// events or at the next reply. So a loop with many large values in flight
// neither builds one huge batch nor grows gnet's outbound buffer past two
// slices, and its other connections are served between slices.
type LoopClient struct {
	el      gnet.EventLoop
	ring    *ketama.Ring
	cfg     Config
	servers []loopServer
	alive   func(i int) bool // bound once: PickLive must not allocate
	now     int64            // time of the pick in progress, read by alive
	corked  int
	dirty   []*loopConn // connections with unsent commands; capacity for all
	closed  bool
}

// loopWriteMax bounds the bytes a connection hands gnet in one write. The
// socket takes them at once or gnet copies the rest into its outbound
// buffer, which thus holds less than two of them. 1 MiB, memcached's
// default item size limit, so that the largest value goes in one slice.
// Measured with sets of 100 KB, 256 in flight on one loop
// (bench/mcclient_bench_test.go, medians of 6 alternating runs on a
// loaded 2-core machine): 21k sets/s against 14k with 256 KiB slices
// (each slice costs a turn of the loop) and 23k with 512 KiB, while a task
// queued on the loop waited at most 8 ms in 99% of cases, as with smaller
// slices, against 42 ms with the whole backlog written at once.
const loopWriteMax = 1 << 20

// loopServer is one memcached server as seen from one loop.
type loopServer struct {
	addr  string
	conns []*loopConn
	next  int // round-robin cursor over conns
	h     health
	stats serverStats
}

// connPhase is where a connection is in its life.
type connPhase uint8

const (
	phaseIdle    connPhase = iota // no connection; dial on the next operation or Sweep
	phaseDialing                  // dialing off the loop; operations queue
	phaseUp                       // enrolled and open
	phaseBackoff                  // lost; no dial before retryAt, operations fail with ErrServerDown
	phaseClosed                   // the client was closed
)

// loopConn drives one connState over one gnet connection at a time.
type loopConn struct {
	lc        *LoopClient
	srv       *loopServer
	st        connState
	phase     connPhase
	link      *loopLink // current connection attempt; nil when idle or backing off
	retryAt   int64
	dialStart int64
	streak    int // connection failures in a row, for the backoff
	dirty     bool
	resuming  bool // a Run is queued on the loop to write the next slice
	// For tests of the batching and of the write bound: writes handed to
	// gnet, the largest of them, and the most gnet had buffered after one.
	writes      uint64
	maxWrite    int
	maxOutbound int
}

// NewLoopClient returns a client whose connections live on el. It may be
// called from any goroutine; it neither dials nor touches the loop:
// connections are dialed by the first Sweep or the first operation for
// their server.
func NewLoopClient(el gnet.EventLoop, ring *ketama.Ring, cfg Config) (*LoopClient, error) {
	if el == nil || ring == nil || ring.Len() == 0 {
		return nil, ErrBadOptions
	}
	cfg = cfg.withDefaults()
	srvs := ring.Servers()
	lc := &LoopClient{el: el, ring: ring, cfg: cfg, servers: make([]loopServer, len(srvs))}
	lc.alive = lc.isAlive
	lc.dirty = make([]*loopConn, 0, len(srvs)*cfg.ConnsPerServer)
	for i := range lc.servers {
		s := &lc.servers[i]
		s.addr = srvs[i].Addr
		s.conns = make([]*loopConn, cfg.ConnsPerServer)
		for j := range s.conns {
			c := &loopConn{lc: lc, srv: s, st: newConnState(cfg.MaxPending, cfg.MaxValueSize)}
			c.st.sliceMax = loopWriteMax // tests lower it
			s.conns[j] = c
		}
	}
	return lc, nil
}

func (lc *LoopClient) isAlive(i int) bool { return lc.servers[i].h.alive(lc.now) }

// Get starts an mg for key. On a nil return h.OnResult(token, ...) will run
// exactly once, later, on the loop; on error nothing was sent and h is not
// called. key is not retained.
func (lc *LoopClient) Get(key []byte, opt GetOptions, h Handler, token uint64) error {
	c, now, err := lc.pick(key)
	if err != nil {
		return err
	}
	if err := c.st.get(key, opt, h, token, now+int64(lc.cfg.OpTimeout)); err != nil {
		return c.refused(err)
	}
	c.srv.stats.ops++
	lc.queued(c)
	return nil
}

// Set starts an ms storing value under key; like Get. key and value are
// copied before Set returns.
func (lc *LoopClient) Set(key, value []byte, opt SetOptions, h Handler, token uint64) error {
	c, now, err := lc.pick(key)
	if err != nil {
		return err
	}
	if err := c.st.set(key, value, opt, h, token, now+int64(lc.cfg.OpTimeout)); err != nil {
		return c.refused(err)
	}
	c.srv.stats.ops++
	lc.queued(c)
	return nil
}

// Delete starts an md for key (a delete, or with opt.Invalidate a soft
// purge); like Get.
func (lc *LoopClient) Delete(key []byte, opt DeleteOptions, h Handler, token uint64) error {
	c, now, err := lc.pick(key)
	if err != nil {
		return err
	}
	if err := c.st.delete(key, opt, h, token, now+int64(lc.cfg.OpTimeout)); err != nil {
		return c.refused(err)
	}
	c.srv.stats.ops++
	lc.queued(c)
	return nil
}

// Arith starts an ma (increment or decrement) for key; like Get.
func (lc *LoopClient) Arith(key []byte, opt ArithOptions, h Handler, token uint64) error {
	c, now, err := lc.pick(key)
	if err != nil {
		return err
	}
	if err := c.st.arith(key, opt, h, token, now+int64(lc.cfg.OpTimeout)); err != nil {
		return c.refused(err)
	}
	c.srv.stats.ops++
	lc.queued(c)
	return nil
}

// pick returns the connection for key: its server on the ring, skipping
// ejected ones, then the next usable connection to it round-robin. A
// connection that is idle, or whose backoff is over, starts dialing and
// takes the operation into its queue.
func (lc *LoopClient) pick(key []byte) (*loopConn, int64, error) {
	if lc.closed {
		return nil, 0, ErrClosed
	}
	now := time.Now().UnixNano()
	lc.now = now
	i := lc.ring.PickLive(key, lc.alive)
	if i < 0 {
		return nil, now, ErrNoServer
	}
	s := &lc.servers[i]
	for range s.conns {
		c := s.conns[s.next]
		if s.next++; s.next == len(s.conns) {
			s.next = 0
		}
		switch c.phase {
		case phaseUp, phaseDialing:
			return c, now, nil
		case phaseIdle:
			c.dial(now)
			return c, now, nil
		case phaseBackoff:
			if now >= c.retryAt {
				c.dial(now)
				return c, now, nil
			}
		}
	}
	s.stats.ops++
	s.stats.errs[ErrKindRefused]++
	return nil, now, ErrServerDown
}

// refused counts an operation the connection did not take because its
// queue is full, and returns err.
func (c *loopConn) refused(err error) error {
	if err == ErrQueueFull {
		c.srv.stats.ops++
		c.srv.stats.errs[ErrKindRefused]++
	}
	return err
}

// queued notes that c has a command to send and sends it unless corked.
func (lc *LoopClient) queued(c *loopConn) {
	if !c.dirty {
		c.dirty = true
		lc.dirty = append(lc.dirty, c)
	}
	if lc.corked == 0 {
		lc.flush()
	}
}

// Cork holds back writes: commands started until the matching Uncork are
// sent together, one write per connection. Corks nest. Call it on the loop,
// e.g. at the start of an event that may start several operations.
func (lc *LoopClient) Cork() { lc.corked++ }

// Uncork ends a Cork; the outermost one writes everything queued.
func (lc *LoopClient) Uncork() {
	if lc.corked--; lc.corked == 0 {
		lc.flush()
	}
}

// flush writes every dirty connection. Writing can close a connection and
// run handlers that start operations, so it stays corked while it works.
func (lc *LoopClient) flush() {
	lc.corked++
	for len(lc.dirty) > 0 {
		c := lc.dirty[len(lc.dirty)-1]
		lc.dirty = lc.dirty[:len(lc.dirty)-1]
		c.dirty = false
		c.flush()
	}
	lc.corked--
}

// Sweep enforces operation deadlines, times out stuck dials, and redials
// connections whose backoff or server ejection is over (probing ejected
// servers back). The host calls it on the loop periodically — every
// OpTimeout/10 or so, since gnet has no per-connection deadlines — with the
// current time. It also dials every idle connection, so calling it once
// right after NewLoopClient connects ahead of the first operation.
func (lc *LoopClient) Sweep(now time.Time) {
	if lc.closed {
		return
	}
	n := now.UnixNano()
	lc.Cork()
	for i := range lc.servers {
		s := &lc.servers[i]
		for _, c := range s.conns {
			c.sweep(n)
		}
	}
	lc.Uncork()
}

// Close fails every pending operation with ErrClosed and closes the
// connections; later operations fail with ErrClosed. Call it on the loop.
func (lc *LoopClient) Close() {
	if lc.closed {
		return
	}
	lc.closed = true
	for i := range lc.servers {
		for _, c := range lc.servers[i].conns {
			c.drop()
			c.phase = phaseClosed
			c.st.failAll(ErrClosed)
		}
	}
}

// Pending reports how many operations wait for replies on all connections.
// Call it on the loop.
func (lc *LoopClient) Pending() int {
	n := 0
	for i := range lc.servers {
		for _, c := range lc.servers[i].conns {
			n += c.st.pending()
		}
	}
	return n
}
