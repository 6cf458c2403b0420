package httpparse

import "github.com/mcpage/mcpage/internal/httpbytes"

// Request is a parsed request head. ParseHead fills it; every []byte field is
// a view into the buffer that was parsed (except Path, which may point at a
// static "/" or "*" that must not be modified), valid only as long as that
// buffer's bytes are unchanged. A Request belongs to one goroutine at a time
// and must not be copied after ParseHead: Headers points into its own array.
// Reuse one per connection; Reset (which ParseHead calls) makes it ready again.
type Request struct {
	Method []byte // any token of at most MaxMethodLen bytes; deciding 501 is the server's job
	Target []byte // request-target exactly as received
	// Path is the origin-form path and query: Target itself for origin-form
	// and for "*"; for absolute-form ("http://host:port/p?q") the part from
	// the first '/' after the authority, or "/" when that is empty ("*" for
	// OPTIONS, RFC 9112 §3.2.4).
	Path []byte
	// Host is the authority of an absolute-form target if any (it wins over
	// the Host field, RFC 9112 §3.2.2), else the Host field's value; nil for an
	// HTTP/1.0 request without either. Syntax is checked, case is as received.
	Host       []byte
	ProtoMinor int // 0 or 1: only HTTP/1.0 and HTTP/1.1 are accepted
	// Headers holds every field line in order, names as received, values with
	// surrounding OWS removed. It is backed by an array inside Request: no
	// allocation, at most MaxHeadersCap entries.
	Headers       []Header
	ContentLength int64 // decimal Content-Length; -1 when absent, and always -1 when Chunked
	Chunked       bool  // Transfer-Encoding: chunked
	// KeepAlive is the connection's persistence after this request (RFC 9112
	// §9.3): for HTTP/1.1 unless a Connection field lists "close"; for HTTP/1.0
	// only when one lists "keep-alive" and none lists "close". Every Connection
	// field counts, not only the one in Connection.
	KeepAlive bool
	// Expect100 is set for "Expect: 100-continue" (any case) in an HTTP/1.1
	// request; in HTTP/1.0 that expectation is ignored, as RFC 9110 §10.1.1
	// requires (any other expectation is ErrExpectation in both).
	Expect100 bool

	// Views of the first field of each name (nil when absent, empty but non-nil
	// when present with an empty value), filled while parsing so that the
	// server never rescans Headers for them.
	AcceptEncoding, Authorization, IfNoneMatch, IfModifiedSince, Connection []byte
	// Range and IfRange: the first Range and If-Range fields (ParseRange
	// reads the former; both are only views, never judged here).
	Range, IfRange []byte

	Cookie      []byte // first Cookie field (nil if none)
	CookieCount int    // number of Cookie fields; iterate Headers when > 1
	// HeadLen is what ParseHead returned: leading empty lines, request line
	// and header block through the blank line.
	HeadLen int

	hdrs [MaxHeadersCap]Header
}

// Reset empties r for reuse: scalar fields zeroed, ContentLength -1, Headers
// empty over r's own array. It clears only the header slots last used, so it
// costs little for a typical request.
func (r *Request) Reset() {
	// Field by field: assigning a Request literal would copy the 6 KiB array.
	// TestResetClearsEverything catches a field added here but not below.
	clear(r.hdrs[:min(len(r.Headers), MaxHeadersCap)])
	r.Method, r.Target, r.Path, r.Host = nil, nil, nil, nil
	r.ProtoMinor = 0
	r.Headers = r.hdrs[:0]
	r.ContentLength = -1
	r.Chunked, r.KeepAlive, r.Expect100 = false, false, false
	r.AcceptEncoding, r.Authorization, r.IfNoneMatch, r.IfModifiedSince, r.Connection = nil, nil, nil, nil, nil
	r.Range, r.IfRange = nil, nil
	r.Cookie, r.CookieCount = nil, 0
	r.HeadLen = 0
}

// Header returns the value of the first field named name, compared without
// regard to ASCII case, or nil if there is none. It does not allocate; the
// result is a view like every field of r.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if httpbytes.EqualFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// HasBody reports whether a body follows the head: ContentLength > 0 or
// Chunked (a chunked body may still decode to nothing).
func (r *Request) HasBody() bool { return r.ContentLength > 0 || r.Chunked }

// IsGetOrHead reports whether the method is exactly GET or HEAD (methods
// are case-sensitive, RFC 9110 §9.1).
func (r *Request) IsGetOrHead() bool {
	return string(r.Method) == "GET" || string(r.Method) == "HEAD"
}
