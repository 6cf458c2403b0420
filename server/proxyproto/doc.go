// Package proxyproto parses the PROXY protocol header (HAProxy's
// proxy-protocol.txt, versions 1 and 2) that a load balancer in front of
// mcpage sends as the first bytes of each connection to say whom the
// connection is really from. Parse takes the bytes received so far and tells
// three outcomes apart: a complete header (with the bytes it took), a valid
// prefix of one (ErrNeedMore: read more and call again with the grown
// buffer), and bytes that are not a header or a malformed one (any other
// error: the connection must be closed, as the specification requires).
// Nothing is copied and nothing allocates.
//
// # Accepted grammar
//
// Version 1, one line of at most MaxV1Len bytes:
//
//	line   = "PROXY" SP ( tcp / unknown ) CRLF
//	tcp    = "TCP4" SP ipv4 SP ipv4 SP port SP port
//	       / "TCP6" SP ipv6 SP ipv6 SP port SP port
//	unknown = "UNKNOWN" [ SP *( any byte but LF ) ]  ; the rest of the line is ignored
//	ipv4   = dec-octet 3( "." dec-octet )             ; 0-255, no leading zeros
//	ipv6   = RFC 4291 text: 1-4 hex digits per group, one "::" at most,
//	         an embedded ipv4 in the last 32 bits; no zone
//	port   = "0" / %x31-39 0*4DIGIT                   ; at most 65535, no leading zeros
//
// Exactly one space separates fields, and the line ends in CRLF only.
//
// Version 2, binary: the 12-byte signature "\r\n\r\n\x00\r\nQUIT\n", a byte
// with version 2 in its high nibble and the command in its low one (0 LOCAL,
// 1 PROXY), a byte with the address family and transport, and the length of
// what follows as a 16-bit big-endian number:
//
//	family/transport  addresses                     Header.Source
//	0x11 TCP4         4+4 address, 2+2 port bytes    the client's address and port
//	0x21 TCP6         16+16 address, 2+2 port bytes  the client's address and port
//	0x31 UNIX stream  108+108 path bytes             none (the client is on the proxy's host)
//	0x00 UNSPEC       ignored                        none
//
// The addresses are followed by TLVs (type, 16-bit big-endian length,
// value), which are skipped, but must fill the rest of the length exactly. A
// LOCAL header (the proxy's own connection, a health check) is accepted
// whatever its family byte and contents say, which the specification tells
// receivers to ignore; it has no Source. The whole header is at most
// MaxV2Len bytes.
//
// # Rejections
//
//	ErrNoHeader    the bytes start with neither "PROXY " nor the v2 signature (plain HTTP, say)
//	ErrV1TooLong   no CRLF within the first MaxV1Len bytes of a v1 header
//	ErrV1Line      a v1 line that does not follow the grammar: unknown protocol, bad or
//	               mismatched address, port over 65535 or with a leading zero, a doubled
//	               or missing space, a bare LF, a CR inside a TCP4/TCP6 line
//	ErrV2Command   version other than 2, or a command other than LOCAL and PROXY
//	ErrV2Family    PROXY with a family/transport byte not in the table above: unassigned
//	               values (which the specification says receivers must reject) and the
//	               datagram transports (UDP, UNIX dgram), which cannot be a client of an HTTP
//	               server
//	ErrV2TooLong   the length announces a header over MaxV2Len bytes
//	ErrV2Address   the length is shorter than the family's addresses
//	ErrV2TLV       the TLVs do not fill the rest of the header exactly (one runs past it, or
//	               1 or 2 bytes are left over)
//
// Feeding a longer prefix of the same bytes never turns a rejection into
// something else, and a header is never accepted before its last byte: the
// first byte that cannot belong to a valid header decides, as soon as it is
// there, except inside a v1 line, which is judged when its CRLF arrives (or
// at MaxV1Len bytes without one).
//
// # Concurrency
//
// Parse is a pure function of its arguments and may run on any goroutine;
// the sentinel errors are read-only.
package proxyproto
