package pagerecord

import "github.com/mcpage/mcpage/internal/httpbytes"

// Encoding is a content coding of a stored body. The values are the ones
// written at offsets 8 and 9 of a record and must not be renumbered.
type Encoding uint8

// The content codings a record may hold.
const (
	Identity Encoding = iota // no coding
	Gzip                     // "gzip" (RFC 1952)
	Deflate                  // "deflate": zlib (RFC 1950); raw deflate is accepted when decoding
	Brotli                   // "br" (RFC 7932)
	Zstd                     // "zstd" (RFC 8878)

	numEncodings // first invalid value
)

var encodingNames = [numEncodings]string{"identity", "gzip", "deflate", "br", "zstd"}

// String returns the coding's Content-Encoding token ("identity", "gzip",
// "deflate", "br", "zstd"), or "unknown" for a value outside the constants.
// Safe from any goroutine; it does not allocate.
func (e Encoding) String() string {
	if e < numEncodings {
		return encodingNames[e]
	}
	return "unknown"
}

// valid reports whether e is one of the constants.
func (e Encoding) valid() bool { return e < numEncodings }

// ParseEncoding maps a Content-Encoding field value to an Encoding. It is
// case-insensitive and ignores surrounding spaces and tabs; "x-gzip" counts as
// gzip (RFC 9110 §8.4.1.3). An empty value and "identity" give Identity. A list
// of several codings ("gzip, br"), an unknown coding, or any other byte gives
// (Identity, false): such a body cannot be stored or decoded as one coding.
// Safe from any goroutine; it does not allocate or retain contentEncoding.
func ParseEncoding(contentEncoding []byte) (Encoding, bool) {
	v := httpbytes.TrimOWS(contentEncoding)
	switch {
	case len(v) == 0, httpbytes.EqualFold(v, "identity"):
		return Identity, true
	case httpbytes.EqualFold(v, "gzip"), httpbytes.EqualFold(v, "x-gzip"):
		return Gzip, true
	case httpbytes.EqualFold(v, "deflate"):
		return Deflate, true
	case httpbytes.EqualFold(v, "br"):
		return Brotli, true
	case httpbytes.EqualFold(v, "zstd"):
		return Zstd, true
	}
	return Identity, false
}
