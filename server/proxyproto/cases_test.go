package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// The test messages: every valid and malformed header the tests, the
// every-prefix test and the fuzz seeds share.

type validCase struct {
	name string
	raw  string
	want Header
}

type malformedCase struct {
	name string
	raw  string
	want error
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// v2 builds a v2 header: version/command byte, family byte, then body
// (addresses and TLVs), with the length filled in.
func v2(verCmd, fam byte, body ...[]byte) string {
	var b []byte
	b = append(b, v2Sig...)
	b = append(b, verCmd, fam, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-v2Fixed))
	return string(b)
}

// tlv is one TLV: type, length, value.
func tlv(typ byte, val string) []byte {
	b := []byte{typ, byte(len(val) >> 8), byte(len(val))}
	return append(b, val...)
}

func inet(src, dst string, sp, dp uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sp), dp)
}

func inet6(src, dst string, sp, dp uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sp), dp)
}

var (
	ffff6      = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
	unknown107 = "PROXY UNKNOWN " + ffff6 + " " + ffff6 + " 65535 65535\r\n"
	// An SSL TLV (0x20) with sub-TLVs: client bits, verify, version, CN.
	sslTLV    = tlv(0x20, "\x07\x00\x00\x00\x00"+string(tlv(0x21, "TLSv1.3"))+string(tlv(0x22, "client.example")))
	unixAddrs = []byte(strings.Repeat("/run/a.sock\x00", 9) + strings.Repeat("\x00", 108-9*12) +
		strings.Repeat("\x00", 108))
)

