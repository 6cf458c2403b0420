package upstream

import (
	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// VisitResponse calls fn for each end-to-end header field of resp: values
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
// not modify resp. It is VisitAllResponse with the hop fields left out, and
// allocates as that does. Safe from the goroutine that owns resp.
func VisitResponse(resp *fasthttp.Response, fn func(name, value []byte)) {
	VisitAllResponse(resp, func(name, value []byte, hop bool) {
		if !hop {
			fn(name, value)
		}
	})
}

// VisitAllResponse calls fn for every header field of resp as received,
// Content-Length excepted: the end-to-end fields VisitResponse visits, and also
// the hop-by-hop ones and those named in a Connection field, for which hop is
// true (VisitResponse skips exactly those).
//
// It is for decisions that must see what the upstream said, not only what is
// passed on: a field the upstream listed in Connection is for this proxy to act
// on and remove, so a Set-Cookie or Cache-Control: private hidden that way
// still has to keep a response out of the cache.
//
// Order, spelling and the requirements on resp, name, value and fn are those
// of VisitResponse; it allocates nothing for responses whose Connection fields
// list at most 16 names and that declare no Trailer. Safe from the goroutine
// that owns resp.
func VisitAllResponse(resp *fasthttp.Response, fn func(name, value []byte, hop bool)) {
	var tokStack [maxInlineTokens][]byte
	tokens := tokStack[:0]
	for name, value := range resp.Header.All() {
		if httpbytes.EqualFold(name, "connection") {
			tokens = connTokens(tokens, value)
		}
	}
	for name, value := range resp.Header.All() {
		if httpbytes.EqualFold(name, "content-length") {
			continue
		}
		fn(name, value, httpbytes.IsHopByHop(name) || namedIn(tokens, name))
	}
}
