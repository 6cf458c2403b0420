package httpparse

// Byte classes, in one table so that each check is a load and a mask.
const (
	cToken   = 1 << iota // tchar, RFC 9110 §5.6.2
	cValue               // field-vchar, SP, HTAB (RFC 9110 §5.5), obs-text included
	cTarget              // visible ASCII %x21-7E: what a request-target may hold
	cRegName             // unreserved / sub-delims (RFC 3986): a reg-name without pct-encoding
	cHex                 // HEXDIG
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c == '\t' || c == ' ' || (c > ' ' && c != 0x7f):
			t[c] |= cValue
		}
		if c > ' ' && c < 0x7f {
			t[c] |= cTarget
		}
	}
	set := func(s string, m uint8) {
		for i := 0; i < len(s); i++ {
			t[s[i]] |= m
		}
	}
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const digit = "0123456789"
	set(alpha+digit+"!#$%&'*+-.^_`|~", cToken)
	set(alpha+digit+"-._~"+"!$&'()*+,;=", cRegName)
	set(digit+"abcdefABCDEF", cHex)
	return
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if class[c]&cToken == 0 {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing SP/HTAB.
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
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case; s must be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldAny is equalFold without the lower-case promise on s.
func equalFoldAny(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list contains tok (lower
// case), ignoring ASCII case and OWS around elements.
func hasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		if equalFold(trimOWS(list[:i]), tok) {
			return true
		}
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	return false
}
