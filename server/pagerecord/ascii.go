package pagerecord

// Byte classes for header block validation (RFC 9110 §5.1, §5.5).
const (
	classToken = 1 << iota // tchar
	classValue             // field-vchar, SP or HTAB
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			t[c] = classToken | classValue
		case c == '\t' || c == ' ':
			t[c] = classValue
		case c > ' ' && c < 0x7f:
			t[c] = classValue
		case c >= 0x80:
			t[c] = classValue // obs-text
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] |= classToken
	}
	return t
}()

// lower folds an ASCII upper-case letter.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s, ASCII case-insensitively. s must be
// lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldBytes reports whether a equals b, ASCII case-insensitively.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// equalFoldString reports whether b equals s, ASCII case-insensitively (s in
// any case).
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// trimOWS strips leading and trailing spaces and tabs.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
