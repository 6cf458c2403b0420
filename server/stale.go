package server

import (
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

// Serving stale pages, on both stores. A page is kept in the store past its
// freshness for as long as it may still be served stale (fill.go's keep,
// cachepolicy.StoreTTL): Config.Grace, or longer when the response itself
// allows it with stale-while-revalidate or stale-if-error (RFC 5861), capped
// at MaxStaleKeep; never when it said must-revalidate, proxy-revalidate or
// s-maxage (RFC 9111 §4.2.4). Within that window:
//
//   - while-revalidate (max of grace and stale-while-revalidate): a stale
//     page is answered at once (X-Cache: STALE, Age still right) while one
//     request per process refreshes it in the background; with memcached,
//     one per fleet (mg R elects it, pagestore.Refresh; the others are told
//     pagestore.Refreshing and refresh nothing).
//   - if-error (max of grace, Config.StaleIfError and stale-if-error): past
//     while-revalidate, the
//     request goes to the origin, and an origin failure, timeout or 5xx is
//     answered with the stale page instead of the error.
//
// Worked interleaving, grace 10s, page fresh until t=60, two mcpage
// processes A and B on one memcached:
//
//	t=61 A: mg → R fires (its memcached TTL is fresh+MaxStaleKeep) → W:
//	        A answers STALE and refreshes in the background
//	t=61 B: mg → Z (A holds the win) → B answers STALE, refreshes nothing
//	t=62 A: refresh stored with a plain ms: the item is clean again → HITs
//
// Had A's refresh failed, A tells its store (Abandoner: md I with A's CAS),
// so that the next reader anywhere is elected to try again.

const labelStale = "STALE" // a stale page: while it is refreshed, or instead of an origin failure

// MaxStaleKeep caps how long past its freshness a page is kept to be served
// stale, whatever its stale-while-revalidate or stale-if-error says, and is
// the most Config.Grace may be. A memcached store keeps every page this long
// past freshness, so that mg R fires exactly when freshness ends (mcstore).
const MaxStaleKeep = 24 * time.Hour

// staleWindows returns how long past its freshness r may be served stale:
// while it is refreshed (swr) and instead of an origin failure (sie), in
// seconds; both 0 when its response forbids it. On any goroutine: it reads
// only r and the immutable config.
func (s *Server) staleWindows(r *pagerecord.Record) (swr, sie int64) {
	var pr cachepolicy.Response
	pr.Reset(r.Status)
	eachField(r.Header, func(name, value []byte) { pr.Observe(name, value) })
	w, e := s.staleFor(pr.Stale())
	return int64(w / time.Second), int64(e / time.Second)
}

// staleFor turns what a response allows once stale into the server's
// windows: the longest of Grace and the response's own, capped at
// MaxStaleKeep; 0 when forbidden.
func (s *Server) staleFor(st cachepolicy.Stale) (swr, sie time.Duration) {
	if st.Forbidden {
		return 0, 0
	}
	g := max(s.cfg.Grace, 0)
	return min(max(g, st.WhileRevalidate), MaxStaleKeep), min(max(g, s.cfg.StaleIfError, st.IfError), MaxStaleKeep)
}

// staleKeep is how long past freshness a page with decision d is kept to be
// served stale (cachepolicy.StoreTTL's staleFor).
func (s *Server) staleKeep(d *cachepolicy.Decision) time.Duration {
	swr, sie := s.staleFor(d.Stale)
	return max(swr, sie)
}

// secondsStale is how far past its freshness r is at now (unix seconds), 0
// while its record says fresh (a purged page then counts as stale from now).
func secondsStale(r *pagerecord.Record, now int64) int64 {
	rem := r.Remaining(now)
	if rem > 0 {
		return 0
	}
	return -rem
}

// servePage answers slot p from a page the store holds that is not simply
// fresh: stale, purged, or one this process was elected to refresh. rec is
// the record bytes (valid during the call), r its decoded view, st what the
// store says of it. On the loop.
func (c *conn) servePage(p *pending, req *httpparse.Request, raw, rec []byte, r *pagerecord.Record, st pagestore.State) {
	if p.rq.Any {
		c.serveDirected(p, req, raw, rec, r, st) // reqdirectives.go
		return
	}
	l := c.l
	now := l.now.Unix()
	invalidated := st&pagestore.Invalidated != 0
	fresh := !invalidated && r.Fresh(now)
	over := secondsStale(r, now)
	swr, sie := l.s.staleWindows(r)
	if fresh || (swr > 0 && over <= swr) {
		// Answer now, and refresh in the background when elected; with a
		// store that elects nobody (the embedded one), when the page is
		// stale. With one that elects, a stale page nobody was elected for
		// is one whose record ran out a moment before the store's clock
		// did: the next reader will be. A fresh page may be elected too
		// (its memcached TTL ran out a little first): refreshed early.
		if st&pagestore.Refresh != 0 || (!fresh && !l.elects && st&pagestore.Refreshing == 0) {
			c.refresh(p, req, rec, r)
		}
		if c.deferCopy(p, r) {
			return // held.go: fetched again when there is room
		}
		label := labelStale
		if fresh {
			label = labelHit
		}
		c.serveRecord(p, r, label)
		return
	}
	// Too stale to answer before the origin has been asked: revalidate (or
	// fetch again), serving the stale page instead of a failure while its
	// if-error window lasts.
	var until int64
	if sie > 0 && over <= sie {
		until = now - over + sie
	}
	// A HEAD revalidates as HEAD, validators or not (headupdate.go).
	c.fetch(p, req, raw, rec, until, r.Revalidatable() || p.isHead)
}

// anyEncoding is the Accept-Encoding of a background refresh: it renders
// nothing for a client, so it takes the origin's coding as it comes.
var anyEncoding = []byte("gzip, deflate, br, zstd")

// refresh starts a background refresh of slot p's stale page (rec), unless a
// fill or refresh of it is in flight in this process already: a conditional
// request when the page has a validator, else a plain fetch, from p's
// request. Its result is only stored (Run); if it stores nothing, the store
// is told (abandon) and the stale page stays. On the loop.
func (c *conn) refresh(p *pending, req *httpparse.Request, rec []byte, r *pagerecord.Record) {
	l := c.l
	s := l.s
	if !s.fills.claim(p.key) {
		return
	}
	k := kindFill
	if r.Revalidatable() {
		k = kindRevalidate
	}
	x := &exchange{l: l, kind: k, leader: true, http11: true}
	a := arena{b: x.inline[:0]}
	if need := len(p.key) + len(p.vary.base) + len(p.vary.index) + fieldsLen(req); need > len(x.inline) {
		a.b = make([]byte, 0, need)
	}
	x.key = a.keep(p.key)
	x.takeVary(&a, p, req)
	x.f = facts{gzipOK: true, ae: anyEncoding}
	fw := c.forwardFacts(true)
	fw.ForceGET = true
	s.stats.Refreshes.Add(1)
	if err := x.submit(req, nil, &fw, rec); err != nil {
		l.abandon(x.key)
		l.releaseWaiters(x.key, nil)
	}
}

// serveStaleInstead handles an origin failure (an error, a timeout, a 5xx)
// of a fill or revalidation that holds a stale page: a background refresh
// stores nothing and keeps the stale page; a client's request within the
// page's if-error window is answered with the stale page (X-Cache: STALE).
// It reports whether it handled the job. Worker goroutine only.
func (x *exchange) serveStaleInstead(job *upstream.Job, now time.Time) bool {
	if x.stale == nil || (x.kind != kindFill && x.kind != kindRevalidate) {
		return false
	}
	if job.Err == nil && job.Resp.Status() < 500 {
		return false
	}
	if x.c == nil {
		return true
	}
	if x.staleUntil == 0 || now.Unix() > x.staleUntil {
		return false
	}
	var r pagerecord.Record
	if pagerecord.Decode(x.stale, &r) != nil {
		return false
	}
	x.served = labelStale
	x.l.s.stats.StaleHits.Add(1)
	x.out = x.renderRecord(&r, nil, now)
	return true
}

// MayServeWhileRefreshing implements pagestore.Judge: a reader that was not
// elected to refresh the page may be answered with it when it is fresh, or
// stale within its while-revalidate window; otherwise the store waits for
// the refreshed page. On the loop.
func (c *conn) MayServeWhileRefreshing(rec []byte, invalidated bool) bool {
	var r pagerecord.Record
	if pagerecord.Decode(rec, &r) != nil || r.IsIndex() {
		// Undecodable: PageLookup drops it at once, waiting would not help.
		// A variant index: its variant is judged on its own (vary.go).
		return true
	}
	now := c.l.now.Unix()
	if !invalidated && r.Fresh(now) {
		return true
	}
	swr, _ := c.l.s.staleWindows(&r)
	return swr > 0 && secondsStale(&r, now) <= swr
}

// replacesStale reports whether x's answer replaces a stored page, which
// must go when the answer may not be stored (it became private, too large,
// undecodable): a revalidation, or a background refresh. A client's fill
// with a stale page only as an error fallback leaves it to expire.
func (x *exchange) replacesStale() bool { return x.kind == kindRevalidate || x.c == nil }
