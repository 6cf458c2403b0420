package mcclient

import (
	"context"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// loopLink is one connection attempt of a loopConn, and the gnet context of
// the connection it yields. A link that is dead, or no longer its conn's
// current link, ignores its events and closes its connection: that is how a
// late dial result or a connection we already gave up on is turned away.
type loopLink struct {
	c    *loopConn
	gc   gnet.Conn // set by OnOpen
	dead bool
}

func (*loopLink) loopConnHandler() {}

func (l *loopLink) current() bool { return !l.dead && l.c.link == l }

// dial starts a connection attempt off the loop; operations queue meanwhile.
func (c *loopConn) dial(now int64) {
	l := &loopLink{c: c}
	c.link, c.phase, c.dialStart = l, phaseDialing, now
	go l.dial(c.lc.el, c.srv.addr, c.lc.cfg.ConnectTimeout)
}

// dial runs on its own goroutine: connect with a timeout, then enroll the
// socket on the loop, whose OnOpen takes over. A failure is handed to the
// loop with Execute (l.Run).
func (l *loopLink) dial(el gnet.EventLoop, addr string, timeout time.Duration) {
	if nc, err := net.DialTimeout("tcp", addr, timeout); err == nil {
		// Enroll dups the descriptor and closes nc itself.
		ch, err := el.Enroll(gnet.NewContext(context.Background(), l), nc)
		if err != nil {
			_ = nc.Close()
		} else if res := <-ch; res.Err == nil {
			return
		}
	}
	_ = el.Execute(context.Background(), l)
}

// Run is the dial failure arriving on the loop.
func (l *loopLink) Run(context.Context) error {
	if l.current() {
		l.dead = true
		l.c.lost(ErrConnect, time.Now().UnixNano())
	}
	return nil
}

// OnOpen: the dial succeeded and the connection is on the loop. Commands
// queued while dialing are written now.
func (l *loopLink) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if !l.current() {
		return nil, gnet.Close
	}
	c := l.c
	l.gc = gc
	c.phase = phaseUp
	if c.st.unhanded() {
		lc := c.lc
		lc.Cork()
		lc.queued(c)
		lc.Uncork()
	}
	if !l.current() { // the write failed and closed it
		return nil, gnet.Close
	}
	return nil, gnet.None
}

// OnTraffic feeds every byte read to the state machine, which calls the
// handlers; operations they start go out in one write when it is done.
func (l *loopLink) OnTraffic(gc gnet.Conn) gnet.Action {
	if !l.current() {
		return gnet.Close
	}
	c, lc := l.c, l.c.lc
	// Everything read so far: a view of gnet's read buffer, since its inbound
	// buffer stays empty — receive consumes every byte, keeping a partial
	// reply in its own buffer.
	data, _ := gc.Next(-1)
	answered := c.st.answered
	lc.Cork()
	err := c.st.receive(data)
	if err != nil && l.current() {
		l.dead = true
		c.lost(err, time.Now().UnixNano())
	} else if c.st.answered != answered && l.current() {
		c.streak = 0
		c.srv.h.success()
	}
	if l.current() && c.st.unhanded() {
		// Replies mean memcached read on: hand it the next slice if gnet
		// has written out the previous one.
		lc.queued(c)
	}
	lc.Uncork()
	if !l.current() {
		return gnet.Close
	}
	return gnet.None
}

// OnClose: the connection ended under us (EOF, reset, failed write).
func (l *loopLink) OnClose(gnet.Conn, error) gnet.Action {
	if !l.current() {
		return gnet.None
	}
	l.dead = true
	c := l.c
	c.lc.Cork()
	if c.st.pending() == 0 {
		// Nothing was lost (e.g. the server closed an idle connection):
		// redial on demand, without counting a failure.
		c.link, c.phase = nil, phaseIdle
		c.st.failAll(ErrConnClosed) // fails nothing; drops buffered bytes
	} else {
		c.lost(ErrConnClosed, time.Now().UnixNano())
	}
	c.lc.Uncork()
	return gnet.None
}