var validCases = []validCase{
	{"v1 tcp4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		Header{Version: 1, Source: ap("192.168.0.1:56324"), Dest: ap("192.168.0.11:443")}},
	{"v1 tcp4 extremes", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
		Header{Version: 1, Source: ap("0.0.0.0:0"), Dest: ap("255.255.255.255:65535")}},
	{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 65535 80\r\n",
		Header{Version: 1, Source: ap("[2001:db8::1]:65535"), Dest: ap("[2001:db8::2]:80")}},
	{"v1 tcp6 longest", "PROXY TCP6 " + ffff6 + " " + ffff6 + " 65535 65535\r\n",
		Header{Version: 1, Source: ap("[" + ffff6 + "]:65535"), Dest: ap("[" + ffff6 + "]:65535")}},
	{"v1 tcp6 mapped and embedded v4", "PROXY TCP6 ::ffff:192.0.2.7 64:ff9b::198.51.100.1 1 2\r\n",
		Header{Version: 1, Source: ap("[::ffff:192.0.2.7]:1"), Dest: ap("[64:ff9b::c633:6401]:2")}},
	{"v1 tcp6 unspecified and loopback", "PROXY TCP6 :: ::1 10 20\r\n",
		Header{Version: 1, Source: ap("[::]:10"), Dest: ap("[::1]:20")}},
	{"v1 tcp6 trailing ellipsis", "PROXY TCP6 fe80:: 1:2:3:4:5:6:7:8 10 20\r\n",
		Header{Version: 1, Source: ap("[fe80::]:10"), Dest: ap("[1:2:3:4:5:6:7:8]:20")}},
	{"v1 unknown short", "PROXY UNKNOWN\r\n", Header{Version: 1}},
	{"v1 unknown longest", unknown107, Header{Version: 1}},
	{"v1 unknown with anything", "PROXY UNKNOWN what\rever \x00\r\n", Header{Version: 1}},

	{"v2 proxy tcp4", v2(0x21, 0x11, inet("203.0.113.9", "192.0.2.1", 51234, 8080)),
		Header{Version: 2, Source: ap("203.0.113.9:51234"), Dest: ap("192.0.2.1:8080")}},
	{"v2 proxy tcp4 tlvs", v2(0x21, 0x11, inet("10.1.2.3", "10.0.0.1", 1, 443),
		tlv(0x01, "h2"), tlv(0x02, "www.example.com"), tlv(0x05, strings.Repeat("u", 128)), sslTLV,
		tlv(0x04, ""), tlv(0xEA, "\x01vpce-0123456789abcdef0")),
		Header{Version: 2, Source: ap("10.1.2.3:1"), Dest: ap("10.0.0.1:443")}},
	{"v2 proxy tcp6", v2(0x21, 0x21, inet6("2001:db8::7", "2001:db8::1", 40000, 80)),
		Header{Version: 2, Source: ap("[2001:db8::7]:40000"), Dest: ap("[2001:db8::1]:80")}},
	{"v2 proxy tcp6 tlv", v2(0x21, 0x21, inet6("::ffff:198.51.100.4", "::1", 5, 6), tlv(0x03, "\x01\x02\x03\x04")),
		Header{Version: 2, Source: ap("[::ffff:198.51.100.4]:5"), Dest: ap("[::1]:6")}},
	{"v2 local", v2(0x20, 0x00), Header{Version: 2, Local: true}},
	{"v2 local ignores its block", v2(0x20, 0x12, []byte("\xff\xff\xff")), Header{Version: 2, Local: true}},
	{"v2 proxy unspec", v2(0x21, 0x00, []byte("ignored")), Header{Version: 2}},
	{"v2 proxy unix stream", v2(0x21, 0x31, unixAddrs, tlv(0x04, "pad")), Header{Version: 2}},
	{"v2 longest", v2(0x21, 0x11, inet("192.0.2.200", "192.0.2.1", 9, 9), tlv(0x04, strings.Repeat("\x00", MaxV2Len-v2Fixed-v2Inet-3))),
		Header{Version: 2, Source: ap("192.0.2.200:9"), Dest: ap("192.0.2.1:9")}},
}

var malformedCases = []malformedCase{
	{"http request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrNoHeader},
	{"http after crlf", "\r\nGET / HTTP/1.1\r\n\r\n", ErrNoHeader},
	{"post", "POST / HTTP/1.1\r\n\r\n", ErrNoHeader},
	{"proxy lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrNoHeader},
	{"proxy tab", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrNoHeader},
	{"v2 signature broken", "\r\n\r\n\x00\r\nQUIT\r", ErrNoHeader},

	{"v1 method-like", "PROXY / HTTP/1.1\r\nHost: a\r\n\r\n", ErrV1Line},
	{"v1 tcp5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", ErrV1Line},
	{"v1 empty", "PROXY \r\n", ErrV1Line},
	{"v1 bare lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ErrV1Line},
	{"v1 unknown bare lf", "PROXY UNKNOWN\n", ErrV1Line},
	{"v1 prefix bare lf", "PROXY \n", ErrV1Line},
	{"v1 cr inside", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", ErrV1Line},
	{"v1 unknownx", "PROXY UNKNOWNX\r\n", ErrV1Line},
	{"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ErrV1Line},
	{"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", ErrV1Line},
	{"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", ErrV1Line},
	{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", ErrV1Line},
	{"v1 leading zero octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", ErrV1Line},
	{"v1 octet 256", "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", ErrV1Line},
	{"v1 three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", ErrV1Line},
	{"v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", ErrV1Line},
	{"v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", ErrV1Line},
	{"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", ErrV1Line},
	{"v1 v6 in tcp4", "PROXY TCP4 ::1 ::1 1 2\r\n", ErrV1Line},
	{"v1 v4 in tcp6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ErrV1Line},
	{"v1 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", ErrV1Line},
	{"v1 double ellipsis", "PROXY TCP6 1::2::3 ::1 1 2\r\n", ErrV1Line},
	{"v1 ellipsis for nothing", "PROXY TCP6 1:2:3:4::5:6:7:8 ::1 1 2\r\n", ErrV1Line},
	{"v1 five hex digits", "PROXY TCP6 00001::1 ::1 1 2\r\n", ErrV1Line},
	{"v1 seven groups", "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", ErrV1Line},
	{"v1 nine groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", ErrV1Line},
	{"v1 bracketed", "PROXY TCP6 [::1] ::1 1 2\r\n", ErrV1Line},
	{"v1 embedded v4 early", "PROXY TCP6 1.2.3.4::1 ::1 1 2\r\n", ErrV1Line},
	{"v1 no crlf", "PROXY UNKNOWN " + strings.Repeat("x", MaxV1Len), ErrV1TooLong},
	{"v1 one over", strings.TrimSuffix(unknown107, "\r\n") + "f\r\n", ErrV1TooLong},

	{"v2 version 1", v2(0x11, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Command},
	{"v2 version 3", v2(0x31, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Command},
	{"v2 command 2", v2(0x22, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Command},
	{"v2 udp4", v2(0x21, 0x12, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Family},
	{"v2 udp6", v2(0x21, 0x22, inet6("::1", "::1", 1, 2)), ErrV2Family},
	{"v2 unix dgram", v2(0x21, 0x32, unixAddrs), ErrV2Family},
	{"v2 family 4", v2(0x21, 0x41, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Family},
	{"v2 transport 3", v2(0x21, 0x13, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Family},
	{"v2 too long", v2(0x21, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2), tlv(0x04, strings.Repeat("\x00", MaxV2Len-v2Fixed-v2Inet-2))), ErrV2TooLong},
	{"v2 longest length", v2Sig + "\x21\x11\xff\xff", ErrV2TooLong},
	{"v2 tcp4 short", v2(0x21, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2)[:11]), ErrV2Address},
	{"v2 tcp6 short", v2(0x21, 0x21, inet("1.2.3.4", "5.6.7.8", 1, 2)), ErrV2Address},
	{"v2 unix short", v2(0x21, 0x31, unixAddrs[:200]), ErrV2Address},
	{"v2 stray byte", v2(0x21, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2), []byte{0x04}), ErrV2TLV},
	{"v2 tlv overruns", v2(0x21, 0x11, inet("1.2.3.4", "5.6.7.8", 1, 2), tlv(0x01, "h2")[:4]), ErrV2TLV},
	{"v2 second tlv short", v2(0x21, 0x21, inet6("::1", "::1", 1, 2), tlv(0x01, "h2"), []byte{0x02, 0x00}), ErrV2TLV},
}
