package pagerecord

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// IsValidator reports whether a header field called name is a validator a
// stale page can be revalidated with (RFC 9110 §8.8): ETag or Last-Modified,
// ASCII case-insensitively. Any goroutine; no allocation.
func IsValidator(name []byte) bool {
	return httpbytes.EqualFold(name, "etag") || httpbytes.EqualFold(name, "last-modified")
}

// Revalidatable reports whether a stale r may be revalidated with a
// conditional request (If-None-Match, If-Modified-Since) rather than fetched
// again: its header block has an ETag or a Last-Modified field, even an empty
// one (as Lookup sees them: r.Lookup("ETag") or r.Lookup("Last-Modified") is
// not nil). Callers: the store lookup deciding what to do with a stale page,
// and the writers sizing the store TTL (cachepolicy.StoreTTL). Like Lookup it
// tolerates a hand-built block Decode would reject. Any goroutine that may
// read r; no allocation.
func (r *Record) Revalidatable() bool {
	for b := r.Header; len(b) > 0; {
		var line []byte
		line, b, _ = cutLine(b)
		if colon := bytes.IndexByte(line, ':'); colon > 0 && IsValidator(line[:colon]) {
			return true
		}
	}
	return false
}
