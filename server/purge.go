package server

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// Purge. "PURGE <url>" from an address in Config.PurgeAllow removes the page
// the URL is stored under, for every process sharing the store: softly by
// default (the page is marked stale: the next reader refreshes it, and a page
// with a validator is revalidated rather than refetched), or, with
// "X-Purge: hard", by deleting it. The answer says whether a page was there:
// 200 "purged", 404 "not in cache". Other addresses get 403; PURGE is never
// forwarded to the origin.

const labelPurge = "PURGE"

var methodPURGE = []byte("PURGE")

// defaultPurgeAllow is where purges are accepted from when Config.PurgeAllow
// is nil: this host only.
var defaultPurgeAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// purgeAllowed reports whether the connection's client (proxy.go) may purge.
func (c *conn) purgeAllowed() bool {
	return c.remote.IsValid() && allowedBy(c.l.s.cfg.PurgeAllow, c.remote.Addr())
}

// purge handles a PURGE request in slot p.
func (c *conn) purge(p *pending, req *httpparse.Request) {
	l := c.l
	soft := true
	for i := range req.Headers {
		h := &req.Headers[i]
		if httpbytes.EqualFold(h.Name, "x-purge") && httpbytes.EqualFold(httpbytes.TrimOWS(h.Value), "hard") {
			soft = false
		}
	}
	p.purgeHard = !soft // metrics.go: purges by kind
	if !c.purgeAllowed() {
		l.s.stats.Errors.Add(1)
		c.complete(p, appendErrorResponse(p.out[:0], 403, p.keepAlive, labelPurge))
		return
	}
	key := cachepolicy.AppendKey(p.key[:0], l.s.keyPrefix, req.Host, req.Path)
	p.key = key
	// A decoded copy of the page must not outlive it on this loop.
	l.dec.forget(key)
	if pg, ok := l.store.(pagestore.Purger); ok {
		pg.Purge(key, soft, c, p.token)
		return
	}
	c.PagePurged(p.token, l.purgeSync(key, soft), nil)
}

// purgeSync purges key in a store that answers Get at once (the embedded
// one): soft rewrites the record as stale from now on (its Age kept right),
// kept as long as a stale page may be revalidated or served stale, deleted
// when neither; hard deletes it. It reports whether a page was there.
func (l *loop) purgeSync(key []byte, soft bool) bool {
	var rec []byte
	l.store.Get(key, lookupFunc(func(_ uint64, r []byte, _ error) { rec = r }), 0)
	if rec == nil {
		return false
	}
	var r pagerecord.Record
	decoded := pagerecord.Decode(rec, &r) == nil
	if decoded && r.IsIndex() {
		l.purgeIndex(key, &r, soft) // vary.go
		return true
	}
	if !soft || !decoded {
		l.store.Delete(key)
		return true
	}
	now := l.now.Unix()
	r.AgeAtStore = uint32(min(r.Age(now), 1<<32-1))
	r.StoredAt = now
	r.TTL = 0 // stale from now on
	swr, sie := l.s.staleWindows(&r)
	keep := cachepolicy.StoreTTL(0, r.Revalidatable(), time.Duration(max(swr, sie))*time.Second)
	if keep <= 0 {
		l.store.Delete(key)
		return true
	}
	out := pagerecord.AppendRecord(make([]byte, 0, len(rec)), &r)
	l.store.Set(key, out, keep)
	return true
}

// lookupFunc adapts a function to pagestore.Handler.
type lookupFunc func(token uint64, rec []byte, err error)

func (f lookupFunc) PageLookup(token uint64, rec []byte, _ pagestore.State, err error) {
	f(token, rec, err)
}

// PagePurged answers the PURGE in slot token (pagestore.PurgeHandler), on
// this connection's loop.
func (c *conn) PagePurged(token uint64, found bool, err error) {
	if c.released {
		return
	}
	p := c.find(token)
	if p == nil {
		return
	}
	switch {
	case err != nil:
		c.l.s.stats.StoreErrors.Add(1)
		c.complete(p, appendErrorResponse(p.out[:0], 502, p.keepAlive, labelPurge))
	case found:
		c.complete(p, appendPlainAnswer(p.out[:0], 200, "purged", p.keepAlive))
	default:
		c.complete(p, appendPlainAnswer(p.out[:0], 404, "not in cache", p.keepAlive))
	}
}

// appendPlainAnswer renders a short text answer of mcpage's own.
func appendPlainAnswer(dst []byte, status int, text string, keepAlive bool) []byte {
	dst = httpbytes.AppendPlainHead(dst, status, http.StatusText(status))
	dst = append(dst, "Cache-Control: no-store\r\nX-Cache: "+labelPurge+"\r\n"...)
	return httpbytes.AppendPlainBody(dst, text, !keepAlive)
}
