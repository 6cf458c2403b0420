package server

// Bounded output. gnet's Write hands the socket what it takes and copies the
// rest into an outbound buffer that has no bound, so a client that pipelines
// requests for a large page and never reads would make the proxy buffer every
// response (300 × 3 MB on one connection was ~950 MB of RSS). Here a
// connection's responses are handed to gnet only while its unsent output is
// below Config.MaxOutbound; the rest stays where it already is (the stored
// record, or the slot's own bytes) and the connection is "blocked": it reads
// no further requests and produces no further responses.
//
// gnet says nothing when a connection's outbound buffer drains, so each loop
// keeps its blocked connections in a list that its drain pass looks at every
// drainInterval while the list is not empty (a per-loop timer hands the pass
// to the loop through Execute). Worked interleaving for a never-reading client with
// MaxOutbound 1 MiB and two pipelined GETs of a 3 MB page:
//
//	slot 1 ready → write: the socket takes ~2.5 MB, gnet keeps 0.5 MB (< 1 MiB) → write
//	  the rest of slot 1 up to the bound → gnet holds 1 MiB, 0.2 MB of slot 1 unsent
//	  → blocked; slot 2 waits, the parser stops, later input is only buffered
//	  (and the connection closed past Config.MaxInbound).
//	drain pass: OutboundBuffered still 1 MiB → nothing; after ReadTimeout
//	  without progress the connection is closed (a send timeout, as nginx's).
//	(a reading client instead) drain pass: OutboundBuffered ≤ MaxOutbound/2
//	  → unblock, flush: rest of slot 1, then slot 2 up to the bound.

import (
	"context"
	"time"
)

// drainInterval is how often blocked connections are looked at. At 2 ms and
// the default 1 MiB bound a connection still drains at ≥ 250 MB/s beyond what
// the socket buffer holds.
const drainInterval = 2 * time.Millisecond

// writeSome hands gnet as much of slot p as the output bound allows and
// reports whether p has been handed over completely. It may close the
// connection (a failed write runs OnClose inside gnet's Write): callers check
// c.released afterwards.
func (c *conn) writeSome(p *pending) bool {
	max := c.l.s.cfg.MaxOutbound
	for !c.released {
		total := len(p.out) + len(p.body)
		if p.sent >= total {
			return true
		}
		room := max - c.gc.OutboundBuffered()
		if room <= 0 {
			return false
		}
		n := min(total-p.sent, room)
		c.writeRange(p, p.sent, p.sent+n)
		p.sent += n
	}
	return false
}

// writeRange writes bytes [from, to) of out followed by body, with one write
// call, without copying them first.
func (c *conn) writeRange(p *pending, from, to int) {
	l := c.l
	l.m.bytesOut.Add(uint64(to - from))
	var a, b []byte
	if from < len(p.out) {
		a = p.out[from:min(to, len(p.out))]
	}
	if to > len(p.out) {
		b = p.body[max(from-len(p.out), 0) : to-len(p.out)]
	}
	switch {
	case len(b) == 0:
		_, _ = c.gc.Write(a)
	case len(a) == 0:
		_, _ = c.gc.Write(b)
	default:
		l.iov[0], l.iov[1] = a, b
		_, _ = c.gc.Writev(l.iov[:])
		l.iov[0], l.iov[1] = nil, nil
	}
}

// block marks c as waiting for its output to drain and puts it on the loop's
// drain list.
func (c *conn) block() {
	if c.outBlocked {
		return
	}
	c.outBlocked = true
	c.outMark = c.gc.OutboundBuffered()
	c.outSince = c.l.now.UnixNano()
	c.l.blocked = append(c.l.blocked, c)
	c.l.scheduleDrain()
}

// scheduleDrain arranges for the drain pass to run on the loop after
// drainInterval, unless it is already scheduled. On the loop only.
func (l *loop) scheduleDrain() {
	if l.drainScheduled {
		return
	}
	l.drainScheduled = true
	if l.drainTimer == nil {
		el := l.el
		run := (*drainRunner)(l)
		l.drainTimer = time.AfterFunc(drainInterval, func() {
			// Fails only when the engine is stopping; nothing is left to drain then.
			_ = el.Execute(context.Background(), run)
		})
		return
	}
	l.drainTimer.Reset(drainInterval)
}

// drainRunner is a loop's drain pass as a gnet Runnable.
type drainRunner loop

// Run looks at the loop's blocked connections: one whose unsent output has
// fallen to half the bound resumes (flush writes more, and reading resumes
// when nothing else holds it back); one that made progress has its send
// deadline renewed. On the loop only.
func (d *drainRunner) Run(context.Context) error {
	l := (*loop)(d)
	l.now = l.s.clock()
	l.drainScheduled = false
	low := l.s.cfg.MaxOutbound / 2
	// Walk a snapshot: flush may block a connection again, which appends it
	// to the (new) l.blocked through block.
	list := l.blocked
	l.blocked = l.blockedSpare[:0]
	for i, c := range list {
		list[i] = nil
		if c.released {
			continue
		}
		if buffered := c.gc.OutboundBuffered(); buffered > low {
			if buffered < c.outMark {
				c.outMark, c.outSince = buffered, l.now.UnixNano()
			}
			l.blocked = append(l.blocked, c)
			continue
		}
		c.outBlocked = false
		c.flush()
	}
	l.blockedSpare = list[:0]
	if len(l.blocked) > 0 {
		l.scheduleDrain()
	}
	return nil
}
