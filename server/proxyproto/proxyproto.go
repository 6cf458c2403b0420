package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Header is what a PROXY protocol header says about its connection.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version uint8
	// Local is set for a v2 LOCAL command: the proxy's own connection
	// (a health check), to be treated as coming from the proxy itself.
	Local bool
	// Source and Dest are the original connection's endpoints: the client
	// and the address it connected to. They are set for v1 TCP4/TCP6 and v2
	// PROXY over TCP4/TCP6, and are the zero AddrPort otherwise (v1 UNKNOWN,
	// v2 LOCAL, UNSPEC and UNIX), when the connection's own peer stands for
	// the client. An IPv4-mapped IPv6 address is returned as sent.
	Source, Dest netip.AddrPort
}

// Bounds.
const (
	// MaxV1Len is the longest v1 line, CRLF included, that the
	// specification allows ("PROXY UNKNOWN" with two full-length IPv6
	// addresses and ports).
	MaxV1Len = 107
	// MaxV2Len is the longest v2 header accepted: the 16 fixed bytes and up
	// to 1008 of addresses and TLVs. The specification bounds it only by
	// its 16-bit length; 1 KiB holds the largest address block (UNIX, 216
	// bytes) with the TLVs load balancers send (unique ID, TLS facts,
	// cloud endpoint IDs) several times over.
	MaxV2Len = 1024
)

// ErrNeedMore is returned by Parse when src is a valid but incomplete
// header (or empty): read more and call again with the grown buffer.
var ErrNeedMore = errors.New("proxyproto: need more data")

// Rejections. Each says when it occurs; on every one the connection is to be
// closed.
var (
	// ErrNoHeader: src starts with neither "PROXY " nor the v2 signature
	// (the connection sends something else, such as an HTTP request).
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
	// ErrV1TooLong: a v1 header has no CRLF within its first MaxV1Len bytes.
	ErrV1TooLong = errors.New("proxyproto: v1 line too long")
	// ErrV1Line: a v1 line does not follow the grammar (see the package
	// documentation): unknown protocol, bad address or port, wrong spacing,
	// bare LF.
	ErrV1Line = errors.New("proxyproto: malformed v1 line")
	// ErrV2Command: a v2 header's version is not 2, or its command is
	// neither LOCAL nor PROXY.
	ErrV2Command = errors.New("proxyproto: unsupported v2 version or command")
	// ErrV2Family: a v2 PROXY header's family/transport byte is unassigned,
	// or names a datagram transport.
	ErrV2Family = errors.New("proxyproto: unsupported v2 address family or transport")
	// ErrV2TooLong: a v2 header's length makes it longer than MaxV2Len.
	ErrV2TooLong = errors.New("proxyproto: v2 header too long")
	// ErrV2Address: a v2 PROXY header's length is shorter than its family's
	// addresses.
	ErrV2Address = errors.New("proxyproto: v2 addresses truncated")
	// ErrV2TLV: the TLVs of a v2 PROXY header do not fill the rest of its
	// length exactly.
	ErrV2TLV = errors.New("proxyproto: malformed v2 TLV")
)

// v1Prefix starts every v1 header; v2Sig every v2 header.
const (
	v1Prefix = "PROXY "
	v2Sig    = "\r\n\r\n\x00\r\nQUIT\n"
	v2Fixed  = 16 // signature, version/command, family, length
)

// Parse parses the PROXY protocol header at the start of src into h and
// returns the bytes it takes; the bytes after it are the connection's own.
// On an error n is 0 and h is the zero Header. It allocates nothing and
// keeps no reference to src.
func Parse(src []byte, h *Header) (n int, err error) {
	*h = Header{}
	if len(src) == 0 {
		return 0, ErrNeedMore
	}
	switch src[0] {
	case v1Prefix[0]:
		n, err = parseV1(src, h)
	case v2Sig[0]:
		n, err = parseV2(src, h)
	default:
		return 0, ErrNoHeader
	}
	if err != nil {
		*h = Header{}
		return 0, err
	}
	return n, nil
}

