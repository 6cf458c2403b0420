package server

import "github.com/mcpage/mcpage/httpparse"

// Idle connections hold little. A keep-alive connection spends most of its
// life waiting for its next request, and a proxy in front of browsers holds
// tens of thousands of them, so what an idle connection keeps is what the
// proxy's memory is made of: nginx's worker grows by about 0.5 KB per idle
// connection. Here an idle connection is its conn struct (no parser state,
// no buffers), its entry in the loop's connection set and gnet's own
// connection (whose inbound and outbound ring buffers go back to gnet's pool
// once empty); TestIdleConnMemory holds it under 2 KB of RSS.
//
// Everything a request needs only while it is being handled belongs to the
// loop and is lent to the connection at hand:
//   - the parser's Request (loop.req, about 6 KB with its header array): a
//     request head is parsed and dispatched within one OnTraffic, and
//     anything that outlives it is copied (into the slot, the upstream job);
//   - the body being read (bodyState) and its buffer, taken from the loop
//     when a body starts and given back when it has been dispatched. Only a
//     body that spans reads keeps them, with a copy of its head re-parsed
//     into the bodyState's own Request, until it is complete;
//   - response slots (pending), recycled through the loop's free list with
//     their buffers (the hit path reuses them and allocates nothing), at most
//     maxFreeSlots of them and none with a buffer over maxSlotBuf;
//   - the response queue of a pipeline deeper than maxIdleQueue: spares
//     kept by the loop (up to maxSpareQueues), so that pipelined requests do
//     not grow a new queue each time their connection has caught up.

const (
	// maxFreeSlots bounds a loop's free list of response slots: enough for
	// every connection a loop is writing to at once to reuse one.
	maxFreeSlots = 256
	// maxSlotBuf: a recycled slot drops buffers larger than this (a big miss
	// response, a long request copy) rather than keep them for the next request.
	maxSlotBuf = 64 << 10
	// maxSpareBody: a request-body buffer larger than this is not kept by
	// the loop once its body has been dispatched.
	maxSpareBody = 256 << 10
	// maxSpareQueue: a response queue longer than this is not kept by the
	// loop once its connection has caught up; maxSpareQueues bounds how many
	// are kept (at most 1 MiB of pointers, 8 KiB at a pipeline depth of 8).
	maxSpareQueue  = 1024
	maxSpareQueues = 128
)

// bodyState is the request body a connection is reading (conn.rb), from its
// head to its dispatch.
type bodyState struct {
	need  int64 // Content-Length bytes still to read; -1 for a chunked body
	chunk httpparse.ChunkedDecoder
	// read is the body bytes consumed so far, mark what read was when the
	// stall deadline (conn.bodySince) was last renewed.
	read, mark int64
	start      int64  // unix nanos of the event that parsed the head (access log)
	body       []byte // the body so far: a view into the read buffer, or conn.bodyBuf

	// For a body that spans reads: head is an owned copy of the request head
	// and req that copy parsed, views into head.
	req  httpparse.Request
	head []byte
}

// takeSlot returns a response slot from the loop's free list, or a new one.
// The caller resets its fields (push).
func (l *loop) takeSlot() *pending {
	if n := len(l.slots); n > 0 {
		p := l.slots[n-1]
		l.slots[n-1] = nil
		l.slots = l.slots[:n-1]
		return p
	}
	return &pending{}
}

// putSlot recycles p, which no connection's queue holds any more: its
// borrowed references are dropped, its large buffers too.
func (l *loop) putSlot(p *pending) {
	p.body, p.relay = nil, nil
	if len(l.slots) >= maxFreeSlots {
		return
	}
	if cap(p.out) > maxSlotBuf {
		p.out = nil
	}
	if cap(p.raw) > maxSlotBuf || cap(p.rawB) > maxSlotBuf {
		p.raw, p.rawB = nil, nil
	}
	l.slots = append(l.slots, p)
}

// growQueue returns the full queue q with room for more: moved into one of
// the loop's spare queues when that is longer (q then becomes a spare), else
// q itself (append grows it).
func (l *loop) growQueue(q []*pending) []*pending {
	n := len(l.spareQ)
	if n == 0 || cap(l.spareQ[n-1]) <= cap(q) {
		return q
	}
	s := l.spareQ[n-1]
	l.spareQ[n-1] = nil
	l.spareQ = l.spareQ[:n-1]
	s = append(s, q...)
	l.putQueue(q)
	return s
}

// putQueue keeps the queue q, emptied, among the loop's spares, unless it
// is short (an idle connection keeps those), long, or the loop has
// maxSpareQueues already. Spares are handed out last in, first out: under
// a steady pipelined load every connection's queue grows to the same depth,
// so any spare fits.
func (l *loop) putQueue(q []*pending) {
	if cap(q) <= maxIdleQueue || cap(q) > maxSpareQueue || len(l.spareQ) >= maxSpareQueues {
		return
	}
	clear(q[:cap(q)])
	l.spareQ = append(l.spareQ, q[:0])
}

// takeBody returns the loop's spare bodyState, or a new one.
func (l *loop) takeBody() *bodyState {
	b := l.spare
	if b == nil {
		return &bodyState{}
	}
	l.spare = nil
	return b
}

// putBody keeps b as the loop's spare, dropping its views.
func (l *loop) putBody(b *bodyState) {
	b.body = nil
	b.req.Reset()
	if cap(b.head) > maxSlotBuf {
		b.head = nil
	}
	b.head = b.head[:0]
	if l.spare == nil {
		l.spare = b
	}
}

// takeBodyBuf returns the loop's spare request-body buffer (nil if none).
func (l *loop) takeBodyBuf() []byte {
	buf := l.spareBody
	l.spareBody = nil
	return buf[:0]
}

// putBodyBuf keeps buf as the loop's spare request-body buffer, unless it is
// large or the loop already has a larger one.
func (l *loop) putBodyBuf(buf []byte) {
	if cap(buf) > maxSpareBody || cap(buf) <= cap(l.spareBody) {
		return
	}
	l.spareBody = buf[:0]
}
