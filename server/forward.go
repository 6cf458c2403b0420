package server

import (
	"context"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// exchange carries one forwarded request from its loop to an upstream worker
// and back. The loop fills the request side and never touches it again until
// Run; the worker fills the result side (a complete response, and the record
// to store) and hands it back through the loop's inbox. The worker reads only x's
// own fields and the immutable Server config, never connection state.
//
// A background refresh (stale.go) is an exchange without a client: c is nil,
// and only its record matters.
type exchange struct {
	l     *loop
	c     *conn // nil: a background refresh
	token uint64
	kind  kind
	f     facts
	key   []byte // cache key (fill, revalidate)
	host  []byte // unsafe requests: for invalidation
	path  []byte
	stale []byte // the stale record: revalidated (kindRevalidate), or served if the origin fails
	// staleUntil: while now (unix seconds) is at most this, an origin
	// failure or 5xx is answered with the stale record instead (RFC 5861
	// stale-if-error, -grace); 0 when it may not be.
	staleUntil int64
	// leader: this exchange's key is registered in the fill registry
	// (coalesce.go); its end releases the requests waiting for it.
	leader bool
	// headOnly: a revalidation forwarded as HEAD (headupdate.go).
	headOnly bool
	// authorized: the request had Authorization (authorizedFill): labelled
	// BYPASS, its response stored only where RFC 9111 §3.5 allows.
	authorized bool
	// http11: the client speaks HTTP/1.1, so a streamed body of unknown
	// length can be sent chunked.
	http11 bool
	// expect100: the client sent Expect: 100-continue (interim.go).
	expect100 bool
	// held: interim responses waiting for the slot to reach the head of
	// the queue (interim.go). Loop only.
	held []byte
	// rng, ifRange: the client's Range and If-Range, answered from the
	// page a fill or revalidation renders (range.go).
	rng, ifRange []byte

	// buf: the slot's response buffer, lent to the exchange (its p.out is
	// nil meanwhile), so that the worker renders into memory that a
	// previous response grew; taken once by outBuf, and back in the slot
	// with the response (complete).
	buf []byte

	// results, written by the worker
	out        []byte        // complete response for the client
	rec        []byte        // record to store, nil when nothing is stored
	ttl        time.Duration // its time to live in the store
	drop       bool          // delete key (a revalidated page that may no longer be stored)
	invalidate [][]byte      // keys an unsafe request's success invalidates
	relay      *relay        // streamed response: x.out is its head (stream.go)
	// Variants (vary.go): what the lookup found, where the record goes when
	// not under key, and the variant index to write with it.
	vary     exchangeVary
	storeKey []byte
	indexRec []byte
	indexTTL time.Duration
	served   string        // X-Cache label when not the kind's (a stale page served on error)
	took     time.Duration // the pool's exchange time (upstream.Config.Observe), for the access log

	// inline holds the request copies (arena) of an exchange that needs no
	// more, in the same allocation: a pass-through's Accept-Encoding, a
	// small fill's key and fields.
	inline [256]byte
}

var gzipOnly = []byte("gzip")

// forward sends req upstream for slot p. req and body are views valid only
// during this call: Build copies what it needs. A fill or revalidation is
// sent by forwardCached instead.
// It returns the exchange, or nil when the pool refused it (p is then
// answered with 503 at once).
func (c *conn) forward(p *pending, req *httpparse.Request, body []byte, k kind) *exchange {
	return c.forwardCached(p, req, body, k, nil, 0, false)
}

// forwardCached sends a cacheable request upstream for slot p: a fill, or
// with stale and kindRevalidate a conditional request for the stale record.
// A stale record with staleUntil > 0 is served instead of an origin failure
// until then. leader says p's key is registered in the fill registry.
func (c *conn) forwardCached(p *pending, req *httpparse.Request, body []byte, k kind, stale []byte, staleUntil int64, leader bool) *exchange {
	l := c.l
	s := l.s
	x := &exchange{l: l, c: c, token: p.token, kind: k, http11: req.ProtoMinor == 1, staleUntil: staleUntil, leader: leader, authorized: p.authorized,
		expect100: req.Expect100}
	// What x keeps of the request and the slot, copied into one block.
	fill := k == kindFill || k == kindRevalidate
	need := len(req.AcceptEncoding)
	switch {
	case fill:
		need += len(p.inm) + len(p.ims) + len(p.rng) + len(p.ifRange) + len(p.key) + fieldsLen(req)
		if p.vary.on() {
			need += len(p.vary.base) + len(p.vary.index)
		}
	case k == kindUnsafe:
		need += len(req.Host) + len(req.Path)
	}
	a := arena{b: x.inline[:0]}
	if need > len(x.inline) {
		a.b = make([]byte, 0, need)
	}
	x.f = facts{
		isHead: p.isHead, gzipOK: p.gzipOK, keepAlive: p.keepAlive, http10: p.http10,
		ae: a.keep(req.AcceptEncoding),
	}
	fw := c.forwardFacts(fill)
	switch {
	case p.rq.Any && (k != kindPass || p.rq.NoStore):
		x.f.fwd = fwdRequest
	case k == kindFill && p.vary.on():
		x.f.fwd = fwdVaryMiss
	case k == kindFill && stale != nil:
		x.f.fwd = fwdStale
	}
	switch k {
	case kindFill, kindRevalidate:
		if p.authorized {
			s.stats.Passes.Add(1) // labelled BYPASS (authorizedFill)
		} else {
			s.stats.Misses.Add(1)
		}
		x.f.inm = a.keep(p.inm)
		x.f.ims = a.keep(p.ims)
		x.rng, x.ifRange = a.keep(p.rng), a.keep(p.ifRange) // range.go
		x.key = a.keep(p.key)
		x.takeVary(&a, p, req)
		// A HEAD revalidates a stale page as HEAD (RFC 9111 §4.3.5): the
		// origin need not send a body nobody will read (headupdate.go).
		x.headOnly = p.isHead && k == kindRevalidate
		fw.ForceGET = p.isHead && !x.headOnly
	case kindUnsafe:
		s.stats.Passes.Add(1)
		x.host = a.keep(req.Host)
		x.path = a.keep(req.Path)
	default:
		s.stats.Passes.Add(1)
	}
	x.buf, p.out = p.out[:0], nil
	if err := x.submit(req, body, &fw, stale); err != nil {
		s.stats.Errors.Add(1)
		c.complete(p, appendErrorResponse(x.outBuf(), 503, p.keepAlive, x.label()))
		return nil
	}
	return x
}

// arena is one allocation that an exchange's copies of request bytes share
// (forwardCached sizes it to fit them all).
type arena struct{ b []byte }

// keep copies v into the arena and returns the copy, capped so that an
// append to it cannot reach the next one; nil for an empty v.
func (a *arena) keep(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	start := len(a.b)
	a.b = append(a.b, v...)
	return a.b[start:len(a.b):len(a.b)]
}

// outBuf hands out the lent response buffer, emptied, once; later calls
// get nil (append allocates). The worker renders x.out into it.
func (x *exchange) outBuf() []byte {
	b := x.buf[:0]
	x.buf = nil
	return b
}

// submit builds x's upstream request from req (and body) and hands it to
// the pool. stale, when given, is copied into x: a revalidation asks the
// origin whether it still holds (its validators).
func (x *exchange) submit(req *httpparse.Request, body []byte, fw *upstream.Forward, stale []byte) error {
	s := x.l.s
	job := upstream.AcquireJob()
	job.StreamAbove = passStreamAbove
	if x.kind == kindFill || x.kind == kindRevalidate {
		// Larger bodies are never stored (nor decoded whole): stream them.
		job.StreamAbove = min(s.cfg.MaxItem, s.cfg.MaxDecoded)
	}
	// req.Path, not req.Target: an absolute-form target's authority is
	// req.Host, which Build sends as the only Host (the one the cache
	// key names).
	job.Build(req.Method, req.Path, req.Host, req.Headers, body, fw)
	if stale != nil {
		x.stale = append([]byte(nil), stale...)
	}
	if x.kind == kindRevalidate {
		var r pagerecord.Record
		if pagerecord.Decode(x.stale, &r) == nil {
			if v := r.Lookup("ETag"); v != nil {
				job.AddHeader("If-None-Match", v)
			}
			if v := r.Lookup("Last-Modified"); v != nil {
				job.AddHeader("If-Modified-Since", v)
			}
		}
	}
	job.Ctx = x
	job.Done = upstreamDone
	if x.c != nil && x.http11 {
		job.Interim = upstreamInterim // interim.go
	}
	s.stats.Upstream.Add(1)
	if err := s.pool.Submit(job); err != nil {
		upstream.ReleaseJob(job)
		return err
	}
	return nil
}

// forwardFacts is how c's requests are forwarded: its address, mcpage's
// hop, the keyed host. A cache fill asks the origin for gzip (stored once,
// decoded per client) and without the client's conditionals (the page is
// stored whole, and answered conditionally from the record).
func (c *conn) forwardFacts(fill bool) upstream.Forward {
	fw := upstream.Forward{ClientIP: c.clientIP(), Proto: "http", Via: "1.1 mcpage", ForwardedHost: true}
	if fill {
		fw.AcceptEncoding = gzipOnly
		fw.StripConditional = true
		fw.StripRange = true // the whole page is fetched and stored (range.go)
	}
	return fw
}

// clientIP is the client's address for X-Forwarded-For (proxy.go): text in
// the loop's scratch, valid until the next call on this loop (the upstream
// request's Build copies it at once).
func (c *conn) clientIP() []byte {
	if !c.remote.IsValid() {
		return nil
	}
	return c.remote.Addr().AppendTo(c.l.ipText[:0])
}

func (x *exchange) label() string {
	if x.served != "" {
		return x.served
	}
	switch x.kind {
	case kindFill:
		if x.authorized {
			return labelBypass
		}
		return labelMiss
	case kindRevalidate:
		return labelRevalidated
	case kindBypass:
		return labelBypass
	default:
		return labelPass
	}
}

// upstreamDone runs on an upstream worker: it turns the exchange's result into
// bytes (compressing a page to store is done here, off the loop), releases the
// job and hands the exchange back to its loop.
func upstreamDone(job *upstream.Job) {
	x := job.Ctx.(*exchange)
	switch {
	case streamed(job) && x.c == nil:
		// A background refresh found the page grown past what is stored:
		// nothing to relay, and the stale record goes.
		job.Body.Close()
		x.drop = true
	case streamed(job):
		x.stream(job)
		upstream.ReleaseJob(job)
		return
	default:
		x.finish(job, x.l.s.clock())
	}
	upstream.ReleaseJob(job)
	if err := x.l.post(x); err != nil {
		x.l.s.cfg.Logger.Debug("dropping upstream result: loop is gone", "err", err)
	}
}

// Run delivers the result on the connection's loop: store, invalidate, then
// queue the response in order.
func (x *exchange) Run(context.Context) error {
	l := x.l
	l.now = l.s.clock()
	x.storeVaried() // store, and settle the store's elections (vary.go)
	for _, k := range x.invalidate {
		l.store.Delete(k)
	}
	if x.kind == kindFill || x.kind == kindRevalidate {
		if x.leader {
			l.releaseWaiters(x.key, x.rec)
		}
	}
	c := x.c
	if c == nil {
		return nil // a background refresh: nobody to answer
	}
	if c.released {
		if x.relay != nil {
			x.relay.done(false)
		}
		return nil
	}
	p := c.find(x.token)
	if p != nil && l.alog != nil {
		p.lg.up = x.took // accesslog.go
	}
	if p != nil {
		c.prependHeldInterim(p, x) // interim.go
	}
	switch {
	case x.relay != nil && p == nil:
		x.relay.done(false)
	case x.relay != nil:
		x.relay.data = x.out
		c.relayTo(p, x.relay)
	case p != nil:
		c.complete(p, x.out)
	}
	return nil
}

// finish builds the response (and the record) from a completed job. Worker
// goroutine only.
func (x *exchange) finish(job *upstream.Job, now time.Time) {
	s := x.l.s
	if x.serveStaleInstead(job, now) {
		return
	}
	if job.Err != nil {
		s.stats.Errors.Add(1)
		x.out = appendErrorResponse(x.outBuf(), upstream.StatusFor(job.Err), x.f.keepAlive, x.label())
		return
	}
	resp := &job.Resp
	status := resp.Status()
	switch x.kind {
	case kindRevalidate:
		switch {
		case status == 304:
			x.freshen(resp, now)
		case x.headOnly:
			x.headUpdate(resp, now) // headupdate.go
		default:
			x.fill(resp, now)
		}
	case kindFill:
		x.fill(resp, now)
	default:
		x.out = appendPassResponse(x.outBuf(), resp, &x.f, x.label(), "", false, x.kind != kindFill)
		if x.kind == kindUnsafe && status < 400 {
			x.invalidations(resp)
		}
	}
}

// invalidations lists the keys a successful unsafe request invalidates: its
// own URI, and its Location / Content-Location when same-host (RFC 9111 §4.4).
func (x *exchange) invalidations(resp *upstream.Response) {
	prefix := x.l.s.keyPrefix
	x.invalidate = append(x.invalidate, cachepolicy.AppendKey(nil, prefix, x.host, x.path))
	for _, name := range [...]string{"location", "content-location"} {
		if v := peekFold(resp, name); len(v) > 0 { // names as received, any case
			if p, ok := cachepolicy.SameHostPath(x.host, v); ok {
				x.invalidate = append(x.invalidate, cachepolicy.AppendKey(nil, prefix, x.host, p))
			}
		}
	}
}