// flush hands gnet the next slice of queued commands (st.nextWrite: whole
// commands, at most st.sliceMax bytes, or one larger command alone), unless
// gnet still holds a slice's worth of earlier ones. gnet's Write sends at
// once and copies into the connection's outbound buffer only what the
// socket did not take, so that buffer never holds more than two slices.
//
// One slice per call, so a long queue does not hold up the loop's other
// connections. What is left goes out on one of two resumptions: when gnet
// holds less than a slice (the socket took the last one, or most of it), a
// Run queued on the loop behind the events already waiting; otherwise the
// next reply (OnTraffic). A reply is sure to come: every slice ends with a
// whole command, answered only after gnet has written all of it. Waiting
// for replies alone would be stop-and-wait, since that last reply comes
// when the socket is empty too: memcached would idle while we write.
func (c *loopConn) flush() {
	if c.phase != phaseUp {
		return
	}
	l := c.link
	if l.gc.OutboundBuffered() >= c.st.sliceMax {
		return
	}
	p := c.st.nextWrite()
	if p == nil {
		return
	}
	c.writes++
	c.maxWrite = max(c.maxWrite, len(p))
	_, _ = l.gc.Write(p) // on error gnet closes the connection: OnClose runs inside Write
	if !l.current() {
		return
	}
	buffered := l.gc.OutboundBuffered()
	c.maxOutbound = max(c.maxOutbound, buffered)
	if buffered < c.st.sliceMax && c.st.unhanded() && !c.resuming {
		c.resuming = true
		if c.lc.el.Execute(context.Background(), c) != nil {
			c.resuming = false // the engine is stopping: replies and Sweep still resume
		}
	}
}

// Run is flush's resumption, on the loop: the next slice, if the
// connection still has one to write.
func (c *loopConn) Run(context.Context) error {
	c.resuming = false
	if c.phase == phaseUp && c.st.unhanded() {
		lc := c.lc
		lc.Cork()
		lc.queued(c)
		lc.Uncork()
	}
	return nil
}

// lost handles a connection that failed: back off, count the failure
// against the server (possibly ejecting it) and fail every pending operation
// with err. The caller has already marked the link dead.
func (c *loopConn) lost(err error, now int64) {
	cfg := &c.lc.cfg
	c.drop()
	c.streak++
	c.phase = phaseBackoff
	c.retryAt = now + int64(backoff(cfg, c.streak))
	c.srv.stats.connFailures++
	wasAlive := c.srv.h.alive(now)
	if c.srv.h.failure(now, cfg) {
		c.retryAt = max(c.retryAt, c.srv.h.ejectedUntil)
		if wasAlive { // not a second connection failing during the ejection
			c.srv.stats.ejections++
		}
	}
	c.failAll(err)
}

// failAll fails every pending operation of c with err, counting them
// against the server.
func (c *loopConn) failAll(err error) {
	if n := c.st.pending(); n > 0 {
		c.srv.stats.errs[errorKind(err)] += uint64(n)
	}
	c.st.failAll(err)
}

// drop forgets the current attempt and closes its connection, if any.
func (c *loopConn) drop() {
	if l := c.link; l != nil {
		l.dead = true
		if l.gc != nil {
			_ = l.gc.Close() // asynchronous: safe inside this conn's own callbacks
		}
	}
	c.link = nil
}

// sweep applies deadlines to one connection at now.
func (c *loopConn) sweep(now int64) {
	cfg := &c.lc.cfg
	c.st.decay(now)
	switch c.phase {
	case phaseUp:
		if c.st.expired(now) {
			// Whatever was handed over, whole or in part, the stream cannot
			// be resumed: everything pending, written or not, fails.
			c.lost(ErrTimeout, now)
		} else if c.st.unhanded() {
			// A safety net: replies and Run resume writing, unless the
			// engine refused Run (it is stopping).
			c.lc.queued(c)
		}
	case phaseDialing:
		if c.st.expired(now) {
			// The dial may still succeed; only the waiting operations give up.
			c.failAll(ErrTimeout)
		}
		if now-c.dialStart > 2*int64(cfg.ConnectTimeout) {
			// The dialer did not report back (e.g. the engine is stopping).
			c.lost(ErrConnect, now)
		}
	case phaseIdle:
		if c.srv.h.alive(now) {
			c.dial(now)
		}
	case phaseBackoff:
		if now >= c.retryAt && c.srv.h.alive(now) {
			c.dial(now)
		}
	}
}
