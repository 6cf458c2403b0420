package cachepolicy

import (
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// IfRange evaluates an If-Range condition (RFC 9110 §13.1.5) against the
// representation a range would be taken from: true means the Range applies,
// false that the whole representation is sent (200) instead. The arguments
// are the request's If-Range value and the ETag, Last-Modified and Date field
// values the client gets with that representation (empty when absent); a
// caller that sends the ETag weakened (a body decoded by the proxy) passes
// the weakened value, or none.
//
//   - An entity-tag must match strongly: both strong (no "W/"), well formed,
//     and their quoted parts equal byte for byte. A weak tag never matches.
//   - Otherwise the value must be an HTTP-date equal to Last-Modified, and
//     Last-Modified must be a strong validator (§8.8.2.2): a Date at least
//     one second after it. Without a Date, or with a value that is neither,
//     the condition is false.
//
// An empty If-Range is false too: a client that sends the field wants the
// whole representation unless its validator matches. The caller evaluates it
// only for a request that has a Range. Any goroutine; no allocation.
func IfRange(ifRange, etag, lastModified, date []byte) bool {
	v := httpbytes.TrimOWS(ifRange)
	if len(v) == 0 {
		return false
	}
	if v[0] == '"' || (len(v) >= 2 && v[0] == 'W' && v[1] == '/') {
		e := httpbytes.TrimOWS(etag)
		if !IsStrongETag(v) || !IsStrongETag(e) {
			return false
		}
		want, ok := etagCore(v)
		have, ok2 := etagCore(e)
		return ok && ok2 && string(want) == string(have)
	}
	at, ok := ParseHTTPDate(v)
	if !ok {
		return false
	}
	lm, ok := ParseHTTPDate(httpbytes.TrimOWS(lastModified))
	if !ok || !lm.Equal(at) {
		return false
	}
	d, ok := ParseHTTPDate(httpbytes.TrimOWS(date))
	return ok && !d.Before(lm.Add(time.Second))
}
