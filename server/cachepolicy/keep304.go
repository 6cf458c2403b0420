package cachepolicy

import "github.com/mcpage/mcpage/internal/httpbytes"

// KeepOn304 reports whether a stored header field called name is sent with a
// 304 Not Modified answered from the store: the fields RFC 9110 §15.4.5 wants
// repeated (Cache-Control, Content-Location, Date, ETag, Expires, Vary), and
// Last-Modified, which clients use to revalidate next time. Every other
// stored field (Content-Type, …) is left out. Names compare ASCII
// case-insensitively.
//
// For the renderer of 304s from a record; any goroutine; no allocation.
func KeepOn304(name []byte) bool {
	switch len(name) {
	case 4:
		return httpbytes.EqualFold(name, "etag") || httpbytes.EqualFold(name, "date") || httpbytes.EqualFold(name, "vary")
	case 7:
		return httpbytes.EqualFold(name, "expires")
	case 13:
		return httpbytes.EqualFold(name, "cache-control") || httpbytes.EqualFold(name, "last-modified")
	case 16:
		return httpbytes.EqualFold(name, "content-location")
	}
	return false
}
