// Package cachepolicy holds mcpage's shared-cache decisions (the parts of
// RFC 9111 a shared cache needs): which requests use the cache, which
// responses are stored and for how long, the cache key, Accept-Encoding
// negotiation and conditional requests. It does no I/O, knows no HTTP
// framework and works on raw header values ([]byte views the caller owns).
// Every function is safe from any goroutine; Response is the only stateful
// type and belongs to one goroutine at a time.
//
// # Requests
//
// GET and HEAD are looked up in the cache and fill it. OPTIONS and TRACE are
// forwarded untouched. Every other method (POST, PUT, DELETE, PATCH, and any
// method the proxy doesn't know, including "get": methods are
// case-sensitive) is forwarded, and when the origin answers without an error
// the proxy invalidates the request URI and any same-host URI named by the
// response's Location or Content-Location (see [SameHostPath]). A cacheable
// request that carries a cookie the [RequestRules] name (by default, any
// cookie) bypasses the cache in both directions.
//
// # Why a page is or is not stored
//
// The promise is that a page meant for one user is never served to another.
// A response is stored only if every one of these holds, checked in this
// order (the first failure is the Decision.Reason):
//
//  1. Its status is final and not 206 (a fragment), 304 (no body) or 5xx (an
//     outage must not outlive itself): 200..499 otherwise. Only 200 may be
//     stored without explicit freshness; 203, 301, 404 and the like need
//     s-maxage, max-age or Expires (ReasonStatus).
//  2. It has at most MaxRepeatedFields lines each of Cache-Control,
//     CDN-Cache-Control and Vary (ReasonTooManyFields).
//  3. It sets no cookie: any Set-Cookie means per-user state
//     (ReasonSetCookie).
//  4. The governing directives allow storing. If the response has a
//     CDN-Cache-Control field (RFC 9213) that parses as a Structured Fields
//     Dictionary with at least one member, those directives govern and
//     Cache-Control is ignored entirely, its no-store and private included.
//     Otherwise Cache-Control governs; an element of it that can't be read
//     (a name that is not a token, a broken quoted-string) refuses the page
//     (ReasonMalformed), since it might have been a no-store. A
//     CDN-Cache-Control that doesn't parse is ignored as RFC 9213 asks, but
//     a no-store, private or no-cache readable in it still refuses. Then
//     no-store, private and no-cache refuse the page (ReasonNoStore,
//     ReasonPrivate, ReasonNoCache), also in their field-name forms
//     private="X" and no-cache="X": storing only part of a response is not
//     something this cache does, and no-cache pages would need revalidation
//     on every hit.
//  5. If the request had Authorization (Response.MarkAuthorized), the
//     governing directives include public, must-revalidate or s-maxage
//     (RFC 9111 §3.5; ReasonAuthorization).
//  6. Vary names nothing but Accept-Encoding, across comma lists and repeated
//     lines, in any case. Vary: * or Vary: Cookie, User-Agent, … refuses
//     (ReasonVary): the store keeps one variant per URL and handles
//     encodings itself.
//  7. It has a freshness lifetime, taken from the first of: s-maxage; max-age
//     (also "max-age=\"10\""); Expires − Date (Date missing or invalid: the
//     time of receipt). For a 200 without any of these, Rules.DefaultTTL
//     (mod_mcpage's behaviour; hits then carry Cache-Control: max-age and
//     Expires), or with DefaultTTL 0 the RFC 9111 §4.2.2 heuristic: 10% of
//     Date − Last-Modified. Without those either: ReasonNoFreshness.
//     Freshness information that is present but broken counts as already
//     stale (RFC 9111 §4.2.1, ReasonStale): a non-numeric or negative
//     max-age or s-maxage, the same directive twice with different values,
//     two Expires fields, an Expires that is not a date ("0", "-1").
//     Values above 2^31 seconds are clamped to 2^31.
//  8. The freshness remaining at receipt, lifetime − Age (the Age field
//     only; see Decision.Age), truncated to whole seconds and capped by
//     Rules.MaxTTL, is at least one second (ReasonStale).
//
// must-revalidate, proxy-revalidate, public, immutable,
// stale-while-revalidate, stale-if-error and unknown directives are accepted
// and otherwise ignored. Directive names are case-insensitive in
// Cache-Control; CDN-Cache-Control keys must be lowercase, as Structured
// Fields require, or the whole field is ignored.
//
// # Cache keys
//
// [AppendKey] builds the memcached key for a request. With prefix P, Host H
// and request-target T (bytes exactly as received) the key is P+H+T when
// that is 1 to 250 bytes, all in 0x21..0x7E, and H+T does not begin with
// "#". Otherwise it is
//
//	P + "#" + base64url-without-padding(SHA-256(H + T))
//
// which is len(P)+44 bytes. Applications that write or delete pages
// themselves compute the same key; in Python:
//
//	k = p + h + t
//	if not (0 < len(k) <= 250 and all(0x21 <= c <= 0x7e for c in k)
//	        and not (h + t).startswith(b"#")):
//	    k = p + b"#" + base64.urlsafe_b64encode(
//	        hashlib.sha256(h + t).digest()).rstrip(b"=")
//
// # Serving
//
// [AcceptsEncoding] decides whether a client takes a stored coding, honouring
// q-values; [NotModified] decides 304s for If-None-Match and
// If-Modified-Since; [ParseHTTPDate] and [AppendHTTPDate] read and write
// HTTP dates without allocating.
//
// A stored page is written and served by these rules as well: [Compressible]
// says whether its body is worth gzipping, [StoreTTL] how long the store
// keeps it past its freshness so that it can be revalidated, [KeepOn304]
// which of its fields a 304 repeats, and [AppendWeakETag] how its ETag is
// sent with a body the proxy decoded or re-encoded.
package cachepolicy
