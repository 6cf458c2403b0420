package upstream

import "github.com/mcpage/mcpage/internal/httpbytes"

// connTokens collects the field names listed in a Connection field value
// ("close, X-Foo ,keep-alive") into dst, trimmed of optional whitespace and
// without empty elements, and returns the extended dst. The tokens are views
// into value. Callers collect them once per message into a stack array, then
// test every field against them (namedIn).
func connTokens(dst [][]byte, value []byte) [][]byte {
	for more := len(value) > 0; more; {
		var tok []byte
		tok, value, more = httpbytes.CutElement(value)
		if len(tok) > 0 {
			dst = append(dst, tok)
		}
	}
	return dst
}

// namedIn reports whether name (any case) is one of tokens.
func namedIn(tokens [][]byte, name []byte) bool {
	for _, t := range tokens {
		if httpbytes.EqualFold(t, name) {
			return true
		}
	}
	return false
}
