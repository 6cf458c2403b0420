package mcclient

import (
	"net"
	"sync"
	"time"
)

// readBufSize is the read size per syscall.
const readBufSize = 64 << 10

// directWriteMin is the value size from which Client.Set writes the value
// from the caller's memory instead of copying it into the connection's
// output buffer: copying large values under the lock serialises callers
// and grows the buffer by hundreds of KB per queued command.
const directWriteMin = 4 << 10

// writeBufKeep is the largest output buffer a connection keeps for reuse.
const writeBufKeep = 4 << 20

var crlf = []byte("\r\n")

// idleRead is how long a connection may go unread while idle before its
// goroutine starts reading it, so that a server closing it is noticed
// before the next operation writes into a dead socket.
const idleRead = 100 * time.Millisecond

// Who reads the connection: at most one goroutine at a time.
type readerRole uint8

const (
	readerNone   readerRole = iota
	readerCaller            // a caller, until its own reply arrives
	readerConn              // the connection's goroutine, until nothing is pending
)

// clientConn drives one connState over a net.Conn for a Client. Callers
// hold mu while they queue a command; whoever finds no write in progress
// writes everything queued (with mu released, so others keep queueing).
// Reading is a role: a caller that finds nobody reading reads until its
// own reply arrives, then hands the role to the connection's goroutine if
// other replies are due. That goroutine also dials, redials, and reads an
// idle connection to notice the server closing it.
type clientConn struct {
	cl     *Client
	srv    *clientServer
	wake   chan struct{} // capacity 1: an operation arrived on an idle connection
	lead   chan struct{} // capacity 1: the goroutine is to take the reader role
	broken chan struct{} // capacity 1: breakLocked gave the connection up

	mu      sync.Mutex
	st      connState
	phase   connPhase
	nc      net.Conn
	gen     uint64 // bumped per connection; a reader of an older one only exits
	rbuf    []byte // read buffer of connection gen, owned by its reader
	reader  readerRole
	writing bool        // a caller is writing; others only queue
	turn    sync.Cond   // on mu: signalled when writing ends, for setDirect
	spare   []byte      // the other half of the double-buffered st.out
	iov     [3][]byte   // writev vector of the writer holding the turn
	bufs    net.Buffers // over iov; a field, so WriteTo's pointer does not escape per call
	// Set by breakLocked: why the current connection was given up, and
	// whether operations were pending on it (a failure) or not (an idle
	// connection the server closed).
	reason     error
	hadPending bool
}

// run is the connection's goroutine: dial, serve until the connection
// breaks, back off or wait for demand, dial again; until the client closes.
func (c *clientConn) run() {
	defer c.cl.wg.Done()
	cfg := &c.cl.cfg
	idle := time.NewTimer(idleRead)
	defer idle.Stop()
	streak := 0 // failures in a row, for the backoff
	for {
		nc, err := net.DialTimeout("tcp", c.srv.addr, cfg.ConnectTimeout)
		c.mu.Lock()
		if c.phase == phaseClosed {
			c.mu.Unlock()
			if nc != nil {
				_ = nc.Close()
			}
			return
		}
		if err != nil {
			c.reason, c.hadPending, c.phase = ErrConnect, true, phaseBackoff
			c.st.failAll(ErrConnect)
		} else {
			c.gen++
			gen, buf := c.gen, make([]byte, readBufSize)
			c.nc, c.rbuf, c.phase, c.reason, c.reader = nc, buf, phaseUp, nil, readerNone
			for _, ch := range []chan struct{}{c.broken, c.lead} { // signals about the previous connection
				select {
				case <-ch:
				default:
				}
			}
			answered := c.st.answered
			if c.st.pending() > 0 { // queued while dialing: their callers wait
				c.reader = readerConn
			}
			c.flushLocked()
			if !c.serve(nc, gen, buf, idle) {
				return
			}
			c.mu.Lock()
			if c.st.answered != answered {
				streak = 0
			}
			c.nc = nil
			if c.phase == phaseClosed {
				c.mu.Unlock()
				return
			}
		}
		if !c.hadPending && c.reason == ErrConnClosed {
			// The server closed an idle connection: not a failure. Redial
			// when an operation needs it.
			c.phase = phaseIdle
			c.mu.Unlock()
			select {
			case <-c.wake:
				continue // lockConn set phaseDialing
			case <-c.cl.stop:
				return
			}
		}
		c.mu.Unlock()
		streak++
		now := time.Now().UnixNano()
		until := now + int64(backoff(cfg, streak))
		until = max(until, c.srv.failure(now, cfg))
		if !c.sleepUntil(until) {
			return
		}
		c.mu.Lock()
		if c.phase == phaseClosed {
			c.mu.Unlock()
			return
		}
		c.phase = phaseDialing
		c.mu.Unlock()
	}
}

// serve does the goroutine's part while connection gen is up: read when
// handed the role or when the connection idles. It returns when the
// connection broke (true) or the client closed (false).
func (c *clientConn) serve(nc net.Conn, gen uint64, buf []byte, idle *time.Timer) bool {
	c.mu.Lock()
	first := c.reader == readerConn
	c.mu.Unlock()
	if first {
		c.read(nc, gen, buf, nil)
	}
	for {
		idle.Reset(idleRead)
		select {
		case <-c.broken:
			return true
		case <-c.cl.stop:
			return false
		case <-c.lead:
			c.mu.Lock()
			ours := c.gen == gen && c.reader == readerConn
			c.mu.Unlock()
			if ours {
				c.read(nc, gen, buf, nil)
			}
		case <-idle.C:
			c.mu.Lock()
			take := c.gen == gen && c.phase == phaseUp && c.reader == readerNone && c.st.pending() == 0
			if take {
				c.reader = readerConn
			}
			c.mu.Unlock()
			if take {
				c.read(nc, gen, buf, nil)
			}
		}
	}
}

