package proxyproto

import "net/netip"

// Text addresses and ports of v1 lines, parsed from bytes without
// allocating (netip.ParseAddr takes a string, and its errors allocate).

// parseIPv4 parses dotted-decimal: exactly four numbers 0-255 without
// leading zeros ("heading zeroes are not permitted", the specification says,
// lest they be read as octal).
func parseIPv4(s []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range 4 {
		if i > 0 {
			if len(s) == 0 || s[0] != '.' {
				return netip.Addr{}, false
			}
			s = s[1:]
		}
		v, n := 0, 0
		for n < len(s) && n < 4 && s[n] >= '0' && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0') {
			return netip.Addr{}, false
		}
		ip[i] = byte(v)
		s = s[n:]
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseIPv6 parses RFC 4291 text: eight groups of 1-4 hex digits, one "::"
// standing for at least one group of zeros, and optionally dotted-decimal
// for the last 32 bits. Zones are refused.
func parseIPv6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // where "::" stands, as a byte index into ip
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	i := 0
	for i < 16 {
		acc, n := 0, 0
		for n < len(s) {
			d := hexVal(s[n])
			if d < 0 {
				break
			}
			acc = acc<<4 | d
			n++
			if n > 4 {
				return netip.Addr{}, false
			}
		}
		if n == 0 {
			return netip.Addr{}, false
		}
		if n < len(s) && s[n] == '.' {
			// Embedded IPv4: only as the last 32 bits.
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(s)
			if !ok {
				return netip.Addr{}, false
			}
			b := v4.As4()
			copy(ip[i:], b[:])
			i += 4
			s = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		s = s[n:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// parsePort parses a decimal port, 0-65535, without leading zeros.
func parsePort(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return 0, false
	}
	return uint16(v), true
}
