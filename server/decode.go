package server

// Bounded inflation. mcpage inflates a compressed body only for a client
// that cannot take its encoding: a stored page (gzipped by fill, or sent
// compressed by the origin), or an origin body the proxy asked for gzip on
// the client's behalf. Three bounds hold:
//
//   - no body is ever inflated past Config.MaxDecoded, and fill does not
//     store a page that decodes to more, so every page mcpage stores can be
//     served to every client;
//   - an event loop inflates only small bodies (decodeInlineMax), whose
//     results the loop's memo keeps (decoded.go); larger ones are inflated
//     on a goroutine and handed back with EventLoop.Execute, the request's
//     slot waiting in its connection's queue meanwhile, so other clients of
//     the loop are not stalled. Hits for the same record on that loop join
//     the decode in flight rather than start another;
//   - every body inflated off the loops (hits and misses alike) first
//     reserves its bytes in the server's decode budget
//     (Config.MaxDecodeMemory) and keeps them until every response using it
//     has been handed to the client's socket (or the memo has taken it), so
//     the memory all decoded responses in flight can hold is bounded
//     whatever the number of clients. A decode that cannot get its
//     reservation within decodeWait is answered 503.
//
// Worked interleaving, one loop, client A (no Accept-Encoding) asks for a
// 6 MB page stored gzipped, then client B for a small page, then client C
// for the 6 MB page too:
//
//	loop:   A's hit: not in the memo, too large to inflate inline → A's
//	        slot stays queued; goroutine started (record borrowed)
//	loop:   B's hit → answered at once
//	loop:   C's hit: the same record is being decoded → C joins it
//	goroutine: reserve 6 MB + 1 (the gzip trailer's size, exact for the
//	        usual single member) → inflate → Execute(hitDecode)
//	loop:   hitDecode.Run: A's and C's slots completed, both borrowing the
//	        decoded body (too large for the memo: only its size is
//	        remembered); the reservation is held until both slots have
//	        been written (the loop's decode poll looks every 2 ms)

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/mcpage/mcpage/server/pagerecord"
)

// decodeInlineMax is the largest decoded body an event loop inflates itself
// (about 0.3 ms of work); larger ones are inflated off the loop.
const decodeInlineMax = 256 << 10

// decodeWait bounds how long a decode waits for its budget reservation
// before the request is answered 503.
const decodeWait = 5 * time.Second

// decodePollInterval is how often a loop looks at the decoded responses it
// holds budget for, to give back the bytes of those written.
const decodePollInterval = 2 * time.Millisecond

// testDecodeHook, when set (tests only), runs on the goroutine of every
// off-loop hit decode before it inflates.
var testDecodeHook atomic.Pointer[func()]

// decodeRoom is the room a worker leaves in front of a body it decodes for
// the response head, so that the complete response (exchange.out) is one
// buffer without a copy: the record header block, plus the status line and
// the fields computed per response. (Hits need none: the slot borrows the
// body after its own head.)
func decodeRoom(header []byte) int { return 512 + len(header) }

// decodeHeld inflates body (in coding enc) under the server's decode budget,
// for a client that cannot take enc: off the event loops only, as it may
// wait for the budget. The result has room bytes of free space in front of
// the decoded bytes (buf[room:]). known is the decoded size when a previous
// decode told it (-1 otherwise). held is what stays reserved in the budget
// for buf; the caller gives it back once buf is no longer referenced
// (releaseDecode, or a hold on the loop). Errors: errDecodeBusy,
// pagerecord.ErrTooLarge (past MaxDecoded), pagerecord.ErrCorrupt.
//
// The buffer is allocated once, at its exact size, and that is what is
// reserved: the size is known, or the gzip trailer's (exact for the usual
// single-member stream); otherwise (other codings, several gzip members, a
// trailer that lies) the body is first inflated without being kept, through
// a small scratch buffer, to measure it, which also refuses a bomb at the
// cost of MaxDecoded bytes of inflating and no memory.
func (s *Server) decodeHeld(body []byte, enc pagerecord.Encoding, room, known int) (buf []byte, held int64, err error) {
	limit := s.cfg.MaxDecoded
	n := known
	if n > limit {
		return nil, 0, pagerecord.ErrTooLarge
	}
	if n < 0 && enc == pagerecord.Gzip {
		if isize, ok := pagerecord.GzipTrailerSize(body); ok {
			if isize > limit {
				// A valid stream decodes to at least its last member's
				// ISIZE, and the decoder rejects one whose trailer lies:
				// too large or corrupt, either way nothing to inflate.
				return nil, 0, pagerecord.ErrTooLarge
			}
			n = isize
		}
	}
	measured := false
	for {
		if n < 0 {
			m, err := pagerecord.DecodedSize(body, enc, limit)
			if err != nil {
				return nil, 0, err
			}
			n, measured = m, true
		}
		// +1: the decoder probes for the end of the stream without growing.
		want := int64(room + n + 1)
		ctx, cancel := context.WithTimeout(context.Background(), decodeWait)
		err := s.cfg.decodeMem.acquire(ctx, want)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		out, err := pagerecord.AppendDecoded(make([]byte, room, want), body, enc, n)
		if err != nil {
			s.cfg.decodeMem.release(want)
			if errors.Is(err, pagerecord.ErrTooLarge) && !measured {
				n = -1 // the hint was short: measure
				continue
			}
			return nil, 0, err
		}
		return out, want, nil
	}
}

