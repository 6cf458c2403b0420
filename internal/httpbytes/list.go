package httpbytes

import "bytes"

// CutElement splits a comma-separated list (RFC 9110 §5.6.1) at its first
// comma: elem is what comes before it with OWS trimmed, rest what follows,
// and found whether there was a comma. Without one, elem is the whole list,
// trimmed, and rest is nil. elem may be empty: lists may hold empty elements,
// which most recipients ignore. Commas are not special inside anything, so it
// is for lists of tokens or numbers (Connection, Content-Length, ...), not for
// lists whose elements may hold a quoted-string.
//
// To visit every element, including a trailing empty one:
//
//	for more := true; more; {
//		elem, list, more = CutElement(list)
//		...
//	}
func CutElement(list []byte) (elem, rest []byte, found bool) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return TrimOWS(list[:i]), list[i+1:], true
	}
	return TrimOWS(list), nil, false
}

// HasElementFold reports whether the comma-separated list (CutElement) holds
// an element equal to s under ASCII case folding (EqualFold), OWS around
// elements ignored. Empty elements are ignored, so an empty s is never found.
// It reads a Connection field's options ("close", "keep-alive") and the
// field names it lists.
func HasElementFold[S ~string | ~[]byte](list []byte, s S) bool {
	if len(s) == 0 {
		return false
	}
	for more := len(list) > 0; more; {
		var elem []byte
		elem, list, more = CutElement(list)
		if EqualFold(elem, s) {
			return true
		}
	}
	return false
}

// IsHopByHop reports whether a field named name (any case) is hop-by-hop in
// itself: Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding and
// Upgrade (RFC 9110 §7.6.1), and Trailer (RFC 2616 §13.5.1). A proxy neither
// forwards nor stores them. Fields a Connection field names are hop-by-hop
// too (HasElementFold on its value); that needs the message, so it is the
// caller's to check.
func IsHopByHop(name []byte) bool {
	// Switch on the length first: most fields are ruled out without comparing
	// a byte, and this runs for every field of every message.
	switch len(name) {
	case 2:
		return EqualFold(name, "te")
	case 7:
		return EqualFold(name, "trailer") || EqualFold(name, "upgrade")
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive")
	case 16:
		return EqualFold(name, "proxy-connection")
	case 17:
		return EqualFold(name, "transfer-encoding")
	}
	return false
}
