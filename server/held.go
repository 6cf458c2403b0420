package server

import "github.com/mcpage/mcpage/server/pagerecord"

// Held response bytes. A response that cannot be written when it is
// answered waits in its slot, and a network store's reply is valid only
// during its event, so a page answered behind another is copied into the
// slot (completeBorrowed). Without a bound, one connection pipelining
// MaxPipeline GETs of a 1 MB page and reading slowly made the proxy hold
// 64 copies; 64 such connections held gigabytes. Each connection therefore
// counts the bytes its queued slots own (conn.held: a slot's p.out from the
// moment it is ready until it is popped) against Config.MaxHeld:
//
//   - onTraffic stops parsing while held is past the bound (as at
//     MaxPipeline), and flush wakes it once it is back under;
//   - lookup does not start a network store's lookup for a slot behind the
//     head while held, plus the lookups in flight reckoned at the size of
//     the connection's last page (conn.est), would pass the bound: the slot
//     is deferred, and flush starts deferred lookups in queue order as the
//     queue drains (the head's always);
//   - PageLookup drops a page about to be served (HIT, or STALE while it
//     is refreshed) for a slot behind the head when copying it would pass
//     the bound, and defers the slot: its page is fetched again when there
//     is room (the store's bandwidth is spent rather than the proxy's
//     memory). The same holds for the page a fill this slot waited for
//     stored (coalesce.go). A refresh the answer elected this loop for has
//     been started by then; pages answered through request directives
//     (RequestCacheControl) are not dropped.
//
// Worked interleaving, MaxHeld 4 MiB, a client that pipelines 32 GETs of a
// 1 MB memcached page in one write and reads nothing: all 32 are parsed and
// looked up (est is still 0); answer 1 (head) is written up to MaxOutbound
// and the rest of it copied (held 0.x MB); answers 2–4 are copied (held
// ~3.x MB); answers 5–32 would pass the bound and are deferred. The client
// reads: slot 1 pops, held falls by its size, flush starts slot 5's lookup
// (held + 1 × est ≤ 4 MiB) and so on; every response goes out in order.

// charge counts slot p's own bytes (p.out) as held by c, replacing what it
// was charged before. On the loop, whenever a slot becomes ready or its
// bytes were copied into it.
func (c *conn) charge(p *pending) {
	if d := len(p.out) - p.held; d != 0 {
		p.held += d
		c.held += d
		c.l.m.held.Add(int64(d))
	}
}

// uncharge forgets slot p's held bytes as it leaves c's queue (popFront).
func (c *conn) uncharge(p *pending) {
	if p.held != 0 {
		c.held -= p.held
		c.l.m.held.Add(-int64(p.held))
		p.held = 0
	}
}

// dropHeld forgets everything c's queue held, when the queue is dropped
// without its slots being popped (release, a final response's truncation).
func (c *conn) dropHeld() {
	if c.held != 0 {
		c.l.m.held.Add(-int64(c.held))
		c.held = 0
	}
	c.looking, c.deferred = 0, 0
}

// overHeld reports whether c holds more than Config.MaxHeld: onTraffic
// reads no further requests then.
func (c *conn) overHeld() bool { return c.held > c.l.s.cfg.MaxHeld }

// lookupWaits reports whether slot p's lookup, about to start, should wait
// (be deferred) for room under Config.MaxHeld: never with the embedded store
// (its pages are views, and p has no copy of its request to look up later)
// nor for the head slot, and always while an earlier slot waits, so lookups
// start in queue order.
func (c *conn) lookupWaits(p *pending) bool {
	if c.l.syncStore || c.q[0] == p {
		return false
	}
	return c.deferred > 0 || c.held+(c.looking+1)*c.est > c.l.s.cfg.MaxHeld
}

// startLookup marks slot p's lookup as in flight, for lookupWaits' reckoning;
// the caller then calls the store's Get. PageLookup clears it (looked).
func (c *conn) startLookup(p *pending) {
	if !c.l.syncStore {
		p.looking = true
		c.looking++
	}
}

// looked notes that slot p's lookup has been answered.
func (c *conn) looked(p *pending) {
	if p.looking {
		p.looking = false
		c.looking--
	}
}

// deferLookup leaves slot p unanswered, to be looked up again by
// resumeLookups once there is room.
func (c *conn) deferLookup(p *pending) {
	p.deferred = true
	c.deferred++
}

// deferCopy defers slot p's lookup, dropping page r that a network store
// has just answered for it (PageLookup, for a page about to be served as a
// HIT or STALE) or that the fill it waited for stored (wake), when copying
// r into p would pass Config.MaxHeld and p is not the head (the head is
// always answered, so the queue moves). It reports whether it did; the
// caller then leaves p unanswered. It records the copy's size as c's page
// size estimate either way.
func (c *conn) deferCopy(p *pending, r *pagerecord.Record) bool {
	if c.l.syncStore {
		return false
	}
	size := c.heldEstimate(p, r)
	c.est = size
	if c.q[0] == p || c.held+size <= c.l.s.cfg.MaxHeld {
		return false
	}
	c.deferLookup(p)
	return true
}

// heldEstimate is about the bytes slot p's response from page r would own
// once copied: its head and the body in the coding the client takes (the
// decoded size of a gzip body it cannot take, from the gzip trailer).
func (c *conn) heldEstimate(p *pending, r *pagerecord.Record) int {
	n := len(r.Header) + headSlack
	if p.isHead {
		return n
	}
	f := facts{gzipOK: p.gzipOK, ae: p.ae}
	switch {
	case f.clientTakes(r.Encoding):
		return n + len(r.Body)
	case r.Encoding == pagerecord.Gzip:
		if isize, ok := pagerecord.GzipTrailerSize(r.Body); ok {
			return n + min(isize, c.l.s.cfg.MaxDecoded)
		}
	}
	return n + min(4*len(r.Body), c.l.s.cfg.MaxDecoded)
}

// headSlack is what a rendered head may add to a stored header block
// (status line, Age, X-Cache, Content-Length, ...).
const headSlack = 512

// resumeLookups starts the deferred lookups that now have room, in queue
// order: the head's always, a later one while lookupWaits' reckoning stays
// under Config.MaxHeld. On the loop, from flush; a lookup answered inside
// Get flushes again, which returns here at once (resuming) and leaves the
// rest to this loop.
func (c *conn) resumeLookups() {
	if c.resuming {
		return
	}
	c.resuming = true
	for c.deferred > 0 && !c.released {
		p := c.firstDeferred()
		if p == nil || (p != c.q[0] && c.held+(c.looking+1)*c.est > c.l.s.cfg.MaxHeld) {
			break
		}
		p.deferred = false
		c.deferred--
		c.startLookup(p)
		c.relookup(p) // vary.go: from the URL's own key
	}
	c.resuming = false
}

// firstDeferred returns c's first deferred slot, or nil.
func (c *conn) firstDeferred() *pending {
	for _, p := range c.q {
		if p.deferred {
			return p
		}
	}
	return nil
}
