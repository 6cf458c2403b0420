package upstream

import (
	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// visitResponse calls fn for each end-to-end header field of resp: values
// unchanged, duplicates, unknown fields and every Set-Cookie kept, skipping
// hop-by-hop fields (httpbytes.IsHopByHop), every field named in a Connection
// field, and Content-Length (the caller re-frames the body; resp.Body() is
// complete).
//
// Names are as received, except that fasthttp stores Content-Type,
// Content-Encoding, Server and Set-Cookie apart and hands them back in their
// canonical spelling; those come first (Set-Cookie fields in the order
// received), then the other fields in the order received. Of a repeated
// Content-Type, Content-Encoding or Server only the last one is kept by
// fasthttp's parser. Trailer fields of a chunked body are not visited.
//
// resp must be a Job.Resp filled by the pool (or otherwise read with
// DisableNormalizing and SetNoDefaultContentType(true)), and must not change
// during the call. name and value are valid only during the call to fn. fn may
// not modify resp. It is visitAllResponse with the hop fields left out, and
// allocates as that does. Safe from the goroutine that owns resp.
func visitResponse(resp *fasthttp.Response, fn func(name, value []byte)) {
	visitAllResponse(resp, func(name, value []byte, hop bool) {
		if !hop {
			fn(name, value)
		}
	})
}

// visitAllResponse calls fn for every header field of resp as received,
// Content-Length excepted: the end-to-end fields visitResponse visits, and also
// the hop-by-hop ones and those named in a Connection field, for which hop is
// true (visitResponse skips exactly those).
//
// It is for decisions that must see what the upstream said, not only what is
// passed on: a field the upstream listed in Connection is for this proxy to act
// on and remove, so a Set-Cookie or Cache-Control: private hidden that way
// still has to keep a response out of the cache.
//
// Order, spelling and the requirements on resp, name, value and fn are those
// of visitResponse; it allocates nothing for responses whose Connection fields
// list at most 16 names and that declare no Trailer. Safe from the goroutine
// that owns resp.
func visitAllResponse(resp *fasthttp.Response, fn func(name, value []byte, hop bool)) {
	var tokStack [maxInlineTokens][]byte
	tokens := tokStack[:0]
	for name, value := range resp.Header.All() {
		if httpbytes.EqualFold(name, "connection") {
			tokens = connTokens(tokens, value)
		}
	}
	for name, value := range resp.Header.All() {
		if httpbytes.EqualFold(name, "content-length") || string(name) == ignoredTE {
			continue // framing; or a transfer coding read until close (coding.go)
		}
		fn(name, value, httpbytes.IsHopByHop(name) || namedIn(tokens, name))
	}
}

// Response is an upstream's answer as the pool read it: the status line, the
// header fields as received and the body (buffered, de-chunked, never
// decompressed; empty while Job.Body streams it). It hides the HTTP client
// library the pool is built on, so that callers depend on this package's
// words only. A Response belongs to its Job: it is valid from Done until
// ReleaseJob, on the goroutine that holds the Job; slices it returns are
// valid as long as the Response is.
type Response struct {
	r fasthttp.Response
}

// Status is the status code.
func (r *Response) Status() int { return r.r.StatusCode() }

// StatusText is the reason phrase as received (possibly empty).
func (r *Response) StatusText() []byte { return r.r.Header.StatusMessage() }

// Body is the buffered body: complete unless the Job streams it (Job.Body).
func (r *Response) Body() []byte { return r.r.Body() }

// ContentLength is the declared body length: ≥ 0 from Content-Length, -1
// for a chunked body, -2 for a body that ends with the connection.
func (r *Response) ContentLength() int { return r.r.Header.ContentLength() }

// Peek returns the value of the field called name (fasthttp's lookup: the
// canonical spelling for Content-Type, Content-Encoding, Server and
// Set-Cookie, the exact spelling otherwise), or nil.
func (r *Response) Peek(name string) []byte { return r.r.Header.Peek(name) }

// Visit calls fn for each end-to-end header field (see visitResponse).
func (r *Response) Visit(fn func(name, value []byte)) { visitResponse(&r.r, fn) }

// VisitAll calls fn for every header field with hop telling the ones
// Visit skips (see visitAllResponse).
func (r *Response) VisitAll(fn func(name, value []byte, hop bool)) { visitAllResponse(&r.r, fn) }
