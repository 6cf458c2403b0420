package cachepolicy

// The field parsers' byte-level helpers are internal/httpbytes'; what stays
// here is cachepolicy's own: lists whose elements may hold quoted-strings.

// cutList splits b at the first sep that is not inside a quoted-string (RFC
// 9110 §5.6.4, backslash escapes honoured). An unterminated quoted-string runs
// to the end of b; unterminated reports that, so callers that must not guess
// (Cache-Control) can refuse the value.
func cutList(b []byte, sep byte) (item, rest []byte, unterminated bool) {
	inQ := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inQ && c == '\\':
			i++
		case c == '"':
			inQ = !inQ
		case !inQ && c == sep:
			return b[:i], b[i+1:], false
		}
	}
	return b, nil, inQ
}
