package server

import (
	"context"
	"sync"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// Request coalescing, per process. While one cache fill for a key is in
// flight, later misses for the same key, on any loop, wait for it instead of
// going upstream too: a cold popular page costs the origin one request per
// process, not one per client or per loop. The registry of fills in flight
// is the only state loops share: it is locked, on the miss path only (a hit
// never looks at it). Worked interleaving, clients A on loop 1 and B on loop
// 2, cold /p:
//
//	loop 1, A: miss → no fill in flight → A leads, its fill goes upstream
//	loop 2, B: miss → fill in flight    → B waits (its request head copied)
//	loop 1: fill returns, stored        → A gets MISS; the waiters are handed
//	        to their own loops (Execute): B is rendered there from the new
//	        record, for B's own Accept-Encoding etc. (HIT)
//
// If the answer was not stored (Set-Cookie, private, an error…), the waiters
// are not handed a response meant for someone else: each is forwarded on its
// own, all at once, so nobody queues behind an uncacheable page (the
// serialisation Varnish users complain about).

// waiter is a request parked behind an in-flight fill; it belongs to c's loop.
type waiter struct {
	c     *conn
	token uint64
}

// maxWaiters bounds one key's waiting list; past it requests go upstream.
const maxWaiters = 1024

// fillRegistry is the process's fills in flight, by key: nil while a fill
// has no waiters. Any goroutine, under mu.
type fillRegistry struct {
	mu sync.Mutex
	m  map[string][]waiter
}

// joinFill parks slot p behind the fill in flight for its key and reports
// true, or reports false (and registers p's fill as the one in flight) when
// there is none. On c's loop.
func (c *conn) joinFill(p *pending, raw []byte) bool {
	if len(p.raw) == 0 {
		p.raw = append(p.raw, raw...) // the waiter is forwarded later, from this copy
	}
	f := &c.l.s.fills
	f.mu.Lock()
	ws, inFlight := f.m[string(p.key)]
	switch {
	case !inFlight:
		f.m[string(p.key)] = nil
	case len(ws) < maxWaiters:
		f.m[string(p.key)] = append(ws, waiter{c: c, token: p.token})
	}
	f.mu.Unlock()
	if !inFlight || len(ws) >= maxWaiters {
		return false
	}
	c.l.s.stats.Coalesced.Add(1)
	return true
}

// claim registers a fill for key with no request of its own waiting (a
// background refresh) and reports true, or reports false when one is in
// flight already. Any loop.
func (f *fillRegistry) claim(key []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, inFlight := f.m[string(key)]; inFlight {
		return false
	}
	f.m[string(key)] = nil
	return true
}

// abandon tells the loop's store that the fill or refresh of key it may have
// elected this process for stored nothing (pagestore.Abandoner).
func (l *loop) abandon(key []byte) {
	if a, ok := l.store.(pagestore.Abandoner); ok {
		a.Abandon(key)
	}
}

// releaseWaiters runs on the leader's loop when the fill for key has
// finished: rec is the stored record (immutable from now on), or nil when
// nothing was stored. Waiters on this loop are answered at once; those on
// other loops are handed to their loop.
func (l *loop) releaseWaiters(key []byte, rec []byte) {
	f := &l.s.fills
	f.mu.Lock()
	ws, ok := f.m[string(key)]
	delete(f.m, string(key))
	f.mu.Unlock()
	if !ok || len(ws) == 0 {
		return
	}
	var mine []waiter
	others := map[*loop][]waiter{}
	for _, w := range ws {
		if w.c.l == l {
			mine = append(mine, w)
		} else {
			others[w.c.l] = append(others[w.c.l], w)
		}
	}
	for ol, ows := range others {
		run := &wakeWaiters{l: ol, rec: rec, ws: ows}
		if err := ol.el.Execute(context.Background(), run); err != nil {
			l.s.cfg.Logger.Debug("dropping coalesced waiters: loop is gone", "err", err)
		}
	}
	l.wake(rec, mine)
}

// wakeWaiters answers one loop's waiters of a finished fill, on that loop.
type wakeWaiters struct {
	l   *loop
	rec []byte
	ws  []waiter
}

func (w *wakeWaiters) Run(context.Context) error {
	w.l.now = w.l.s.clock()
	w.l.wake(w.rec, w.ws)
	return nil
}

// wake answers waiters of this loop: from rec when it was stored and is
// fresh, else each forwarded on its own.
func (l *loop) wake(rec []byte, ws []waiter) {
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
		if stored && len(r.Selector) > 0 && !(p.vary.on() && p.vary.matches(&r)) {
			// A variant, chosen by the leader's request: look this one's
			// up again, through the index now stored (vary.go).
			w.c.relookup(p)
			continue
		}
		if stored && r.Fresh(l.now.Unix()) {
			if w.c.deferCopy(p, &r) {
				continue // held.go: looked up again, from the store, when there is room
			}
			p.collapsed = true
			w.c.serveHit(p, &r)
			continue
		}
		req := &l.reparse // the live request may be in the loop's parse scratch
		if _, err := httpparse.ParseHead(p.raw, req, &l.s.cfg.Limits); err != nil {
			w.c.complete(p, appendErrorResponse(p.out[:0], 500, p.keepAlive, labelMiss))
			continue
		}
		w.c.forward(p, req, nil, kindFill)
	}
}