// hasPrefixSoFar reports whether src and p agree on their common length:
// src may still become p followed by more.
func hasPrefixSoFar(src []byte, p string) bool {
	k := min(len(src), len(p))
	return string(src[:k]) == p[:k]
}

func parseV1(src []byte, h *Header) (int, error) {
	if !hasPrefixSoFar(src, v1Prefix) {
		return 0, ErrNoHeader
	}
	win := src[:min(len(src), MaxV1Len)]
	lf := bytes.IndexByte(win, '\n')
	if lf < 0 {
		if len(src) >= MaxV1Len {
			return 0, ErrV1TooLong
		}
		return 0, ErrNeedMore
	}
	if lf < len(v1Prefix)+1 || src[lf-1] != '\r' {
		return 0, ErrV1Line // a bare LF, or "PROXY\r\n"-short
	}
	line := src[len(v1Prefix) : lf-1]
	h.Version = 1
	proto, rest, _ := cut(line)
	switch string(proto) {
	case "UNKNOWN":
		// "The receiver must ignore anything presented before the CRLF."
		return lf + 1, nil
	case "TCP4", "TCP6":
	default:
		return 0, ErrV1Line
	}
	v6 := proto[3] == '6'
	srcA, rest, ok1 := cut(rest)
	dstA, rest, ok2 := cut(rest)
	srcP, dstP, ok3 := cut(rest)
	if !ok1 || !ok2 || !ok3 {
		return 0, ErrV1Line
	}
	sa, ok1 := parseIP(srcA, v6)
	da, ok2 := parseIP(dstA, v6)
	sp, ok3 := parsePort(srcP)
	dp, ok4 := parsePort(dstP)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, ErrV1Line
	}
	h.Source = netip.AddrPortFrom(sa, sp)
	h.Dest = netip.AddrPortFrom(da, dp)
	return lf + 1, nil
}

// cut splits s at its first space; ok is false when there is none.
func cut(s []byte) (before, after []byte, ok bool) {
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, nil, false
}

func parseIP(s []byte, v6 bool) (netip.Addr, bool) {
	if v6 {
		return parseIPv6(s)
	}
	return parseIPv4(s)
}

// Address block sizes of the v2 families.
const (
	v2Inet  = 4 + 4 + 2 + 2
	v2Inet6 = 16 + 16 + 2 + 2
	v2Unix  = 108 + 108
)

func parseV2(src []byte, h *Header) (int, error) {
	if !hasPrefixSoFar(src, v2Sig) {
		return 0, ErrNoHeader
	}
	if len(src) > 12 {
		if vc := src[12]; vc>>4 != 2 || vc&0xf > 1 {
			return 0, ErrV2Command
		}
	}
	local := len(src) > 12 && src[12]&0xf == 0
	if len(src) > 13 && !local {
		switch src[13] {
		case 0x00, 0x11, 0x21, 0x31:
		default:
			return 0, ErrV2Family
		}
	}
	if len(src) < v2Fixed {
		return 0, ErrNeedMore
	}
	total := v2Fixed + int(binary.BigEndian.Uint16(src[14:16]))
	if total > MaxV2Len {
		return 0, ErrV2TooLong
	}
	if len(src) < total {
		return 0, ErrNeedMore
	}
	h.Version = 2
	if local {
		h.Local = true
		return total, nil
	}
	body := src[v2Fixed:total]
	var addrs int
	switch src[13] {
	case 0x00:
		return total, nil // UNSPEC: "the receiver should ignore address information"
	case 0x11:
		addrs = v2Inet
	case 0x21:
		addrs = v2Inet6
	case 0x31:
		addrs = v2Unix
	}
	if len(body) < addrs {
		return 0, ErrV2Address
	}
	if !tlvsFit(body[addrs:]) {
		return 0, ErrV2TLV
	}
	switch addrs {
	case v2Inet:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case v2Inet6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
	}
	return total, nil
}

// tlvsFit reports whether b is a sequence of whole TLVs: a type byte, a
// 16-bit big-endian length and that many value bytes, each. At most
// MaxV2Len/3 of them.
func tlvsFit(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 3 {
			return false
		}
		n := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return true
}
