package httpparse

// Byte classes of the request-target and Host grammars (RFC 3986), in one
// table so that each check is a load and a mask. Tokens and field values are
// httpbytes' (IsTchar, IsFieldValue): the same rules hold for the records and
// the origin's responses.
const (
	cTarget  = 1 << iota // visible ASCII %x21-7E: what a request-target may hold
	cRegName             // unreserved / sub-delims (RFC 3986): a reg-name without pct-encoding
	cHex                 // HEXDIG
)

var class = func() (t [256]uint8) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] |= cTarget
	}
	set := func(s string, m uint8) {
		for i := 0; i < len(s); i++ {
			t[s[i]] |= m
		}
	}
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const digit = "0123456789"
	set(alpha+digit+"-._~"+"!$&'()*+,;=", cRegName)
	set(digit+"abcdefABCDEF", cHex)
	return
}()
