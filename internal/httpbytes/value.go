package httpbytes

import "encoding/binary"

// SWAR constants: a byte-wise "any byte below 0x20" and "any byte equal to
// 0x7f" test over 8 bytes at a time. Both tests are exact as existence tests;
// a hit falls back to the byte table (HTAB, which is allowed, also hits).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// IsFieldValue reports whether every byte of v may appear in a field value
// (RFC 9110 §5.5): VCHAR, obs-text (%x80-FF), SP or HTAB; not NUL, CR, LF,
// DEL nor any other control byte. An empty v is a valid (empty) value. Values
// are checked on every request and every cache hit, so clean 8-byte words take
// a fast path.
func IsFieldValue(v []byte) bool {
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		del := x ^ (0x7f * ones)
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			for _, c := range v[:8] {
				if class[c]&classValue == 0 {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if class[c]&classValue == 0 {
			return false
		}
	}
	return true
}

// QuotedStringLen returns the length of the quoted-string (RFC 9110 §5.6.4)
// at the start of b, closing quote included, or -1 if b does not start with
// a complete, well-formed one. Inside the quotes every byte must be one a
// field value may hold (IsFieldValue); a backslash escapes the byte after it,
// which must be one too, so an escaped quote does not end the string.
func QuotedStringLen(b []byte) int {
	if len(b) == 0 || b[0] != '"' {
		return -1
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 == len(b) || class[b[i+1]]&classValue == 0 {
				return -1
			}
			i++
		case class[c]&classValue == 0:
			return -1
		}
	}
	return -1
}
