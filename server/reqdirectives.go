package server

import (
	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// Request directives (Config.RequestCacheControl, RFC 9111 §5.2.1): what a
// request's Cache-Control asks of the cache, obeyed only when configured
// (see cachepolicy.Request for why it is off by default).

// maxDirectiveLines bounds the Cache-Control and Pragma lines read.
const maxDirectiveLines = 8

// directed reads req's Cache-Control and Pragma into slot p and reports
// whether the request said no-store (it is then passed, neither answered
// from storage nor stored). On the loop; no allocation.
func (c *conn) directed(p *pending, req *httpparse.Request) bool {
	var ccs, pragmas [maxDirectiveLines][]byte
	nc, np := 0, 0
	for i := range req.Headers {
		h := &req.Headers[i]
		switch {
		case httpbytes.EqualFold(h.Name, "cache-control") && nc < maxDirectiveLines:
			ccs[nc] = h.Value
			nc++
		case httpbytes.EqualFold(h.Name, "pragma") && np < maxDirectiveLines:
			pragmas[np] = h.Value
			np++
		}
	}
	if nc == 0 && np == 0 {
		return false
	}
	p.rq = cachepolicy.ParseRequest(ccs[:nc], pragmas[:np])
	return p.rq.NoStore
}

// serveDirected answers slot p from the page the store holds, as the
// request's directives allow: from storage when they accept its age and
// freshness (stale only by the request's max-stale, and never a page
// that forbids serving stale), otherwise through the origin, revalidating
// when the page has a validator; with only-if-cached, 504 instead of the
// origin. On the loop.
func (c *conn) serveDirected(p *pending, req *httpparse.Request, raw, rec []byte, r *pagerecord.Record, st pagestore.State) {
	l := c.l
	now := l.now.Unix()
	rem := r.Remaining(now)
	if st&pagestore.Invalidated != 0 {
		rem = min(rem, 0)
	}
	var pr cachepolicy.Response
	pr.Reset(r.Status)
	eachField(r.Header, func(name, value []byte) { pr.Observe(name, value) })
	if p.rq.Acceptable(r.Age(now), rem, !pr.Stale().Forbidden) {
		if st&pagestore.Refresh != 0 {
			l.abandon(p.key) // elected, but this request refreshes nothing
		}
		label := labelHit
		if rem <= 0 {
			label = labelStale
		}
		c.serveRecord(p, r, label)
		return
	}
	if p.rq.OnlyIfCached {
		if st&pagestore.Refresh != 0 {
			l.abandon(p.key)
		}
		c.onlyIfCached(p)
		return
	}
	c.fetch(p, req, raw, rec, 0, r.Revalidatable() || p.isHead)
}

// onlyIfCached answers a request that may not go to the origin and has no
// acceptable stored page: 504 (RFC 9111 §5.2.1.7).
func (c *conn) onlyIfCached(p *pending) {
	c.complete(p, appendErrorResponse(p.out[:0], 504, p.keepAlive, labelMiss))
}