// releaseDecode gives back a reservation taken by decodeHeld.
func (s *Server) releaseDecode(n int64) { s.cfg.decodeMem.release(n) }

// spliceHead returns head followed by buf[room:], built in place in the room
// decodeHeld left in front of the body when head fits there, else copied.
func spliceHead(head, buf []byte, room int) []byte {
	if len(head) <= room {
		start := room - len(head)
		copy(buf[start:room], head)
		return buf[start:]
	}
	return append(head, buf[room:]...)
}

// decodeHold is budget kept for a decoded body that queued response slots
// borrow: it is given back once every one of them has been written (or its
// connection is gone).
type decodeHold struct {
	slots []slotRef
	n     int64
	// For a stored page's decoded body (hits): which record it is, so that
	// later hits of that record borrow it too while the hold lasts.
	key  string
	id   recordID
	body []byte
}

// holdDecode keeps n bytes of budget until every slot in slots has been
// written, and returns the hold (to which later borrowers may be added); or
// gives the bytes back now and returns nil if the slots have all been
// written already. It takes over slots. On the loop only.
func (l *loop) holdDecode(slots []slotRef, n int64) *decodeHold {
	if n <= 0 {
		return nil
	}
	if slots = queuedSlots(slots); len(slots) == 0 {
		l.s.releaseDecode(n)
		return nil
	}
	h := &decodeHold{slots: slots, n: n}
	l.dec.held = append(l.dec.held, h)
	l.scheduleDecodePoll()
	return h
}

// queuedSlots filters slots in place down to those still queued.
func queuedSlots(slots []slotRef) []slotRef {
	kept := slots[:0]
	for _, s := range slots {
		if s.pending() != nil {
			kept = append(kept, s)
		}
	}
	clear(slots[len(kept):])
	return kept
}

// scheduleDecodePoll arranges for the decode poll to run on the loop after
// decodePollInterval, unless it is already scheduled. On the loop only.
func (l *loop) scheduleDecodePoll() {
	d := l.dec
	if d.pollScheduled {
		return
	}
	d.pollScheduled = true
	if d.pollTimer == nil {
		el := l.el
		run := (*decodePoll)(l)
		d.pollTimer = time.AfterFunc(decodePollInterval, func() {
			// Fails only when the engine is stopping.
			_ = el.Execute(context.Background(), run)
		})
		return
	}
	d.pollTimer.Reset(decodePollInterval)
}

// decodePoll is a loop's decode poll as a gnet Runnable: it gives back the
// budget of held decoded responses that have been written.
type decodePoll loop

func (dp *decodePoll) Run(context.Context) error {
	l := (*loop)(dp)
	d := l.dec
	d.pollScheduled = false
	kept := d.held[:0]
	for _, h := range d.held {
		if h.slots = queuedSlots(h.slots); len(h.slots) == 0 {
			l.s.releaseDecode(h.n)
			if h.key != "" && d.live[h.key] == h {
				delete(d.live, h.key)
			}
			continue
		}
		kept = append(kept, h)
	}
	clear(d.held[len(kept):])
	d.held = kept
	if len(d.held) > 0 {
		l.scheduleDecodePoll()
	}
	return nil
}

// decodeHandoff carries a worker's decoded response's reservation to the
// loop, to be held there until the response has been written.
type decodeHandoff struct {
	l     *loop
	c     *conn
	token uint64
	n     int64
}

func (h *decodeHandoff) Run(context.Context) error {
	h.l.holdDecode([]slotRef{{c: h.c, token: h.token}}, h.n)
	return nil
}

// holdOnLoop hands reservation n, for the decoded body in x.out, to x's loop,
// which keeps it until x's slot has been written. Worker goroutine only.
// Whether it runs before or after x.Run completes the slot does not matter:
// holdDecode looks at whether the slot is still queued.
func (x *exchange) holdOnLoop(n int64) {
	if n <= 0 {
		return
	}
	h := &decodeHandoff{l: x.l, c: x.c, token: x.token, n: n}
	if err := x.l.post(h); err != nil {
		x.l.s.releaseDecode(n)
	}
}
