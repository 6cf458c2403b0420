package cachepolicy

import (
	"bytes"
	"strings"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// AcceptsEncoding reports whether an Accept-Encoding field value accepts
// content coding (RFC 9110 §12.5.3), e.g. "gzip", "br", "identity".
//
//   - A listed coding decides: accepted when listed with q>0, refused when
//     listed (also) with q=0. "x-gzip" is "gzip" and "x-compress" is
//     "compress" (RFC 9110 §8.4.1).
//   - Otherwise "*" decides: accepted with q>0, refused with q=0.
//   - Otherwise only "identity" is accepted. In particular an empty value
//     accepts no coding but identity; the caller passes an empty value for
//     an absent field too, so a client that sent nothing gets identity
//     (RFC 9110 would allow any coding there, but old clients that send no
//     Accept-Encoding are exactly the ones that can't decode).
//
// Codings and the q parameter are case-insensitive; OWS around "," and ";"
// (and, leniently, around "=") is allowed. A malformed q ("q=2", "q=0.5x",
// "q") counts as q=0: sending identity is always safe, guessing a client
// can decode is not. The first q parameter of an element counts. Elements
// that are not tokens match nothing. Any goroutine; no allocation.
func AcceptsEncoding(acceptEncoding []byte, coding string) bool {
	var listedYes, listedNo, starYes, starNo bool
	for rest := acceptEncoding; len(rest) > 0; {
		var item []byte
		item, rest, _ = cutList(rest, ',')
		name, params, _ := cutList(item, ';')
		name = httpbytes.TrimOWS(name)
		if len(name) == 0 {
			continue
		}
		q := weight(params)
		switch {
		case len(name) == 1 && name[0] == '*':
			starYes, starNo = starYes || q > 0, starNo || q == 0
		case sameCoding(name, coding):
			listedYes, listedNo = listedYes || q > 0, listedNo || q == 0
		}
	}
	switch {
	case listedYes || listedNo:
		return !listedNo
	case starYes || starNo:
		return !starNo
	}
	return strings.EqualFold(coding, "identity")
}

// sameCoding compares a listed coding with the wanted one, aliases included.
func sameCoding(name []byte, coding string) bool {
	if httpbytes.EqualFold(name, coding) {
		return true
	}
	for _, alias := range [...][2]string{{"gzip", "x-gzip"}, {"compress", "x-compress"}} {
		if httpbytes.EqualFold(name, alias[0]) && strings.EqualFold(coding, alias[1]) ||
			httpbytes.EqualFold(name, alias[1]) && strings.EqualFold(coding, alias[0]) {
			return true
		}
	}
	return false
}

// weight returns the element's q in thousandths: 1000 without a q parameter,
// 0 for a malformed one.
func weight(params []byte) int {
	for rest := params; len(rest) > 0; {
		var p []byte
		p, rest, _ = cutList(rest, ';')
		name, value := httpbytes.TrimOWS(p), []byte(nil)
		i := bytes.IndexByte(name, '=')
		if i >= 0 {
			name, value = httpbytes.TrimOWS(name[:i]), httpbytes.TrimOWS(name[i+1:])
		}
		if !httpbytes.EqualFold(name, "q") {
			continue
		}
		if i < 0 {
			return 0
		}
		return parseQValue(value)
	}
	return 1000
}

// parseQValue parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
// into thousandths; anything else is 0.
func parseQValue(v []byte) int {
	if len(v) == 0 || len(v) > len("0.000") || (v[0] != '0' && v[0] != '1') {
		return 0
	}
	q := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return q
	}
	if v[1] != '.' {
		return 0
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0
	}
	return q
}
