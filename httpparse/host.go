package httpparse

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// validHost reports whether b is uri-host [":" port] (RFC 3986 §3.2.2-3.2.3,
// as RFC 9110 §7.2 requires of Host) or empty (RFC 9112 §3.2 lets a client
// send an empty Host). The host must be an IPv6 literal in brackets or a
// non-empty reg-name; pct-encoding, IPvFuture and zone identifiers are
// refused because no origin we front needs them and each is another spelling
// of a cache key. The port is *DIGIT, as RFC 3986 has it.
func validHost(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	i := 0
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 || !validIPv6(b[1:end]) {
			return false
		}
		i = end + 1
	} else {
		for i < len(b) && class[b[i]]&cRegName != 0 {
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i == len(b) {
		return true
	}
	if b[i] != ':' {
		return false
	}
	for _, c := range b[i+1:] {
		if !httpbytes.IsDigit(c) {
			return false
		}
	}
	return true
}

// validIPv6 reports whether b is an RFC 3986 IPv6address: eight h16 groups,
// or fewer with exactly one "::" standing for at least one, the last two
// optionally written as a dotted IPv4 address.
func validIPv6(b []byte) bool {
	groups, elided := 0, false
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		elided, i = true, 2
	}
	for i < len(b) {
		j := i
		for j < len(b) && class[b[j]]&cHex != 0 {
			j++
		}
		if j < len(b) && b[j] == '.' {
			// Only the last 32 bits may be written as IPv4.
			if !validIPv4(b[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		if j == len(b) {
			break
		}
		if b[j] != ':' || j+1 == len(b) {
			return false
		}
		i = j + 1
		if b[i] == ':' {
			if elided {
				return false
			}
			elided = true
			i++
		}
	}
	if elided {
		return groups <= 7
	}
	return groups == 8
}

// validIPv4 reports whether b is four dec-octets (0-255, no leading zeros).
func validIPv4(b []byte) bool {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if len(b) == 0 || b[0] != '.' {
				return false
			}
			b = b[1:]
		}
		n, v := 0, 0
		for n < len(b) && n < 4 && '0' <= b[n] && b[n] <= '9' {
			v = v*10 + int(b[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || (n > 1 && b[0] == '0') {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}
