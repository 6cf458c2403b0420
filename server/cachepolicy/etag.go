package cachepolicy

// IsStrongETag reports whether an ETag field value (trimmed of surrounding
// spaces and tabs) is a strong entity-tag, one that names the exact bytes of
// the body (RFC 9110 §8.8.3): it begins with DQUOTE. A weak tag begins with
// "W/"; the rest of the value is not checked. Any goroutine; no allocation.
func IsStrongETag(etag []byte) bool { return len(etag) > 0 && etag[0] == '"' }

// AppendWeakETag appends to dst the ETag value to send with a body that is
// not the bytes the origin's ETag names (the proxy decoded or re-encoded it),
// and returns the extended slice: a strong tag gets the "W/" prefix, so that
// a strong comparison (Range, If-Match) never matches it; any other value
// (weak already, malformed) is appended as it is. etag is trimmed of
// surrounding spaces and tabs.
//
// For the renderers of response heads (stored pages and passed origin
// responses alike), which keep a field that needs no weakening as received.
// Any goroutine; it allocates only when dst is too short.
func AppendWeakETag(dst, etag []byte) []byte {
	if IsStrongETag(etag) {
		dst = append(dst, "W/"...)
	}
	return append(dst, etag...)
}
