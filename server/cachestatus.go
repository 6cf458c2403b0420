package server

import "strconv"

// Cache-Status (RFC 9211): every response mcpage sends says, beside X-Cache,
// what this cache did, in the registered vocabulary tools understand:
//
//	Cache-Status: mcpage; hit; ttl=42
//	Cache-Status: mcpage; fwd=uri-miss; fwd-status=200; stored; ttl=600
//	Cache-Status: mcpage; fwd=vary-miss; fwd-status=200; detail="private"
//	Cache-Status: mcpage; fwd=stale; fwd-status=304; stored; ttl=600
//	Cache-Status: mcpage; fwd=bypass; fwd-status=200
//
// fwd is uri-miss (nothing stored), vary-miss (the URL's variant index was
// found, not this request's variant), stale (a stored page revalidated or
// fetched again), request (the request's directives sent it to the origin),
// bypass (Authorization or a bypass cookie) or method (a method never
// answered from storage). ttl is the freshness left, negative for a page
// served stale. detail is the reason a response was not stored (the
// X-Cache-Detail reasons). An origin's own Cache-Status is kept: ours
// follows it, as RFC 9211 §2 orders caches from the origin outwards. The
// line is built from constants and integers: nothing is allocated on the
// hit path.

const cacheStatusName = "Cache-Status: mcpage"

// Forward reasons (facts.fwd); "" takes the one the X-Cache label implies.
const (
	fwdURIMiss  = "uri-miss"
	fwdVaryMiss = "vary-miss"
	fwdStale    = "stale"
	fwdRequest  = "request"
	fwdBypass   = "bypass"
	fwdMethod   = "method"
)

// fwdOf is the forward reason a label implies.
func fwdOf(label string) string {
	switch label {
	case labelRevalidated:
		return fwdStale
	case labelBypass:
		return fwdBypass
	case labelPass:
		return fwdMethod
	}
	return fwdURIMiss
}

// appendCacheStatus appends the Cache-Status field line of a response
// labelled label for a request with facts f. fwdStatus is the origin's
// status when the request went there (0: not known or not sent), ttl the
// freshness left when hasTTL, detail why nothing was stored ("" if stored
// or not storable by method).
func appendCacheStatus(dst []byte, label string, f *facts, fwdStatus int, ttl int64, hasTTL bool, detail string) []byte {
	dst = append(dst, cacheStatusName...)
	if label == labelHit || label == labelStale {
		dst = append(dst, "; hit"...)
		if f.collapsed {
			dst = append(dst, "; collapsed"...)
		}
	} else {
		fwd := f.fwd
		if fwd == "" {
			fwd = fwdOf(label)
		}
		dst = append(dst, "; fwd="...)
		dst = append(dst, fwd...)
		if fwdStatus > 0 {
			dst = append(dst, "; fwd-status="...)
			dst = strconv.AppendInt(dst, int64(fwdStatus), 10)
		}
		if f.stored {
			dst = append(dst, "; stored"...)
		}
	}
	if hasTTL {
		dst = append(dst, "; ttl="...)
		dst = strconv.AppendInt(dst, ttl, 10)
	}
	if detail != "" {
		dst = append(dst, `; detail="`...)
		dst = append(dst, detail...) // static reasons: no quote or backslash
		dst = append(dst, '"')
	}
	return append(dst, "\r\n"...)
}
