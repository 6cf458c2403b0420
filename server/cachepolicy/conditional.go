package cachepolicy

import "github.com/mcpage/mcpage/internal/httpbytes"

// NotModified decides a conditional GET or HEAD against a stored response
// (RFC 9110 §13.2.2): true means answer 304. The arguments are the request's
// If-None-Match and If-Modified-Since values and the stored ETag and
// Last-Modified values, each empty when absent.
//
//   - If-None-Match, when present, alone decides (If-Modified-Since is then
//     ignored): "*" matches any stored response (one exists), otherwise true
//     when a listed entity-tag equals the stored ETag under weak comparison
//     (the W/ prefix is ignored, the quoted parts compared byte for byte).
//     A malformed ETag or list matches nothing; the full response is always
//     a correct answer.
//   - Otherwise If-Modified-Since: true when Last-Modified is present, both
//     dates parse (ParseHTTPDate) and Last-Modified ≤ If-Modified-Since.
//
// The caller checks the method (GET or HEAD only). Any goroutine; no
// allocation.
func NotModified(ifNoneMatch, ifModifiedSince, etag, lastModified []byte) bool {
	if inm := httpbytes.TrimOWS(ifNoneMatch); len(inm) > 0 {
		if len(inm) == 1 && inm[0] == '*' {
			return true
		}
		want, ok := etagCore(httpbytes.TrimOWS(etag))
		return ok && etagListHas(inm, want)
	}
	ims, ok := ParseHTTPDate(httpbytes.TrimOWS(ifModifiedSince))
	if !ok {
		return false
	}
	lm, ok := ParseHTTPDate(httpbytes.TrimOWS(lastModified))
	return ok && !lm.After(ims)
}

// etagCore returns what weak comparison compares of an entity-tag: the
// characters between its quotes, without the W/ prefix. It is lenient where
// origins and clients are sloppy and the meaning is plain: "w/" for "W/",
// and an unquoted tag (abc) taken as its quoted form ("abc"). Anything else
// malformed matches nothing.
func etagCore(b []byte) ([]byte, bool) {
	if len(b) >= 2 && (b[0] == 'W' || b[0] == 'w') && b[1] == '/' {
		b = b[2:]
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	} else if len(b) == 0 {
		return nil, false
	}
	for _, c := range b {
		if !etagc(c) {
			return nil, false
		}
	}
	return b, true
}

// etagc = %x21 / %x23-7E / obs-text.
func etagc(c byte) bool { return c == 0x21 || c >= 0x23 && c != 0x7f }

// etagListHas reports whether the If-None-Match list (1#entity-tag; empty
// elements allowed) holds an entity-tag whose core (etagCore) equals want.
// The scan stops, unmatched, at the first malformed element.
func etagListHas(list, want []byte) bool {
	i := 0
	for {
		for i < len(list) && (httpbytes.IsOWS(list[i]) || list[i] == ',') {
			i++
		}
		if i == len(list) {
			return false
		}
		if (list[i] == 'W' || list[i] == 'w') && i+1 < len(list) && list[i+1] == '/' {
			i += 2
		}
		var core []byte
		if i < len(list) && list[i] == '"' {
			j := i + 1
			for j < len(list) && list[j] != '"' {
				if !etagc(list[j]) {
					return false
				}
				j++
			}
			if j == len(list) {
				return false
			}
			core = list[i+1 : j]
			i = j + 1
		} else {
			// An unquoted tag: up to the next separator.
			j := i
			for j < len(list) && list[j] != ',' && !httpbytes.IsOWS(list[j]) {
				if !etagc(list[j]) {
					return false
				}
				j++
			}
			if j == i {
				return false
			}
			core = list[i:j]
			i = j
		}
		if string(core) == string(want) {
			return true
		}
		for ; i < len(list) && httpbytes.IsOWS(list[i]); i++ {
		}
		if i < len(list) && list[i] != ',' {
			return false
		}
	}
}
