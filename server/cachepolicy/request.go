package cachepolicy

import "github.com/mcpage/mcpage/internal/httpbytes"

// Request directives (RFC 9111 §5.2.1). A shared cache in front of a site
// usually ignores them (Varnish and nginx do): every browser's reload button
// sends max-age=0 or no-cache, and obeying them lets any visitor empty the
// cache for everyone. The server obeys them only when told to (the "RFC
// 9111 strict" set); this is their reading.

// Request is what a request's Cache-Control (and Pragma) ask of the cache.
// The zero value asks nothing.
type Request struct {
	// Any: at least one directive below is set.
	Any bool
	// NoStore: neither answer from storage nor store the response.
	NoStore bool
	// NoCache: do not answer from storage without revalidating first
	// (also Pragma: no-cache when there is no Cache-Control, RFC 9111 §5.4).
	NoCache bool
	// OnlyIfCached: answer from storage or with 504, never forward.
	OnlyIfCached bool
	// MaxAge: a stored response older than this many seconds is not
	// acceptable; -1 when absent.
	MaxAge int64
	// MinFresh: a stored response must stay fresh at least this many more
	// seconds; -1 when absent.
	MinFresh int64
	// MaxStale: a stale stored response is acceptable up to this many
	// seconds past its freshness (MaxStaleAny: without limit); -1 when
	// absent.
	MaxStale int64
}

// MaxStaleAny is Request.MaxStale for "max-stale" without a value.
const MaxStaleAny = int64(maxDelta)

// ParseRequest reads the request directives from the Cache-Control field
// lines cc and the Pragma field lines pragma. Invalid delta-seconds are
// ignored (the directive is then absent), as is anything unknown. No
// allocation; any goroutine.
func ParseRequest(cc, pragma [][]byte) Request {
	q := Request{MaxAge: -1, MinFresh: -1, MaxStale: -1}
	eachDirective(cc, func(name, value []byte, hasValue bool) {
		switch {
		case httpbytes.EqualFold(name, "no-store"):
			q.NoStore = true
		case httpbytes.EqualFold(name, "no-cache"):
			q.NoCache = true
		case httpbytes.EqualFold(name, "only-if-cached"):
			q.OnlyIfCached = true
		case httpbytes.EqualFold(name, "max-age"):
			if secs, ok := parseDeltaSeconds(value, hasValue); ok {
				q.MaxAge = secs
			}
		case httpbytes.EqualFold(name, "min-fresh"):
			if secs, ok := parseDeltaSeconds(value, hasValue); ok {
				q.MinFresh = secs
			}
		case httpbytes.EqualFold(name, "max-stale"):
			if !hasValue {
				q.MaxStale = MaxStaleAny
			} else if secs, ok := parseDeltaSeconds(value, true); ok {
				q.MaxStale = secs
			}
		}
	})
	if len(cc) == 0 {
		for _, line := range pragma {
			if httpbytes.HasElementFold(line, "no-cache") {
				q.NoCache = true
			}
		}
	}
	q.Any = q.NoStore || q.NoCache || q.OnlyIfCached || q.MaxAge >= 0 || q.MinFresh >= 0 || q.MaxStale >= 0
	return q
}

// Acceptable reports whether a stored response of age seconds with
// remaining seconds of freshness (negative once stale) may answer a request
// asking q without going to the origin; staleOK says whether the response
// itself lets it be served stale (Stale.Forbidden false). When the answer
// is true and remaining ≤ 0, the response is served stale by the request's
// max-stale.
func (q *Request) Acceptable(age, remaining int64, staleOK bool) bool {
	switch {
	case q.NoCache:
		return false
	case q.MaxAge >= 0 && age > q.MaxAge:
		return false
	case q.MinFresh >= 0 && remaining < q.MinFresh:
		return false
	case remaining > 0:
		return true
	}
	return staleOK && q.MaxStale >= 0 && -remaining <= q.MaxStale
}
