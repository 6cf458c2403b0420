package cachepolicy

import (
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Rules are the proxy's storage settings. Fill them in before use and do not
// change them afterwards; then any number of goroutines may call Decide at
// once. The zero value is strict RFC 9111 with no cap.
type Rules struct {
	// DefaultTTL is the freshness lifetime given to a storable 200 response
	// that carries no explicit freshness (mod_mcpage's -ttl). Hits of such a
	// page then carry Cache-Control: max-age=<remaining> and Expires
	// (Decision.FromDefault). 0: strict RFC 9111, only explicit freshness or
	// heuristic freshness from Last-Modified (RFC 9111 §4.2.2).
	DefaultTTL time.Duration
	// MaxTTL caps the freshness remaining at receipt (Decision.TTL), whatever
	// its source. 0: no cap.
	MaxTTL time.Duration
}

// MaxRepeatedFields is how many Cache-Control, CDN-Cache-Control or Vary
// field lines a Response keeps per name. A response with more lines of one of
// them is not stored (ReasonTooManyFields): refusing is safe, guessing isn't.
const MaxRepeatedFields = 8

// Response collects the header fields a storage decision needs. Use: Reset,
// Observe every response header field in the order received, optionally
// MarkAuthorized, then Rules.Decide. It keeps views of the values, valid as
// long as the caller's header bytes are: Decide must run before those bytes
// are reused. One goroutine at a time; the zero value is ready after Reset. It
// is a fixed-size value (no allocation) and may live on the stack.
type Response struct {
	status     int
	cc         fieldLines
	cdn        fieldLines
	vary       fieldLines
	expires    []byte
	nExpires   int
	date       []byte
	age        []byte
	lastMod    []byte
	seen       uint8 // seenDate | seenAge | seenLastMod: first line wins
	setCookie  bool
	authorized bool
	overflow   bool
}

// fieldLines holds the values of a repeatable list field, in order.
type fieldLines struct {
	v [MaxRepeatedFields][]byte
	n int
}

func (f *fieldLines) add(v []byte) bool {
	if f.n == len(f.v) {
		return false
	}
	f.v[f.n] = v
	f.n++
	return true
}

func (f *fieldLines) lines() [][]byte { return f.v[:f.n] }

// Reset forgets everything observed and starts a response with the given
// status code.
func (r *Response) Reset(status int) { *r = Response{status: status} }

// MarkAuthorized records that the request carried an Authorization field. Such
// a response is stored only when it explicitly allows it with public,
// must-revalidate or s-maxage (RFC 9111 §3.5); otherwise Decide refuses with
// ReasonAuthorization.
func (r *Response) MarkAuthorized() { r.authorized = true }

// Observe records one response header field. Names are matched
// ASCII-case-insensitively; fields the policy doesn't need are ignored. The
// value is kept as a view (trimmed of surrounding spaces and tabs). For Date,
// Age and Last-Modified the first field line counts; every Expires line is
// counted (more than one makes an Expires-based lifetime stale).
func (r *Response) Observe(name, value []byte) {
	value = httpbytes.TrimOWS(value)
	switch len(name) {
	case 3:
		if httpbytes.EqualFold(name, "age") && r.first(seenAge) {
			r.age = value
		}
	case 4:
		switch {
		case httpbytes.EqualFold(name, "vary"):
			r.overflow = !r.vary.add(value) || r.overflow
		case httpbytes.EqualFold(name, "date") && r.first(seenDate):
			r.date = value
		}
	case 7:
		if httpbytes.EqualFold(name, "expires") {
			if r.nExpires == 0 {
				r.expires = value
			}
			r.nExpires++
		}
	case 10, 11:
		// Set-Cookie2 (RFC 2965, obsolete) carries per-user state just the same.
		if httpbytes.EqualFold(name, "set-cookie") || httpbytes.EqualFold(name, "set-cookie2") {
			r.setCookie = true
		}
	case 13:
		switch {
		case httpbytes.EqualFold(name, "cache-control"):
			r.overflow = !r.cc.add(value) || r.overflow
		case httpbytes.EqualFold(name, "last-modified") && r.first(seenLastMod):
			r.lastMod = value
		}
	case 17:
		if httpbytes.EqualFold(name, "cdn-cache-control") {
			r.overflow = !r.cdn.add(value) || r.overflow
		}
	}
}

const (
	seenDate uint8 = 1 << iota
	seenAge
	seenLastMod
)

// first marks bit seen and reports whether it was the first time.
func (r *Response) first(bit uint8) bool {
	if r.seen&bit != 0 {
		return false
	}
	r.seen |= bit
	return true
}
