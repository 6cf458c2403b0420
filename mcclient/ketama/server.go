package ketama

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is the memcached port Parse assumes when an entry names none.
// It is also the port libmemcached leaves out of the hashed point names.
const DefaultPort = 11211

// MaxServers is libmemcached's own limit: update_continuum asserts
// server count × 100 ≤ MEMCACHED_CONTINUUM_SIZE (100 × 100), and Debian's
// libmemcached 1.1.4 aborts when a 101st server is added. Beyond it there is
// no libmemcached placement to be compatible with. The bound also keeps a
// ring small and lets PickLive track dead servers in a bitmap on the stack.
const MaxServers = 100

// MaxHostLen is the longest host libmemcached accepts (its hostname buffer is
// NI_MAXHOST = 1025 bytes including the NUL).
const MaxHostLen = 1024

// Server is one memcached server of a ring.
type Server struct {
	// Addr is "host:port", an IPv6 host in brackets ("[::1]:11211"). The
	// host, without brackets, is hashed exactly as written: no DNS lookup,
	// case kept, so "localhost" and "127.0.0.1" are different ring members,
	// as in libmemcached.
	Addr string
	// Weight is the server's relative share of the keys; 0 means 1.
	Weight uint32
}

// Parse reads a comma-separated server list such as
// "h1:11211,h2:11212:3,[::1]:11213". Each entry is host, host:port or
// host:port:weight; the port defaults to DefaultPort and the weight to 1.
// Blanks around entries are ignored. Hosts are names or IPv4 literals made
// of [A-Za-z0-9._-], or IPv6 literals in brackets.
//
// Errors wrap ErrNoServers, ErrTooManyServers, ErrEmptyEntry, ErrBadHost,
// ErrBadPort, ErrBadWeight or ErrDuplicateServer, naming the entry. A weight
// of 0 is rejected rather than read as 1 (what libmemcached would do):
// whoever writes 0 means "no keys", which ketama cannot express.
//
// Parse may be called from any goroutine; the returned slice is the
// caller's, with Addr in canonical "host:port" form.
func Parse(list string) ([]Server, error) {
	if strings.TrimSpace(list) == "" {
		return nil, ErrNoServers
	}
	// Count before splitting so a huge list costs nothing.
	if strings.Count(list, ",") >= MaxServers {
		return nil, fmt.Errorf("%w: more than %d", ErrTooManyServers, MaxServers)
	}
	entries := strings.Split(list, ",")
	out := make([]Server, 0, len(entries))
	seen := make(map[string]struct{}, len(entries))
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, fmt.Errorf("%w: entry %d", ErrEmptyEntry, i+1)
		}
		s, err := parseEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d %q", err, i+1, clip(e))
		}
		if _, dup := seen[s.Addr]; dup {
			return nil, fmt.Errorf("%w: entry %d %q", ErrDuplicateServer, i+1, clip(e))
		}
		seen[s.Addr] = struct{}{}
		out = append(out, s)
	}
	return out, nil
}

// parseEntry reads one trimmed, non-empty entry.
func parseEntry(e string) (Server, error) {
	var host, rest string
	if e[0] == '[' {
		end := strings.IndexByte(e, ']')
		if end < 0 {
			return Server{}, ErrBadHost
		}
		host, rest = e[1:end], e[end+1:]
		if !validIPv6(host) || (rest != "" && rest[0] != ':') {
			return Server{}, ErrBadHost
		}
	} else {
		// An unbracketed IPv6 literal: its port could not be told apart
		// from its last group.
		if strings.Count(e, ":") > 2 && (strings.Contains(e, "::") || validIPv6(e)) {
			return Server{}, ErrBadHost
		}
		host = e
		if i := strings.IndexByte(e, ':'); i >= 0 {
			host, rest = e[:i], e[i:]
		}
		if !validName(host) {
			return Server{}, ErrBadHost
		}
	}
	port, weight := DefaultPort, uint32(1)
	if rest != "" {
		p, w, hasWeight := strings.Cut(rest[1:], ":")
		var ok bool
		if port, ok = parsePort(p); !ok {
			return Server{}, ErrBadPort
		}
		if hasWeight {
			if weight, ok = parseWeight(w); !ok {
				return Server{}, ErrBadWeight
			}
		}
	}
	return Server{Addr: net.JoinHostPort(host, strconv.Itoa(port)), Weight: weight}, nil
}

// splitAddr validates a Server.Addr for New and returns its host (without
// brackets) and port.
func splitAddr(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, ErrBadHost
	}
	// Brackets exactly around IPv6 literals, as Parse writes them.
	if strings.HasPrefix(addr, "[") != strings.Contains(h, ":") {
		return "", 0, ErrBadHost
	}
	if strings.Contains(h, ":") {
		if !validIPv6(h) {
			return "", 0, ErrBadHost
		}
	} else if !validName(h) {
		return "", 0, ErrBadHost
	}
	port, ok := parsePort(p)
	if !ok {
		return "", 0, ErrBadPort
	}
	return h, port, nil
}

// validName accepts host names and IPv4 literals: the bytes DNS names use,
// so nothing that could break a point name or a dial string gets in.
func validName(h string) bool {
	if h == "" || len(h) > MaxHostLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validIPv6 accepts an IPv6 literal (as written inside brackets), with an
// optional zone made of name bytes.
func validIPv6(h string) bool {
	if len(h) > MaxHostLen {
		return false
	}
	a, err := netip.ParseAddr(h)
	if err != nil || !a.Is6() {
		return false
	}
	if z := a.Zone(); z != "" && !validName(z) {
		return false
	}
	return true
}

// parsePort accepts 1..65535 written with decimal digits only (leading
// zeros allowed: libmemcached takes the number, so the ring does too).
func parsePort(p string) (int, bool) {
	if p == "" || len(p) > 10 || !allDigits(p) {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}

// parseWeight accepts 1..4294967295 written with decimal digits only.
func parseWeight(w string) (uint32, bool) {
	if w == "" || !allDigits(w) {
		return 0, false
	}
	n, err := strconv.ParseUint(w, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip bounds how much of a bad entry goes into an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
