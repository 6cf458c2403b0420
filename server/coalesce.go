package server

import (
	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// Request coalescing, per loop. While one cache fill for a key is in flight
// on a loop, later misses for the same key on that loop wait for it instead
// of going upstream too (a cold popular page costs the origin one request per
// loop, not one per client). Worked interleaving, two clients A and B on one
// loop, cold /p:
//
//	A: miss → no fill in flight → becomes the leader, fill goes upstream
//	B: miss → fill in flight    → B waits (its request head is copied)
//	fill returns, stored        → A gets MISS; B is rendered from the new
//	                              record for B's own Accept-Encoding etc. (HIT)
//
// If the answer was not stored (Set-Cookie, private, an error…), the waiters
// are not handed a response meant for someone else: each is forwarded on its
// own, all at once, so nobody queues behind an uncacheable page (the
// serialisation Varnish users complain about).

// waiter is a request parked behind an in-flight fill.
type waiter struct {
	c     *conn
	token uint64
}

// maxWaiters bounds one key's waiting list; past it requests go upstream.
const maxWaiters = 1024

// joinFill parks slot p behind the fill in flight for its key and reports
// true, or reports false (and registers p's fill as the one in flight) when
// there is none.
func (c *conn) joinFill(p *pending, raw []byte) bool {
	l := c.l
	ws, inFlight := l.fills[string(p.key)]
	if !inFlight {
		l.fills[string(p.key)] = nil
		return false
	}
	if len(ws) >= maxWaiters {
		return false
	}
	if len(p.raw) == 0 {
		p.raw = append(p.raw, raw...)
	}
	l.fills[string(p.key)] = append(ws, waiter{c: c, token: p.token})
	l.s.stats.Coalesced.Add(1)
	return true
}

// releaseWaiters runs on the loop when the fill for key has finished: rec is
// the stored record, or nil when nothing was stored.
func (l *loop) releaseWaiters(key []byte, rec []byte) {
	ws, ok := l.fills[string(key)]
	if !ok {
		return
	}
	delete(l.fills, string(key))
	var r pagerecord.Record
	stored := rec != nil && pagerecord.Decode(rec, &r) == nil
	for _, w := range ws {
		if w.c.released {
			continue
		}
		p := w.c.find(w.token)
		if p == nil {
			continue
		}
		if stored && r.Fresh(l.now.Unix()) {
			w.c.serveHit(p, &r)
			continue
		}
		req := &l.reparse // the live request may be in the loop's parse scratch
		if _, err := httpparse.ParseHead(p.raw, req, &l.s.cfg.Limits); err != nil {
			w.c.complete(p, appendErrorResponse(p.out[:0], 500, p.keepAlive, labelMiss))
			continue
		}
		w.c.forward(p, req, nil, kindFill, nil)
	}
}