// read holds the reader role on connection gen: it reads and hands replies
// to their operations until its turn ends — for a caller (k != nil) when
// k's own reply is in, for the goroutine when nothing is pending — or the
// connection breaks. A caller whose turn ends with replies still due
// passes the role to the goroutine.
func (c *clientConn) read(nc net.Conn, gen uint64, buf []byte, k *call) {
	for {
		n, err := nc.Read(buf)
		c.mu.Lock()
		if c.gen != gen || c.reader == readerNone {
			c.mu.Unlock() // the connection was replaced or broken under us
			return
		}
		answered := c.st.answered
		if n > 0 {
			if perr := c.st.receive(buf[:n]); perr != nil {
				c.breakLocked(perr)
			}
		}
		if err != nil {
			c.breakLocked(ErrConnClosed)
		}
		got := c.st.answered != answered
		if c.phase != phaseUp {
			c.reader = readerNone
			c.mu.Unlock()
			return
		}
		done := false
		if k != nil && k.finished {
			done = true
			if c.st.pending() > 0 {
				c.reader = readerConn
				select {
				case c.lead <- struct{}{}:
				default:
				}
			} else {
				c.reader = readerNone
			}
		} else if k == nil && c.st.pending() == 0 {
			done = true
			c.reader = readerNone
		}
		c.mu.Unlock()
		if got {
			c.srv.success()
		}
		if done {
			return
		}
	}
}

// sleepUntil waits for the unix-nanosecond time until; false if the client closed meanwhile.
func (c *clientConn) sleepUntil(until int64) bool {
	t := time.NewTimer(time.Duration(until - time.Now().UnixNano()))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.cl.stop:
		return false
	}
}

// breakLocked gives up the current connection once: later callers' reasons
// are ignored. Pending operations fail with err, new ones are refused until
// run redials, and the socket is closed so readers and writers return.
func (c *clientConn) breakLocked(err error) {
	if c.reason != nil || c.phase != phaseUp {
		return
	}
	c.reason, c.hadPending = err, c.st.pending() > 0
	c.phase = phaseBackoff
	c.reader = readerNone
	c.st.failAll(err)
	_ = c.nc.Close()
	select {
	case c.broken <- struct{}{}:
	default:
	}
}

// flushAndWait is called with mu held, after k's command was queued: it
// writes (unless someone else is writing), reads k's reply itself if
// nobody is reading, and waits for k's result.
func (c *clientConn) flushAndWait(k *call) {
	c.flushLocked()
	c.mu.Lock()
	if c.reader == readerNone && c.phase == phaseUp && !k.finished {
		c.reader = readerCaller
		nc, gen, buf := c.nc, c.gen, c.rbuf
		c.mu.Unlock()
		c.read(nc, gen, buf, k)
	} else {
		c.mu.Unlock()
	}
	<-k.done
}

// flushLocked is called with mu held and returns with it released. Unless
// a write is already in progress, it writes everything queued — in a loop,
// since others keep queueing while a write runs.
func (c *clientConn) flushLocked() {
	if c.writing {
		c.mu.Unlock()
		return
	}
	c.writing = true
	for c.phase == phaseUp && len(c.st.out) > 0 {
		c.writeQueued(nil)
	}
	c.writing = false
	c.turn.Broadcast()
	c.mu.Unlock()
}

// writeDirect is called with mu held, the connection up and no write in
// progress, right after an ms header was queued: it writes the queue and
// then value and CRLF in one writev, from the caller's memory. It returns
// with mu held.
func (c *clientConn) writeDirect(value []byte) {
	c.writing = true
	c.writeQueued(value)
	c.writing = false
	c.turn.Broadcast()
}

// writeQueued writes st.out (and value with its CRLF, if any) with mu
// released, swapping in the spare buffer so others keep queueing. A
// failed write breaks the connection, unless it was already replaced.
func (c *clientConn) writeQueued(value []byte) {
	buf, nc := c.st.out, c.nc
	c.st.out = c.spare[:0]
	c.mu.Unlock()
	var err error
	if value == nil {
		_, err = nc.Write(buf)
	} else {
		c.iov = [3][]byte{buf, value, crlf}
		c.bufs = c.iov[:]
		_, err = c.bufs.WriteTo(nc)
		c.iov, c.bufs = [3][]byte{}, nil // do not keep the caller's value reachable
	}
	c.mu.Lock()
	if cap(buf) <= writeBufKeep {
		c.spare = buf[:0]
	} else {
		c.spare = nil
	}
	if err != nil && c.nc == nc {
		c.breakLocked(ErrConnClosed)
	}
}

// sweep fails the connection with ErrTimeout if its oldest operation is
// overdue. Operations queued behind a slow dial give up alone: the dial has
// its own timeout.
func (c *clientConn) sweep(now int64) {
	c.mu.Lock()
	if c.st.expired(now) {
		switch c.phase {
		case phaseUp:
			c.breakLocked(ErrTimeout)
		case phaseDialing:
			c.st.failAll(ErrTimeout)
		}
	}
	c.mu.Unlock()
}

// failure counts a failure against the server and returns until when it is
// ejected (0 if it is not).
func (s *clientServer) failure(now int64, cfg *Config) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing.Store(true)
	if s.h.failure(now, cfg) {
		s.ejectedUntil.Store(s.h.ejectedUntil)
		return s.h.ejectedUntil
	}
	return 0
}

// success ends the server's failure streak; free when there is none.
func (s *clientServer) success() {
	if !s.failing.Load() {
		return
	}
	s.mu.Lock()
	s.h.success()
	s.ejectedUntil.Store(0)
	s.failing.Store(false)
	s.mu.Unlock()
}
