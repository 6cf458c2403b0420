package cachepolicy

import (
	"bytes"
	"regexp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// RequestRules decides which cacheable requests bypass the cache. Fill it in
// before use and do not change it afterwards; then any number of goroutines
// may call its methods at once. The zero value makes any cookie bypass.
type RequestRules struct {
	// BypassCookie is matched (regexp.Regexp.Match, so anchor it with ^…$
	// for an exact name) against each cookie NAME; a match makes the request
	// bypass the cache. nil: any cookie-pair bypasses, the safe default for
	// sites that keep per-user state in cookies.
	BypassCookie *regexp.Regexp
}

// CookieBypasses reports whether one Cookie field value (RFC 6265 §4.2:
// cookie-pairs separated by ";") holds a cookie-pair whose name matches
// BypassCookie, or, with a nil BypassCookie, any non-empty cookie-pair.
// Names are trimmed of spaces and tabs; a pair without "=" counts as a name
// (so it can still trigger a bypass, which is the safe side). A request with
// several Cookie fields bypasses when any of them does: call it per field.
// Any goroutine; no allocation with a nil BypassCookie (with a regexp, as
// many as regexp.Regexp.Match makes).
func (r *RequestRules) CookieBypasses(cookieField []byte) bool {
	for rest := cookieField; len(rest) > 0; {
		var pair []byte
		if i := bytes.IndexByte(rest, ';'); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, rest = rest, nil
		}
		pair = httpbytes.TrimOWS(pair)
		if len(pair) == 0 {
			continue
		}
		if r.BypassCookie == nil {
			return true
		}
		name := pair
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			name = httpbytes.TrimOWS(pair[:i])
		}
		if r.BypassCookie.Match(name) {
			return true
		}
	}
	return false
}
