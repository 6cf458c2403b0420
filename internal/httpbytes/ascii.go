// Package httpbytes is mcpage's one home for the byte-level vocabulary of
// HTTP/1.1 that the request parser (httpparse), the cache rules
// (server/cachepolicy), the record format (server/pagerecord), the origin
// client (server/upstream) and the front end (server) all need: ASCII case
// folding, optional whitespace, tokens and field values (RFC 9110 §5), lists
// and Connection tokens (§5.6.1, §7.6.1), hop-by-hop field names, and the
// plain-text answers mcpage writes itself.
//
// Everything works on views: nothing retains or modifies its arguments,
// nothing looks past len(b), nothing allocates except to grow a dst the
// caller passes to an Append function, and every function is safe to call
// from any goroutine. Field names and other protocol elements are ASCII, so
// folding is ASCII-only: unlike strings.EqualFold, "\u212A" (Kelvin sign) is
// not "k", and no byte of a multi-byte sequence matches a letter.
package httpbytes

// Byte classes, in one table so that each check is one load and a mask.
const (
	classTchar = 1 << iota // tchar, RFC 9110 §5.6.2
	classValue             // field-vchar / SP / HTAB, obs-text included (RFC 9110 §5.5)
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if c == '\t' || c == ' ' || (c > ' ' && c != 0x7f) {
			t[c] |= classValue
		}
	}
	const tchar = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
	for i := 0; i < len(tchar); i++ {
		t[tchar[i]] |= classTchar
	}
	return t
}()

// Lower returns c with an ASCII upper-case letter mapped to lower case; any
// other byte is returned unchanged.
func Lower(c byte) byte {
	if c-'A' < 26 {
		c += 'a' - 'A'
	}
	return c
}

// EqualFold reports whether b and s (a string or a byte slice) are equal
// under ASCII case folding: only A-Z and a-z match each other, every other
// byte only itself.
func EqualFold[S ~string | ~[]byte](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		// Equal bytes cost one comparison; others match only when they
		// differ in the case bit alone and are letters.
		if c, d := b[i], s[i]; c != d && (c|0x20 != d|0x20 || (c|0x20)-'a' >= 26) {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether b begins with prefix under ASCII case
// folding (see EqualFold).
func HasPrefixFold[S ~string | ~[]byte](b []byte, prefix S) bool {
	return len(b) >= len(prefix) && EqualFold(b[:len(prefix)], prefix)
}

// IsOWS reports whether c is optional whitespace: SP or HTAB (RFC 9110 §5.6.3).
func IsOWS(c byte) bool { return c == ' ' || c == '\t' }

// TrimOWS returns b without leading and trailing SP and HTAB.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && IsOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && IsOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// IsDigit reports whether c is an ASCII decimal digit (DIGIT, RFC 5234).
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// IsTchar reports whether c may appear in a token (RFC 9110 §5.6.2): a
// letter, a digit or one of !#$%&'*+-.^_`|~.
func IsTchar(c byte) bool { return class[c]&classTchar != 0 }

// TokenLen returns the length of the run of tchar bytes at the start of b.
func TokenLen(b []byte) int {
	i := 0
	for i < len(b) && class[b[i]]&classTchar != 0 {
		i++
	}
	return i
}

// IsToken reports whether b is a non-empty token (RFC 9110 §5.6.2), as a
// field name or a method must be.
func IsToken(b []byte) bool {
	return len(b) > 0 && TokenLen(b) == len(b)
}
