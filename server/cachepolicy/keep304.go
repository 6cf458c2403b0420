package cachepolicy

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
		return equalFold(name, "etag") || equalFold(name, "date") || equalFold(name, "vary")
	case 7:
		return equalFold(name, "expires")
	case 13:
		return equalFold(name, "cache-control") || equalFold(name, "last-modified")
	case 16:
		return equalFold(name, "content-location")
	}
	return false
}
