package server

import (
	"bytes"
	"context"

	"github.com/mcpage/mcpage/server/pagerecord"
)

// hitDecode is a stored page being inflated off the loop for clients that
// cannot take the stored encoding, when its decoded body is too large for the
// loop to inflate inline (decode.go). Hits for the same record on the same
// loop while it is in flight join it (waiters) instead of inflating it again.
// The goroutine touches only the record and the result fields; the result
// comes back with EventLoop.Execute and Run completes every waiting slot on
// the loop, each in its place in its connection's queue.
type hitDecode struct {
	l       *loop
	key     []byte
	r       pagerecord.Record // Header and Body borrowed (embedded store) or copied
	known   int               // decoded size from the memo, -1 if unknown
	waiters []slotRef         // on the loop only

	// results, written by the goroutine
	buf  []byte // the decoded body
	held int64  // decode budget reserved for buf
	err  error
}

// slotRef names a queued response slot: slot token of connection c.
type slotRef struct {
	c     *conn
	token uint64
}

// pending returns the slot if it is still queued, else nil.
func (s slotRef) pending() *pending {
	if s.c.released {
		return nil
	}
	return s.c.find(s.token)
}

// decodeHitAsync has slot p answered from r once r's body has been inflated
// off the loop; p stays queued (not ready) until then. On the loop only.
func (c *conn) decodeHitAsync(p *pending, r *pagerecord.Record) {
	l := c.l
	me := slotRef{c: c, token: p.token}
	if hd := l.dec.live[string(p.key)]; hd != nil && hd.id == idOf(r) {
		// Decoded a moment ago and still held for slots not yet written:
		// borrow it too.
		if completeDecoded(p, c, r, hd.body) {
			hd.slots = append(hd.slots, me)
		}
		return
	}
	if h := l.dec.inflight[string(p.key)]; h != nil && idOf(&h.r) == idOf(r) {
		h.waiters = append(h.waiters, me)
		return
	}
	h := &hitDecode{l: l, key: bytes.Clone(p.key), r: *r, known: -1, waiters: []slotRef{me}}
	if n, ok := l.dec.size(p.key, idOf(r)); ok && n >= 0 {
		h.known = n
	}
	if !l.syncStore {
		// A network store's reply buffer is reused once the lookup returns;
		// the embedded store's records are immutable and can be borrowed.
		h.r.Header = bytes.Clone(r.Header)
		h.r.Body = bytes.Clone(r.Body)
	}
	l.dec.inflight[string(h.key)] = h
	go h.work()
}

// work inflates under the server's decode budget (waiting for it if need
// be: this goroutine is off the loop) and hands the result back.
func (h *hitDecode) work() {
	if hook := testDecodeHook.Load(); hook != nil {
		(*hook)()
	}
	h.buf, h.held, h.err = h.l.s.decodeHeld(h.r.Body, h.r.Encoding, 0, h.known)
	if err := h.l.el.Execute(context.Background(), h); err != nil {
		h.l.s.releaseDecode(h.held) // the loop is gone
	}
}

// Run completes the waiting slots with the decoded page, on the loop. A body
// the memo keeps is owned (and accounted) by the memo from then on; any other
// holds its budget reservation until every slot borrowing it has been
// written.
func (h *hitDecode) Run(context.Context) error {
	l := h.l
	l.now = l.s.clock()
	if l.dec.inflight[string(h.key)] == h {
		delete(l.dec.inflight, string(h.key))
	}
	r := &h.r
	if h.err != nil {
		h.fail()
		return nil
	}
	body := h.buf
	kept := l.dec.keeps(h.key, len(body))
	if kept {
		l.dec.put(h.key, idOf(r), body)
	} else {
		l.dec.putSize(h.key, idOf(r), len(body))
	}
	borrowed := h.waiters[:0]
	for _, w := range h.waiters {
		if p := w.pending(); p != nil && completeDecoded(p, w.c, r, body) {
			borrowed = append(borrowed, w)
		}
	}
	if kept {
		l.s.releaseDecode(h.held)
	} else if hd := l.holdDecode(borrowed, h.held); hd != nil {
		hd.key, hd.id, hd.body = string(h.key), idOf(r), body
		l.dec.live[hd.key] = hd
	}
	h.waiters = nil
	return nil
}

// completeDecoded completes slot p of c with stored page r for a client
// that cannot take its encoding, whose decoded body is body (immutable). It
// reports whether the slot borrows body (the embedded store's case; with a
// network store completeBorrowed copies it). On the loop only.
func completeDecoded(p *pending, c *conn, r *pagerecord.Record, body []byte) bool {
	f := facts{isHead: p.isHead, gzipOK: p.gzipOK, ae: p.ae, inm: p.inm, ims: p.ims, keepAlive: p.keepAlive, http10: p.http10, collapsed: p.collapsed}
	label := labelHit
	if !r.Fresh(c.l.now.Unix()) {
		label = labelStale // served while it is refreshed (stale.go)
	}
	if len(p.rng) > 0 {
		if done, borrowed := c.serveRange(p, r, &f, body, pagerecord.Identity, label); done { // range.go
			return borrowed
		}
	}
	head, send := appendRecordHead(p.out[:0], r, &f, body, pagerecord.Identity, label, c.l.now)
	if !send {
		c.completeBorrowed(p, head, nil) // HEAD, or 304: the body is not needed after all
		return false
	}
	c.completeBorrowed(p, head, body)
	return c.l.syncStore
}

// fail answers the waiting slots when the page could not be decoded: 503
// when the decode budget stayed exhausted, else (the record decodes to more
// than MaxDecoded, or is corrupt) 502, and the record is deleted, as serveHit
// does for a page that fails inline.
func (h *hitDecode) fail() {
	l := h.l
	status := 502
	if h.err == errDecodeBusy {
		status = 503
	} else {
		l.s.cfg.Logger.Warn("dropping stored page that does not decode", "key", string(h.key), "err", h.err)
		l.store.Delete(h.key)
		l.dec.forget(h.key)
	}
	for _, w := range h.waiters {
		if p := w.pending(); p != nil {
			l.s.stats.Errors.Add(1)
			w.c.complete(p, appendErrorResponse(p.out[:0], status, p.keepAlive, labelHit))
		}
	}
	h.waiters = nil
}
