package cachepolicy

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// SameHostPath returns the path+query that an unsafe request's Location or
// Content-Location value uri refers to, when it refers to the request's own
// host, so that the caller can invalidate that URI too (RFC 9111 §4.4, which
// forbids invalidating URIs on other hosts).
//
// Accepted forms: an absolute path "/p?q" (but not "//authority/…"), and an
// absolute URI "http://host/p?q" or "https://host/p?q" whose authority equals
// host byte for byte, ASCII-case-insensitively; host is the request's Host
// (port included when it had one; "example.test" and "example.test:80" are
// different hosts here, as they are in the cache key). A fragment is dropped,
// and an absolute URI without a path means "/". Anything else (another host,
// userinfo, a relative reference, another scheme, an empty host, a value with
// SP or control bytes) gives ok=false.
//
// The result is a view into uri except when uri had no path ("http://h" or
// "http://h?q"), where a new slice is allocated. Any goroutine.
func SameHostPath(host, uri []byte) (path []byte, ok bool) {
	uri = httpbytes.TrimOWS(uri)
	if len(uri) == 0 || len(host) == 0 {
		return nil, false
	}
	for _, c := range uri {
		if c <= ' ' || c == 0x7f {
			return nil, false
		}
	}
	var rest []byte
	switch {
	case uri[0] == '/':
		if len(uri) > 1 && uri[1] == '/' {
			return nil, false // network-path reference: names an authority we can't vouch for
		}
		return dropFragment(uri), true
	case httpbytes.HasPrefixFold(uri, "http://"):
		rest = uri[len("http://"):]
	case httpbytes.HasPrefixFold(uri, "https://"):
		rest = uri[len("https://"):]
	default:
		return nil, false
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	if !httpbytes.EqualFold(rest[:end], host) {
		return nil, false
	}
	p := dropFragment(rest[end:])
	if len(p) == 0 || p[0] != '/' {
		// "http://h" and "http://h?q" name "/" and "/?q" (RFC 9110 §4.2.3).
		return append([]byte{'/'}, p...), true
	}
	return p, true
}

func dropFragment(p []byte) []byte {
	if i := bytes.IndexByte(p, '#'); i >= 0 {
		return p[:i]
	}
	return p
}
