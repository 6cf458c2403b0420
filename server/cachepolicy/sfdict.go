package cachepolicy

import "github.com/mcpage/mcpage/internal/httpbytes"

// A validating walk over RFC 8941 Structured Field Dictionaries, just enough
// for CDN-Cache-Control (RFC 9213 §2.1): each member's key and raw value are
// handed to directives.apply, parameters are checked and ignored. It builds
// nothing and allocates nothing.

// parseCDNCacheControl interprets CDN-Cache-Control field lines. ok is false
// when a line is not a valid Dictionary; RFC 9213 then has the cache ignore
// the field. Empty lines contribute no members.
func parseCDNCacheControl(lines [][]byte) (d directives, ok bool) {
	for _, line := range lines {
		if !sfDictionary(line, &d) {
			return directives{}, false
		}
	}
	return d, true
}

// sfDictionary walks one Dictionary field line (RFC 8941 §4.2.2).
func sfDictionary(b []byte, d *directives) bool {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i == len(b) {
		return true
	}
	for {
		ks := i
		if i = sfKey(b, i); i < 0 {
			return false
		}
		key := b[ks:i]
		var val []byte
		hasVal := false
		if i < len(b) && b[i] == '=' {
			i++
			vs := i
			if i < len(b) && b[i] == '(' {
				i = sfInnerList(b, i)
			} else {
				i = sfBareItem(b, i)
			}
			if i < 0 {
				return false
			}
			val, hasVal = b[vs:i], true
		}
		if i = sfParams(b, i); i < 0 {
			return false
		}
		sfApply(d, key, val, hasVal)
		for i < len(b) && httpbytes.IsOWS(b[i]) {
			i++
		}
		if i == len(b) {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i++
		for i < len(b) && httpbytes.IsOWS(b[i]) {
			i++
		}
		if i == len(b) {
			return false // trailing comma
		}
	}
}

// sfKey: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
// It returns the index after the key, or -1.
func sfKey(b []byte, i int) int {
	if i >= len(b) || !(b[i] >= 'a' && b[i] <= 'z' || b[i] == '*') {
		return -1
	}
	for i++; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
	}
	return i
}

// sfParams: *( ";" *SP key [ "=" bare-item ] ).
func sfParams(b []byte, i int) int {
	for i >= 0 && i < len(b) && b[i] == ';' {
		i++
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i = sfKey(b, i); i >= 0 && i < len(b) && b[i] == '=' {
			i = sfBareItem(b, i+1)
		}
	}
	return i
}

// sfInnerList: "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")".
func sfInnerList(b []byte, i int) int {
	i++ // "("
	for {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			return -1
		}
		if b[i] == ')' {
			return i + 1
		}
		if i = sfParams(b, sfBareItem(b, i)); i < 0 || i >= len(b) {
			return -1
		}
		if b[i] != ' ' && b[i] != ')' {
			return -1
		}
	}
}

// sfBareItem: integer, decimal, string, token, byte sequence or boolean.
func sfBareItem(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '-' || c >= '0' && c <= '9':
		return sfNumber(b, i)
	case c == '"':
		for i++; i < len(b); i++ {
			switch c := b[i]; {
			case c == '\\':
				if i++; i >= len(b) || (b[i] != '"' && b[i] != '\\') {
					return -1
				}
			case c == '"':
				return i + 1
			case c < 0x20 || c > 0x7e:
				return -1
			}
		}
		return -1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		for i++; i < len(b) && (httpbytes.IsTchar(b[i]) || b[i] == ':' || b[i] == '/'); i++ {
		}
		return i
	case c == ':':
		for i++; i < len(b); i++ {
			switch c := b[i]; {
			case c == ':':
				return i + 1
			case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='):
				return -1
			}
		}
		return -1
	case c == '?':
		if i+1 < len(b) && (b[i+1] == '0' || b[i+1] == '1') {
			return i + 2
		}
	}
	return -1
}

// sfNumber: ["-"] 1*15DIGIT, or ["-"] 1*12DIGIT "." 1*3DIGIT.
func sfNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intDigits := i - start
	if intDigits == 0 {
		return -1
	}
	if i >= len(b) || b[i] != '.' {
		if intDigits > 15 {
			return -1
		}
		return i
	}
	if intDigits > 12 {
		return -1
	}
	i++
	fs := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if n := i - fs; n < 1 || n > 3 {
		return -1
	}
	return i
}

// sfApply records one CDN-Cache-Control member, checking its type (RFC 9213
// §2.1: a directive whose value has the wrong type is ignored, and then does
// not count towards CDN-Cache-Control replacing Cache-Control). Delta
// directives must be Integers; public, must-revalidate, proxy-revalidate
// and must-understand Boolean true (a bare key). no-store, no-cache and
// private are applied whatever their value: the origin plainly meant to
// restrict us.
func sfApply(d *directives, key, val []byte, hasVal bool) {
	switch {
	case httpbytes.EqualFold(key, "max-age"), httpbytes.EqualFold(key, "s-maxage"),
		httpbytes.EqualFold(key, "stale-while-revalidate"), httpbytes.EqualFold(key, "stale-if-error"):
		if !hasVal || !sfInteger(val) {
			return
		}
	case httpbytes.EqualFold(key, "public"), httpbytes.EqualFold(key, "must-revalidate"),
		httpbytes.EqualFold(key, "proxy-revalidate"), httpbytes.EqualFold(key, "must-understand"):
		if hasVal && string(val) != "?1" {
			return
		}
		val, hasVal = nil, false
	}
	d.apply(key, val, hasVal)
}

// sfInteger: a non-negative sf-integer (digits only; a negative age means
// nothing here).
func sfInteger(v []byte) bool {
	if len(v) == 0 || len(v) > 15 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
