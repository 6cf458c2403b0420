package cachepolicy

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// incompressible are the Content-Type prefixes (lower case) of formats that
// are compressed already: gzipping them again costs CPU and saves nothing.
var incompressible = [...]string{"image/", "video/", "audio/", "font/woff", "application/zip",
	"application/gzip", "application/x-gzip", "application/zstd", "application/x-7z", "application/x-rar"}

// Compressible reports whether a body with this Content-Type value is worth
// gzipping before it is stored: anything but the media and archive formats
// that are compressed already (image/*, video/*, audio/*, font/woff*, zip,
// gzip, zstd, 7z, rar), SVG images (XML text) excepted. An empty or absent
// type is compressible. The value is trimmed of surrounding white space and
// compared case-insensitively by prefix, so parameters ("; charset=…") do
// not matter.
//
// The fill path calls it for an identity body that is to be stored; the body
// size threshold is the caller's. Any goroutine. It does not allocate for an
// ASCII value; one with non-ASCII bytes is lower-cased with bytes.ToLower
// first (Unicode simple folding, one allocation).
func Compressible(contentType []byte) bool {
	ct := bytes.TrimSpace(contentType)
	if !isASCII(ct) {
		ct = bytes.ToLower(ct)
	}
	for _, p := range incompressible {
		if httpbytes.HasPrefixFold(ct, p) {
			return httpbytes.HasPrefixFold(ct, "image/svg")
		}
	}
	return true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
