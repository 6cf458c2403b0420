package cachepolicy

// Byte-level helpers shared by the field parsers. All are allocation-free and
// work on views; none of them looks past len(b).

// tcharTable marks RFC 9110 §5.6.2 tchar bytes.
var tcharTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tcharTable[c] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS strips optional whitespace (SP, HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with s (a string or another []byte)
// ASCII-case-insensitively.
func equalFold[S ~string | ~[]byte](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

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

// isQuotedString reports whether b is exactly one well-formed quoted-string.
func isQuotedString(b []byte) bool {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return false
	}
	for i := 1; i < len(b)-1; i++ {
		switch c := b[i]; {
		case c == '\\':
			i++
			if i >= len(b)-1 || !qdtextOrEscaped(b[i], true) {
				return false
			}
		case c == '"' || !qdtextOrEscaped(c, false):
			return false
		}
	}
	return true
}

// qdtextOrEscaped: qdtext is HTAB / SP / VCHAR but '"' and '\' / obs-text; a
// quoted-pair may also escape '"' and '\'.
func qdtextOrEscaped(c byte, escaped bool) bool {
	switch {
	case c == '\t' || c == ' ' || c >= 0x80:
		return true
	case c < 0x21 || c == 0x7f:
		return false
	case c == '"' || c == '\\':
		return escaped
	}
	return true
}
