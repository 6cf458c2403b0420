package upstream

import "bytes"

// IsHopByHop reports whether a header field name (any case) is one of the
// hop-by-hop fields a proxy must not forward: Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding and Upgrade. Fields named in
// a Connection field are hop-by-hop too; that needs the message, so it is
// handled by BuildRequest and VisitResponse. Safe from any goroutine; does not
// retain name.
func IsHopByHop(name []byte) bool {
	// Switch on the length first: most fields are ruled out without comparing
	// a byte, and this runs for every field of every message.
	switch len(name) {
	case 2:
		return asciiEqualFold(name, "te")
	case 7:
		return asciiEqualFold(name, "trailer") || asciiEqualFold(name, "upgrade")
	case 10:
		return asciiEqualFold(name, "connection") || asciiEqualFold(name, "keep-alive")
	case 16:
		return asciiEqualFold(name, "proxy-connection")
	case 17:
		return asciiEqualFold(name, "transfer-encoding")
	}
	return false
}

// asciiEqualFold reports whether b equals the lower-case ASCII string lower,
// ignoring ASCII case in b. Field names are ASCII tokens; nothing here needs
// Unicode folding, which would also accept bytes no token may hold.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// equalFold reports whether a and b are equal ignoring ASCII case.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// connTokens collects the field names listed in a Connection field value
// ("close, X-Foo ,keep-alive") into dst, trimmed of optional whitespace, and
// returns the extended dst. The tokens are views into value.
func connTokens(dst [][]byte, value []byte) [][]byte {
	for len(value) > 0 {
		var tok []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			tok, value = value[:i], value[i+1:]
		} else {
			tok, value = value, nil
		}
		tok = bytes.Trim(tok, " \t")
		if len(tok) > 0 {
			dst = append(dst, tok)
		}
	}
	return dst
}

// namedIn reports whether name (any case) is one of tokens.
func namedIn(tokens [][]byte, name []byte) bool {
	for _, t := range tokens {
		if equalFold(t, name) {
			return true
		}
	}
	return false
}
