package server

// Interim (1xx) responses from the origin. The upstream pool hands each one
// it reads before the final response to Job.Interim on the worker
// (upstream/interim.go), hop-by-hop fields already removed; here it is copied
// and handed to the connection's loop, which relays it to the client in its
// place: before the final response of its own request, and after every
// response to an earlier request, since responses leave in request order.
//
//   - Its slot is at the head of the queue and nothing of it has been written
//     (it is not ready: the final response is still upstream): the interim
//     head is written at once, so a 103 Early Hints reaches the client while
//     the origin is still rendering the page.
//   - Otherwise (an earlier response is still being written, or the output is
//     blocked): it is held in the exchange, loop-owned, and written just
//     before the final response (exchange.Run prepends it), or earlier with
//     the next interim response that finds the slot at the head. RFC 9110
//     §15.2 wants a proxy to forward 1xx responses, so they are held rather
//     than dropped; what one exchange may hold is bounded by the pool
//     (64 KiB of interim heads at most, 32 heads) and by maxHeldInterim.
//
// Never relayed: to an HTTP/1.0 client (RFC 9110 §15.2: a server must not
// send it a 1xx), to nobody for a background refresh, and a 100 Continue to
// a client that did not send Expect: 100-continue (the proxy holds the whole
// request body before forwarding it and drops Expect on the way, so an
// origin's 100 tells such a client nothing). Interim responses are never
// stored: only the final response reaches fill, and a later request for the
// page (a hit, or a coalesced miss) gets none of them.
//
// Worked interleaving, "GET /slow, GET /hints" pipelined, /hints answers 103
// at once and its page later:
//
//	worker B: 103 read → post(interimRelay)
//	loop:     slot B is not at the head (A is upstream) → held in exchange B
//	worker A: final → post(A) → loop: slot A written, popped
//	worker B: final → post(B) → loop: held 103 + final B, one slot write
//
// Order: an interim relay and its exchange's final result are handed to the
// loop by the same worker, in that order, through the loop's inbox
// (inbox.go), which runs them in the order posted; so the final response
// never overtakes an interim one.

import (
	"context"

	"github.com/mcpage/mcpage/server/upstream"
)

// maxHeldInterim bounds the interim bytes one exchange holds while its slot
// waits behind earlier responses; past it later ones are dropped. The pool
// already bounds them at 64 KiB per exchange: this is the backstop on the
// loop side.
const maxHeldInterim = 64 << 10

// interimRelay carries one interim head from the worker to the loop.
type interimRelay struct {
	x    *exchange
	head []byte // owned copy
}

// upstreamInterim is the Job.Interim of an exchange with a client that may
// get interim responses (exchange.submit sets it). Worker goroutine: head is
// the worker's scratch, copied here; it touches only x's immutable request
// side.
func upstreamInterim(job *upstream.Job, head []byte) {
	x := job.Ctx.(*exchange)
	if isContinue(head) && !x.expect100 {
		return
	}
	ir := &interimRelay{x: x, head: append([]byte(nil), head...)}
	if err := x.l.post(ir); err != nil {
		x.l.s.cfg.Logger.Debug("dropping interim response: loop is gone", "err", err)
	}
}

// isContinue reports whether an interim head is "HTTP/1.1 100 ...".
func isContinue(head []byte) bool {
	return len(head) >= 13 && string(head[9:13]) == "100 "
}

// Run relays the head on the connection's loop: written now when its slot is
// at the head of the queue with nothing of it written yet, else held in the
// exchange for exchange.Run (see the comment at the top of this file).
func (ir *interimRelay) Run(context.Context) error {
	x := ir.x
	c := x.c
	if c == nil || c.released {
		return nil
	}
	p := c.find(x.token)
	if p == nil || p.ready {
		return nil // the slot was answered otherwise (it cannot be by this exchange yet)
	}
	if c.q[0] == p && p.sent == 0 && !c.outBlocked {
		if len(x.held) > 0 {
			c.writeInterim(x.held)
			x.held = nil
		}
		if !c.released { // a failed write closes the connection inside Write
			c.writeInterim(ir.head)
		}
		return nil
	}
	if len(x.held)+len(ir.head) <= maxHeldInterim {
		x.held = append(x.held, ir.head...)
	}
	return nil
}

// writeInterim hands an interim head to gnet ahead of its slot's response.
// It is counted as bytes sent, not as a response (metrics, access log). On
// the loop.
func (c *conn) writeInterim(head []byte) {
	c.l.m.bytesOut.Add(uint64(len(head)))
	_, _ = c.gc.Write(head)
}

// prependHeldInterim puts the interim heads x holds in front of its final
// response (x.out, which for a streamed one is its head). The slot's
// response is accounted first from the final head (its status and X-Cache,
// the access log's head length), and the held bytes count as part of that
// head, not of the body. On the loop, from exchange.Run, for slot p of x.c.
func (c *conn) prependHeldInterim(p *pending, x *exchange) {
	if len(x.held) == 0 {
		return
	}
	c.l.account(p, x.out)
	if c.l.alog != nil {
		p.lg.headLen += int32(len(x.held))
	}
	x.out = append(x.held, x.out...)
	x.held = nil
}
