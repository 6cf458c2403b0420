package server

import (
	"net/netip"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

// conn is one client connection's state. It lives on its loop: every method
// runs on that loop's goroutine (OnTraffic, store callbacks, Execute'd upstream
// results), so nothing here is locked.
//
// Responses leave strictly in request order. Each parsed request gets a
// pending slot at the tail of q; a hit whose slot is at the head is written
// at once, anything else waits in its slot until every earlier slot has been
// written. Worked interleaving for "GET /miss, GET /hit" pipelined in one
// read: slot 1 (miss) goes upstream; slot 2 (hit) is rendered into its slot's
// buffer because slot 1 is still waiting; when slot 1's response comes back
// through Execute, flush writes slot 1, then slot 2, in one pass.
type conn struct {
	l  *loop
	gc gnet.Conn

	// remote is the client's address: the peer's, or what its PROXY
	// protocol header said (proxy.go); proxy what the first bytes must be.
	remote netip.AddrPort
	proxy  uint8

	released bool // gnet closed the connection; late results are dropped
	closing  bool // read no more requests; close once the queue has drained
	// stalled: parsing stopped with input left in the buffer, because
	// MaxPipeline responses are outstanding, the output is blocked or the
	// queue holds more than MaxHeld (held.go); flush wakes the connection
	// when none holds any more.
	stalled bool
	// since is when the connection last became idle (no outstanding
	// response), unix nanos. The next request head must be complete within
	// ReadTimeout of it: bytes arriving slowly do not move it.
	since int64

	// Output bound (output.go): outBlocked while unsent output is above
	// Config.MaxOutbound; outMark is the least OutboundBuffered seen since it
	// blocked, outSince when that last fell (the send deadline's start).
	outBlocked bool
	outMark    int
	outSince   int64

	// bodySince is when the body being read last made progress (at least
	// bodyStep bytes since rb.mark, or its start): a body read that stalls
	// for ReadTimeout closes the connection.
	bodySince int64

	// The request body being read, from its head to its dispatch: rb and
	// bodyBuf are lent by the loop and given back once the body has been
	// dispatched, so an idle connection holds neither (idle.go). inBody: the
	// body spans reads, and rb holds its head.
	inBody  bool
	rb      *bodyState
	bodyBuf []byte // owned storage for a body accumulated in rb.body (nil when none)

	q         []*pending
	nextToken uint64

	// Response bytes held (held.go): held is what the queued slots own
	// (against Config.MaxHeld), looking the network store lookups in
	// flight, deferred the slots whose lookup waits for room, est the size
	// of the last page answered; resuming guards resumeLookups against
	// itself.
	held, looking, deferred, est int
	resuming                     bool
}

// pending is one request's slot in the response queue.
type pending struct {
	token uint64
	ready bool
	out   []byte // response bytes owned by the slot, once ready
	// body, when set, follows out on the wire: an immutable stored body
	// (embedded records, decoded copies) that is borrowed, never copied.
	body []byte
	sent int // bytes of out+body already handed to gnet
	// held is len(out) as last charged to the connection (held.go);
	// looking: a network store lookup for the slot is in flight; deferred:
	// its lookup waits for room under Config.MaxHeld.
	held              int
	looking, deferred bool
	// relay, while a streamed response's slice is in body (stream.go): the
	// slot stays at the head of the queue until the last slice is written.
	relay     *relay
	keepAlive bool
	http10    bool // an HTTP/1.0 request: keep-alive is said, not implied

	// What rendering a stored page for this request needs, copied out of the
	// connection buffer because the page may arrive after that buffer is gone.
	isHead bool
	gzipOK bool
	ae     []byte // Accept-Encoding (for stored encodings other than gzip)
	inm    []byte // If-None-Match
	ims    []byte // If-Modified-Since
	key    []byte
	vary   slotVary // when the lookup found a variant index (vary.go)
	// authorized: the request has Authorization (authorizedFill).
	authorized bool
	// rq: the request's Cache-Control, read only with
	// Config.RequestCacheControl (reqdirectives.go).
	rq cachepolicy.Request
	// collapsed: answered from the page another request's fill stored
	// (coalesce.go), for Cache-Status.
	collapsed bool
	// Range and If-Range, for the stored page's answer (range.go).
	rng, ifRange []byte

	// raw and body are copies of the request, kept only when the store answers
	// asynchronously, so a miss can still be forwarded.
	raw  []byte
	rawB []byte

	// For metrics (metrics.go): the request's method class, whether a
	// PURGE asked for a hard purge, and whether the response was counted.
	method    uint8
	purgeHard bool
	counted   bool

	lg slotLog // the access log line's facts, only while it is on (accesslog.go)
}

func (l *loop) newConn(gc gnet.Conn) *conn {
	c := &conn{l: l, gc: gc, since: l.s.clock().UnixNano()}
	c.initRemote() // proxy.go
	l.conns[c] = struct{}{}
	l.s.drain.conns.Add(1)
	return c
}

// waiting is the number of responses not yet written.
func (c *conn) waiting() int { return len(c.q) }

func (c *conn) push() *pending {
	p := c.l.takeSlot()
	c.nextToken++
	p.token = c.nextToken
	p.ready = false
	p.out = p.out[:0]
	p.body, p.sent, p.relay = nil, 0, nil
	p.held, p.looking, p.deferred = 0, false, false
	p.isHead, p.gzipOK = false, false
	p.ae, p.inm, p.ims, p.key = p.ae[:0], p.inm[:0], p.ims[:0], p.key[:0]
	p.raw, p.rawB = p.raw[:0], p.rawB[:0]
	p.vary.reset()
	p.authorized = false
	p.rq = cachepolicy.Request{}
	p.collapsed = false
	p.rng, p.ifRange = p.rng[:0], p.ifRange[:0]
	p.method, p.purgeHard, p.counted = mcOther, false, false
	if len(c.q) == cap(c.q) {
		c.q = c.l.growQueue(c.q)
	}
	c.q = append(c.q, p)
	c.l.s.inflight.Add(1)
	return p
}

// find returns the queued slot with token, or nil if it is gone.
func (c *conn) find(token uint64) *pending {
	for _, p := range c.q {
		if p.token == token {
			return p
		}
	}
	return nil
}

// popFront recycles the head slot through the loop's free list (idle.go),
// which keeps its buffers for the next request on any connection unless they
// are large, so idle connections hold no slots.
func (c *conn) popFront() {
	p := c.q[0]
	copy(c.q, c.q[1:])
	c.q[len(c.q)-1] = nil
	c.q = c.q[:len(c.q)-1]
	c.uncharge(p)
	if len(c.q) == 0 {
		c.since = c.l.now.UnixNano()
		if cap(c.q) > maxIdleQueue {
			// A deep pipeline's queue is not kept for an idle connection:
			// the loop keeps one for the next (idle.go).
			c.l.putQueue(c.q)
			c.q = nil
		}
	}
	c.l.putSlot(p)
	c.l.s.inflight.Add(-1)
}

// maxIdleQueue is the largest queue capacity an idle connection keeps.
const maxIdleQueue = 4

// release runs from OnClose: outstanding responses are dropped (their upstream
// results still update the store when they arrive).
func (c *conn) release() {
	if c.released {
		return
	}
	c.released = true
	for _, p := range c.q {
		if c.l.alog != nil {
			c.l.logDone(c, p) // the client went away first
		}
		if p.relay != nil {
			p.relay.done(false) // the worker streaming into it gives up
			p.relay = nil
		}
	}
	c.l.s.inflight.Add(-int64(len(c.q)))
	c.q = nil
	c.dropHeld()
	// A body being read is dropped, not recycled: release may run inside
	// dispatch (a failed write closes the connection), which may still be
	// using the body state's request.
	c.inBody, c.rb, c.bodyBuf = false, nil, nil
	delete(c.l.conns, c)
	c.l.s.drain.conns.Add(-1)
}

// close asks gnet to close the connection (asynchronously, on this loop).
func (c *conn) close() {
	if !c.released {
		_ = c.gc.Close()
	}
}

// complete stores a ready response in slot p and writes whatever is now
// writable in order.
func (c *conn) complete(p *pending, out []byte) {
	p.out = out
	p.body = nil
	p.ready = true
	c.l.account(p, out)
	c.charge(p)
	c.flush()
}

// completeBorrowed makes slot p ready with head (which must be p.out's own
// storage or a slice p may keep) followed by body, and writes what it can.
// body is kept as a view when the loop's store hands out immutable records
// (the embedded store, and the loop's decoded copies, which are never
// modified either); a network store's reply is valid only during this event,
// so whatever of it was not written at once is copied into the slot.
func (c *conn) completeBorrowed(p *pending, head, body []byte) {
	p.out, p.body = head, body
	p.ready = true
	c.l.account(p, head)
	c.charge(p)
	token := p.token
	c.flush()
	if c.l.syncStore || c.released || len(body) == 0 {
		return
	}
	// A network store's reply buffer is reused once this event is over: if
	// the slot was not written whole (it waits behind another, or the
	// output is blocked), keep what is left in the slot's own memory. In the
	// common case, a hit at the head of the queue, the body went out straight
	// from the reply with no copy.
	if q := c.find(token); q == p && p.body != nil {
		p.out, p.body = append(p.out, p.body...), nil // p.sent still counts the same stream
		c.charge(p)
	}
}

// flush hands gnet every ready response at the head of the queue, in order,
// while the connection's unsent output stays within Config.MaxOutbound
// (output.go); past it the connection blocks until its output drains.
func (c *conn) flush() {
	if c.released || c.outBlocked {
		return
	}
	for len(c.q) > 0 && c.q[0].ready {
		p := c.q[0]
		if !c.writeSome(p) {
			if !c.released {
				c.block()
			}
			return
		}
		if r := p.relay; r != nil {
			p.relay, p.body = nil, nil
			last := r.last // read before the ack: the worker then reuses r
			r.done(true)
			if !last {
				p.ready = false // the next slice is on its way
				return
			}
		}
		keep := p.keepAlive
		if c.l.alog != nil {
			c.l.logDone(c, p)
		}
		c.popFront()
		if !keep {
			c.closing = true
			c.l.s.inflight.Add(-int64(len(c.q)))
			c.q = c.q[:0]
			c.dropHeld()
			break
		}
	}
	if len(c.q) == 0 && c.closing && c.gc.OutboundBuffered() == 0 {
		c.close()
	}
	if c.deferred > 0 {
		c.resumeLookups() // held.go
	}
	if c.stalled && len(c.q) < c.l.s.cfg.MaxPipeline/2+1 && !c.overHeld() && !c.closing {
		c.stalled = false
		_ = c.gc.Wake(nil) // re-run OnTraffic over the requests left in the buffer
	}
}

// onTraffic parses every complete request in the inbound buffer and dispatches
// it, parsing into the loop's scratch Request. Views into the buffer die at
// Discard, so anything that must outlive this call is copied first (a head
// whose body spans reads, pending fields, the upstream request).
func (c *conn) onTraffic() gnet.Action {
	c.l.now = c.l.s.clock()
	if c.proxy != proxyRead {
		if act, ok := c.readProxyHeader(); !ok { // proxy.go
			return act
		}
	}
	buf, _ := c.gc.Peek(-1)
	if c.closing {
		if len(buf) > 0 {
			c.l.m.bytesIn.Add(uint64(len(buf)))
			_, _ = c.gc.Discard(len(buf))
		}
		return gnet.None
	}
	lim := &c.l.s.cfg.Limits
	off := 0
	for off < len(buf) && !c.closing {
		if len(c.q) >= c.l.s.cfg.MaxPipeline || c.outBlocked || c.overHeld() {
			c.stalled = true
			break
		}
		if c.inBody {
			n, done, err := c.readBody(buf[off:])
			off += n
			if err != nil {
				c.reject(err)
				break
			}
			if !done {
				break
			}
			c.inBody = false
			rb := c.rb
			c.dispatch(&rb.req, rb.head, rb.body)
			c.endBody()
			continue
		}
		// The loop's parse scratch: nothing of it outlives this iteration
		// (idle.go).
		req := &c.l.req
		n, err := httpparse.ParseHead(buf[off:], req, lim)
		if err == httpparse.ErrNeedMore {
			break
		}
		if err != nil {
			c.reject(err)
			break
		}
		head := buf[off : off+n]
		off += n
		if req.HasBody() && req.IsGetOrHead() {
			c.reject(errBodyWithGet)
			break
		}
		if !req.HasBody() {
			c.dispatch(req, head, nil)
			continue
		}
		// A body follows: read as much as this buffer holds. If it is all here the
		// head views are still valid; otherwise copy the head into the
		// connection's body state, re-parse the copy so the views point into
		// memory it owns, and wait for more.
		c.startBody(req)
		bn, done, berr := c.readBody(buf[off:])
		off += bn
		if berr != nil {
			c.reject(berr)
			break
		}
		if done {
			c.dispatch(req, head, c.rb.body)
			c.endBody()
			continue
		}
		rb := c.rb
		rb.head = append(rb.head[:0], head...)
		_, _ = httpparse.ParseHead(rb.head, &rb.req, lim)
		c.inBody = true
		if rb.req.Expect100 && len(c.q) == 0 {
			_, _ = c.gc.Write(continue100)
		}
		break
	}
	if c.closing {
		off = len(buf) // nothing after a rejected or final request is read
	}
	if off > 0 {
		c.l.m.bytesIn.Add(uint64(off))
		_, _ = c.gc.Discard(off) // gnet's Discard(0) would drop everything
	}
	c.flush()
	if c.stalled && !c.released && c.gc.InboundBuffered() > c.l.s.cfg.MaxInbound {
		// gnet keeps reading a connection whose parser has stopped; past the
		// bound the peer is sending far ahead of what it reads: close.
		c.l.s.stats.Errors.Add(1)
		return gnet.Close
	}
	return gnet.None
}

// bodyStep is the progress (bytes of request body) that renews a body read's
// stall deadline.
const bodyStep = 1024

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// startBody prepares to read req's body: the loop lends the connection its
// body state and buffer until endBody.
func (c *conn) startBody(req *httpparse.Request) {
	rb := c.l.takeBody()
	c.rb = rb
	if c.bodyBuf == nil {
		c.bodyBuf = c.l.takeBodyBuf()
	}
	c.bodySince, rb.mark, rb.read = c.l.now.UnixNano(), 0, 0
	rb.start = c.bodySince
	rb.body = c.bodyBuf[:0]
	if req.Chunked {
		rb.chunk.Reset(&c.l.s.cfg.Limits)
		rb.need = -1
	} else {
		rb.need = req.ContentLength
	}
}

// endBody gives the body state and buffer back to the loop once the body has
// been dispatched (or the connection rejected or closed).
func (c *conn) endBody() {
	c.inBody = false
	if c.rb != nil {
		c.l.putBody(c.rb)
		c.rb = nil
	}
	if c.bodyBuf != nil {
		c.l.putBodyBuf(c.bodyBuf)
		c.bodyBuf = nil
	}
}

// readBody consumes body bytes from src. A Content-Length body that is wholly
// in src is returned as a view (no copy); otherwise bytes are appended to
// rb.body. It reports how much of src it consumed and whether the body is done.
func (c *conn) readBody(src []byte) (n int, done bool, err error) {
	rb := c.rb
	defer func() {
		// A read that brings less than bodyStep new bytes does not renew the
		// stall deadline: a body dripped a byte at a time still times out.
		if rb.read += int64(n); rb.read-rb.mark >= bodyStep {
			rb.mark, c.bodySince = rb.read, c.l.now.UnixNano()
		}
	}()
	if rb.need < 0 {
		out, n, done, err := rb.chunk.Decode(rb.body, src)
		rb.body, c.bodyBuf = out, out
		return n, done, err
	}
	if len(rb.body) == 0 && int64(len(src)) >= rb.need && !c.inBody {
		rb.body = src[:rb.need]
		n := int(rb.need)
		rb.need = 0
		return n, true, nil
	}
	n = len(src)
	if int64(n) > rb.need {
		n = int(rb.need)
	}
	rb.body = append(rb.body, src[:n]...)
	c.bodyBuf = rb.body
	rb.need -= int64(n)
	return n, rb.need == 0, nil
}

// reject answers a malformed request with its precise status and closes the
// connection after every earlier response has been written.
func (c *conn) reject(err error) {
	e, ok := err.(*httpparse.Error)
	if !ok {
		e = &httpparse.Error{Status: 400, Reason: "bad request"}
	}
	c.l.s.stats.Errors.Add(1)
	c.endBody()
	p := c.push()
	if c.l.alog != nil {
		c.logStamp(p, nil)
	}
	p.keepAlive = false
	p.out = httpparse.AppendErrorResponse(p.out[:0], e)
	p.ready = true
	c.l.account(p, p.out)
	c.charge(p)
	c.closing = true
}
