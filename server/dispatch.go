package server

import (
	"bytes"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// kind says how a request is forwarded and how its answer is labelled.
type kind uint8

const (
	kindFill       kind = iota // cacheable miss: fetch, maybe store (X-Cache: MISS)
	kindRevalidate             // stale stored page with a validator: conditional fetch
	kindBypass                 // cacheable method, but Authorization or a bypass cookie (X-Cache: BYPASS)
	kindPass                   // safe method that is never cached (X-Cache: PASS)
	kindUnsafe                 // POST, PUT, DELETE, unknown methods: forwarded, success invalidates (X-Cache: PASS)
)

var methodHEAD = []byte("HEAD")

// dispatch routes one complete request. raw is the request head as received
// and body its decoded body; both are views valid only during this call.
func (c *conn) dispatch(req *httpparse.Request, raw, body []byte) {
	p := c.push()
	p.keepAlive = req.KeepAlive && !c.l.s.draining.Load() // a draining server closes after it (drain.go)
	p.http10 = req.ProtoMinor == 0
	if !p.keepAlive {
		c.closing = true // nothing pipelined after "Connection: close" is read
	}
	p.isHead = bytes.Equal(req.Method, methodHEAD)
	p.method = methodOf(req.Method) // metrics.go
	if c.l.alog != nil {
		c.logStamp(p, req) // accesslog.go
	}

	if bytes.Equal(req.Method, methodPURGE) {
		c.purge(p, req)
		return
	}
	switch cachepolicy.MethodClass(req.Method) {
	case cachepolicy.ClassCacheable:
		// GET and HEAD never reach here with a body (onTraffic refuses them).
		// Any Authorization field line, even an empty one after a real one,
		// makes the request private (RFC 9111 §3.5).
		if c.cookieBypass(req) {
			c.forward(p, req, body, kindBypass)
		} else if forcesPass(req) {
			c.forward(p, req, body, kindPass)
		} else if req.Authorization != nil && req.Range == nil {
			c.authorizedFill(p, req)
		} else if req.Authorization != nil {
			c.forward(p, req, body, kindBypass) // a part for these credentials: the origin's 206 passes
		} else if c.l.s.cfg.RequestCacheControl && c.directed(p, req) {
			c.forward(p, req, body, kindPass) // no-store: the cache stays out of it
		} else {
			c.lookup(p, req, raw)
		}
	case cachepolicy.ClassPass:
		c.forward(p, req, body, kindPass)
	default:
		c.forward(p, req, body, kindUnsafe)
	}
}

// forcesPass reports whether a field of req changes what the origin renders
// in a way the cache key cannot see (cachepolicy.ForcesPass).
func forcesPass(req *httpparse.Request) bool {
	for i := range req.Headers {
		if cachepolicy.ForcesPass(req.Headers[i].Name) {
			return true
		}
	}
	return false
}

// errBodyWithGet answers a GET or HEAD that carries a body. An origin that
// ignores such a body would read it as the next request on a reused upstream
// connection (request smuggling), and its answer to that could be stored
// under a victim's key; RFC 9110 §9.3.1 gives the body no meaning.
var errBodyWithGet = &httpparse.Error{Status: 400, Reason: "body not allowed with GET or HEAD"}

// cookieBypasses reports whether any Cookie field names a bypass cookie.
func (c *conn) cookieBypass(req *httpparse.Request) bool {
	if req.CookieCount == 0 {
		return false
	}
	rules := &c.l.s.reqRules
	if req.CookieCount == 1 {
		return rules.CookieBypasses(req.Cookie)
	}
	for i := range req.Headers {
		h := &req.Headers[i]
		if httpbytes.EqualFold(h.Name, "cookie") && rules.CookieBypasses(h.Value) {
			return true
		}
	}
	return false
}

// lookup asks the loop's store for the page. The embedded store answers
// inside Get, for this very request: PageLookup then finds it in l.live and
// forwards a miss from the connection buffer without a copy. An asynchronous
// store answers later, so the request is copied into the slot first in case
// it turns out to be a miss. An asynchronous store may also answer EARLIER
// lookups from inside this Get (a failed write to memcached fails every
// operation pending on that connection): l.live names the token it belongs
// to, so such an answer is matched with its own slot's copy, never with the
// request being dispatched now. A network store's lookup for a slot behind
// others waits (deferred, from that copy) while the connection holds too
// much already (held.go).
func (c *conn) lookup(p *pending, req *httpparse.Request, raw []byte) {
	c.keyed(p, req)
	c.noteRange(p, req) // range.go
	if !c.l.syncStore {
		p.raw = append(p.raw, raw...)
		if c.lookupWaits(p) {
			c.deferLookup(p)
			return
		}
		c.startLookup(p)
	}
	l := c.l
	l.live = liveLookup{c: c, token: p.token, req: req, raw: raw}
	l.store.Get(p.key, c, p.token)
	l.live = liveLookup{}
}

// keyed copies what serving slot p from a stored page needs out of req, and
// its cache key.
func (c *conn) keyed(p *pending, req *httpparse.Request) {
	p.gzipOK = c.l.acceptsGzip(req.AcceptEncoding)
	p.ae = append(p.ae, req.AcceptEncoding...)
	p.inm = append(p.inm, req.IfNoneMatch...)
	p.ims = append(p.ims, req.IfModifiedSince...)
	p.key = cachepolicy.AppendKey(p.key, c.l.s.keyPrefix, req.Host, req.Path)
}

// authorizedFill forwards a request with Authorization (RFC 9111 §3.5). It
// is never answered from storage, nor joined to another request's fill: the
// origin decides what these credentials see. But its response is stored,
// for everyone, when it says a shared cache may (public, must-revalidate or
// s-maxage; cachepolicy.Response.MarkAuthorized). X-Cache: BYPASS.
func (c *conn) authorizedFill(p *pending, req *httpparse.Request) {
	c.keyed(p, req)
	p.authorized = true
	c.forwardCached(p, req, nil, kindFill, nil, 0, false)
}

// liveLookup is the request whose store lookup is running inside Get on a
// loop: its head is still in the connection buffer. Loop-only.
type liveLookup struct {
	c     *conn
	token uint64
	req   *httpparse.Request
	raw   []byte
}

// liveFor returns the live request for c's slot token, or nil when the answer
// is not for the lookup being dispatched.
func (l *loop) liveFor(c *conn, token uint64) *liveLookup {
	if l.live.c == c && l.live.token == token && l.live.req != nil {
		return &l.live
	}
	return nil
}

// PageLookup is the store's answer for slot token (pagestore.Handler). It runs
// on this connection's loop; rec is valid only during the call.
func (c *conn) PageLookup(token uint64, rec []byte, st pagestore.State, err error) {
	if c.released {
		return
	}
	p := c.find(token)
	if p == nil {
		return
	}
	c.looked(p) // held.go
	l := c.l
	var r pagerecord.Record
	found := false
	if err == nil && rec != nil {
		if derr := pagerecord.Decode(rec, &r); derr == nil {
			switch {
			case r.IsIndex():
				c.varyLookup(p, token, &r, st) // vary.go
				return
			case p.vary.on():
				if !p.vary.matches(&r) {
					c.varyMiss(p, token) // another request's variant, or a stale epoch's
					return
				}
				st = p.vary.variantState(st)
			case len(r.Selector) > 0:
				// A variant under a URL's own key: never written there.
				l.store.Delete(p.key)
				c.varyMiss(p, token)
				return
			}
			if st == 0 && !p.rq.Any && r.Fresh(l.now.Unix()) {
				if c.deferCopy(p, &r) {
					return // held.go: fetched again when there is room
				}
				c.serveHit(p, &r) // the hit path: nothing more to judge
				return
			}
			found = true
		} else {
			l.s.cfg.Logger.Warn("dropping undecodable stored page", "key", string(p.key), "err", derr)
			l.store.Delete(p.key)
		}
	} else if err != nil {
		l.s.stats.StoreErrors.Add(1)
	}
	req, raw := c.requestOf(p, token)
	if req == nil {
		return
	}
	if found {
		c.servePage(p, req, raw, rec, &r, st) // stale.go
		return
	}
	c.missFetch(p, req, raw)
}

// missFetch forwards slot p's request after its page was not found,
// unless the request said only-if-cached (answered 504).
func (c *conn) missFetch(p *pending, req *httpparse.Request, raw []byte) {
	if p.rq.OnlyIfCached {
		c.l.abandon(p.key) // a placeholder the store may have won for us
		c.onlyIfCached(p)
		return
	}
	c.fetch(p, req, raw, nil, 0, false)
}

// requestOf returns slot p's request for forwarding: the one being
// dispatched when the store answered inside its Get, else p's copy parsed
// again. On failure p is answered 500 and req is nil.
func (c *conn) requestOf(p *pending, token uint64) (req *httpparse.Request, raw []byte) {
	l := c.l
	if live := l.liveFor(c, token); live != nil {
		return live.req, live.raw
	}
	// Not the request being dispatched (an asynchronous answer, or an
	// earlier lookup failed from inside a later Get): re-parse its copy.
	// l.reparse, not the loop's parse scratch: the request being
	// dispatched may live there while this runs inside its Get.
	req = &l.reparse
	if _, perr := httpparse.ParseHead(p.raw, req, &l.s.cfg.Limits); perr != nil {
		c.complete(p, appendErrorResponse(p.out[:0], 500, p.keepAlive, labelMiss))
		return nil, nil
	}
	return req, p.raw
}

// fetch sends slot p's cacheable request to the origin, unless a fill of
// its key is in flight in this process, which p then waits for
// (coalesce.go). With stale (a record the store holds), a page with a
// validator is revalidated rather than fetched again, and until staleUntil
// the stale page answers an origin failure.
func (c *conn) fetch(p *pending, req *httpparse.Request, raw, stale []byte, staleUntil int64, revalidate bool) {
	if c.joinFill(p, raw) {
		return
	}
	k := kindFill
	if revalidate {
		k = kindRevalidate
	}
	if c.forwardCached(p, req, nil, k, stale, staleUntil, true) == nil {
		c.l.releaseWaiters(p.key, nil) // never went upstream: nobody may wait for it
	}
}

// serveHit answers slot p from a fresh stored page. When p is at the head of
// the queue the response is written straight from the scratch head and the
// stored body (no copy, no allocation); otherwise it waits in p's buffer.
// A page that must be inflated for this client and is too large to inflate
// on the loop is decoded off it (decodeHitAsync); p stays queued meanwhile.
func (c *conn) serveHit(p *pending, r *pagerecord.Record) { c.serveRecord(p, r, labelHit) }

// serveRecord is serveHit with the X-Cache label to send (HIT or STALE).
func (c *conn) serveRecord(p *pending, r *pagerecord.Record, label string) {
	l := c.l
	if label == labelHit {
		l.s.stats.Hits.Add(1)
	} else {
		l.s.stats.StaleHits.Add(1)
	}
	f := facts{isHead: p.isHead, gzipOK: p.gzipOK, ae: p.ae, inm: p.inm, ims: p.ims, keepAlive: p.keepAlive, http10: p.http10, collapsed: p.collapsed}
	body, enc, err := l.hitBody(p.key, r, &f)
	if err == errDecodeOffLoop {
		c.decodeHitAsync(p, r) // p stays queued until the decoded body is back
		return
	}
	if err != nil {
		l.s.cfg.Logger.Warn("dropping stored page that does not decode", "key", string(p.key), "err", err)
		l.store.Delete(p.key)
		l.dec.forget(p.key)
		c.complete(p, appendErrorResponse(p.out[:0], 502, p.keepAlive, label))
		return
	}
	if len(p.rng) > 0 {
		if done, _ := c.serveRange(p, r, &f, body, enc, label); done { // range.go
			return
		}
	}
	head, send := appendRecordHead(p.out[:0], r, &f, body, enc, label, l.now)
	if !send {
		body = nil
	}
	c.completeBorrowed(p, head, body)
}
