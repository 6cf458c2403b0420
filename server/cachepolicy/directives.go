package cachepolicy

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Cache-Control directive interpretation (RFC 9111 §5.2.2), shared by the
// Cache-Control parser (list syntax, RFC 9110 §5.6.1) and the
// CDN-Cache-Control parser (Structured Fields Dictionary, RFC 9213 §2.1).

// maxDelta is where delta-seconds are clamped: RFC 9111 §1.2.2 says to treat
// anything larger as 2^31, which also keeps every Duration far from overflow.
const maxDelta = 1 << 31

// delta is a delta-seconds directive as seen so far.
type delta struct {
	state uint8 // deltaAbsent, deltaValid or deltaInvalid
	secs  int64
}

const (
	deltaAbsent uint8 = iota
	deltaValid
	deltaInvalid
)

// merge adds one occurrence. The first occurrence decides (RFC 9111 §4.2.1
// lets a cache use the first occurrence or consider the response stale; the
// first is what the origin's own framework most likely wrote, and what the
// caches ranked best in the public suite use): later ones are ignored. A
// first value that is not delta-seconds makes the directive invalid, which
// Decide turns into "stale".
func (d *delta) merge(value []byte, hasValue bool) {
	if d.state != deltaAbsent {
		return
	}
	secs, ok := parseDeltaSeconds(value, hasValue)
	if !ok {
		d.state = deltaInvalid
		return
	}
	d.state, d.secs = deltaValid, secs
}

// parseDeltaSeconds accepts 1*DIGIT, also in the quoted form "10" that RFC
// 9111 §5.2 tells recipients to accept, clamped to maxDelta.
func parseDeltaSeconds(v []byte, hasValue bool) (int64, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if !hasValue || len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

// directives is the part of a Cache-Control set the policy acts on.
type directives struct {
	noStore        bool
	noCache        bool // also no-cache="field": not storable here
	private        bool // also private="field": not storable here
	public         bool
	mustRevalidate bool
	// mustUnderstand: store only if the status code's caching rules are
	// understood, and then ignore no-store (RFC 9111 §5.2.2.3).
	mustUnderstand bool
	// proxyRevalidate: like must-revalidate, for shared caches only.
	proxyRevalidate bool
	maxAge          delta
	sMaxAge         delta
	// staleWhileRevalidate and staleIfError: RFC 5861's extensions.
	staleWhileRevalidate delta
	staleIfError         delta
	count                int  // directives seen
	malformed            bool // an item that is not token ["=" value]
}

// apply records one directive. Names compare case-insensitively (RFC 9111
// §5.2). must-revalidate, proxy-revalidate, public, immutable,
// stale-while-revalidate, stale-if-error and unknown extensions are accepted;
// only public and must-revalidate are recorded (they matter for responses to
// requests with Authorization).
func (d *directives) apply(name, value []byte, hasValue bool) {
	d.count++
	switch {
	case httpbytes.EqualFold(name, "no-store"):
		d.noStore = true
	case httpbytes.EqualFold(name, "no-cache"):
		d.noCache = true
	case httpbytes.EqualFold(name, "private"):
		d.private = true
	case httpbytes.EqualFold(name, "public"):
		d.public = true
	case httpbytes.EqualFold(name, "must-revalidate"):
		d.mustRevalidate = true
	case httpbytes.EqualFold(name, "max-age"):
		d.maxAge.merge(value, hasValue)
	case httpbytes.EqualFold(name, "s-maxage"):
		d.sMaxAge.merge(value, hasValue)
	case httpbytes.EqualFold(name, "must-understand"):
		d.mustUnderstand = true
	case httpbytes.EqualFold(name, "proxy-revalidate"):
		d.proxyRevalidate = true
	case httpbytes.EqualFold(name, "stale-while-revalidate"):
		d.staleWhileRevalidate.merge(value, hasValue)
	case httpbytes.EqualFold(name, "stale-if-error"):
		d.staleIfError.merge(value, hasValue)
	}
}

// parseCacheControl interprets Cache-Control field lines (RFC 9111 §5.2:
// #( token [ "=" ( token / quoted-string ) ] )). Empty list elements are
// skipped; OWS around "=" is tolerated. An element whose name is not a token,
// whose value has an unbalanced or misplaced quote or control bytes, or an
// unterminated quoted-string marks the set malformed: a value we can't read
// might hide a no-store, so Decide refuses it. Values of unknown directives
// are otherwise not checked, so "foo=a/b" is fine.
func parseCacheControl(lines [][]byte) directives {
	var d directives
	d.malformed = eachDirective(lines, d.apply)
	return d
}

// eachDirective calls fn for each readable element of Cache-Control field
// lines (request or response), and reports whether any was not readable:
// an unterminated quoted-string, a name that is not a token, a value with
// a misplaced quote or control bytes (those elements are skipped).
func eachDirective(lines [][]byte, fn func(name, value []byte, hasValue bool)) (malformed bool) {
	for _, line := range lines {
		for rest := line; len(rest) > 0; {
			item, next, unterminated := cutList(rest, ',')
			rest = next
			if unterminated {
				malformed = true
			}
			item = httpbytes.TrimOWS(item)
			if len(item) == 0 {
				continue
			}
			name, value, hasValue := item, []byte(nil), false
			if i := bytes.IndexByte(item, '='); i >= 0 {
				name, value, hasValue = httpbytes.TrimOWS(item[:i]), httpbytes.TrimOWS(item[i+1:]), true
			}
			if !httpbytes.IsToken(name) || !readableValue(value) {
				malformed = true
				continue
			}
			fn(name, value, hasValue)
		}
	}
	return malformed
}

// readableValue: a complete quoted-string, or bytes with no quote and no
// control characters.
func readableValue(v []byte) bool {
	if len(v) > 0 && v[0] == '"' {
		return httpbytes.QuotedStringLen(v) == len(v)
	}
	for _, c := range v {
		if c == '"' || (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
