package proxyproto

import (
	"net/netip"
	"testing"
)

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		var h Header
		n, err := Parse([]byte(tc.raw), &h)
		if err != nil || n != len(tc.raw) || h != tc.want {
			t.Errorf("%s: n=%d err=%v header %+v; want n=%d, %+v", tc.name, n, err, h, len(tc.raw), tc.want)
		}
		if tc.want.Version == 1 && len(tc.raw) > MaxV1Len || len(tc.raw) > MaxV2Len {
			t.Errorf("%s: %d bytes, over the bound", tc.name, len(tc.raw))
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range malformedCases {
		h := Header{Version: 9, Local: true}
		n, err := Parse([]byte(tc.raw), &h)
		if err != tc.want || n != 0 || h != (Header{}) {
			t.Errorf("%s: n=%d err=%v header %+v; want %v", tc.name, n, err, h, tc.want)
		}
	}
}

// TestParseEveryPrefix feeds every test message cut at every byte, as a
// connection's buffer grows: no proper prefix of a header is accepted, a
// prefix may only need more or fail the way the whole message fails, and
// once a prefix has failed every longer one fails the same way.
func TestParseEveryPrefix(t *testing.T) {
	type msg struct {
		name, raw string
		want      error
	}
	var msgs []msg
	for _, tc := range validCases {
		msgs = append(msgs, msg{tc.name, tc.raw, nil})
	}
	for _, tc := range malformedCases {
		msgs = append(msgs, msg{tc.name, tc.raw, tc.want})
	}
	var h Header
	for _, m := range msgs {
		sawErr := false
		for i := 0; i < len(m.raw); i++ {
			n, err := Parse([]byte(m.raw[:i]), &h)
			switch {
			case err == nil:
				t.Fatalf("%s: prefix of %d bytes parsed (n=%d)", m.name, i, n)
			case err == ErrNeedMore:
				if sawErr {
					t.Fatalf("%s: prefix of %d bytes needs more after a shorter one failed", m.name, i)
				}
			case err != m.want:
				t.Fatalf("%s: prefix of %d bytes: %v, the whole message: %v", m.name, i, err, m.want)
			default:
				sawErr = true
			}
			if n != 0 {
				t.Fatalf("%s: prefix of %d bytes: n=%d with %v", m.name, i, n, err)
			}
		}
	}
}

// TestParseLeavesWhatFollows: a header followed by the connection's own
// bytes (a request, in one read) takes only its own, and those bytes do not
// change the verdict on a malformed one.
func TestParseLeavesWhatFollows(t *testing.T) {
	const after = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, tc := range validCases {
		var h Header
		n, err := Parse([]byte(tc.raw+after), &h)
		if err != nil || n != len(tc.raw) || h != tc.want {
			t.Errorf("%s: n=%d err=%v header %+v; want n=%d", tc.name, n, err, h, len(tc.raw))
		}
	}
	for _, tc := range malformedCases {
		var h Header
		if _, err := Parse([]byte(tc.raw+after), &h); err != tc.want {
			t.Errorf("%s: %v with bytes after it, %v without", tc.name, err, tc.want)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race")
	}
	var h Header
	for _, tc := range validCases {
		buf := []byte(tc.raw)
		if a := testing.AllocsPerRun(100, func() { _, _ = Parse(buf, &h) }); a != 0 {
			t.Errorf("Parse(%s) allocates %v times", tc.name, a)
		}
	}
	for _, tc := range malformedCases {
		buf := []byte(tc.raw)
		if a := testing.AllocsPerRun(100, func() { _, _ = Parse(buf, &h) }); a != 0 {
			t.Errorf("Parse(%s) allocates %v times", tc.name, a)
		}
	}
}

// TestAddrTextAgreesWithNetip checks the v1 address parsers against
// net/netip on forms that differ in small ways; FuzzAddrText explores more.
func TestAddrTextAgreesWithNetip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "255.255.255.255", "1.2.3.4", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "256.1.1.1",
		"1..2.3", ".1.2.3", "1.2.3.4.", "1.2.3.-4", "0x1.2.3.4", "",
		"::", "::1", "1::", "1::2", "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
		"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::", ":::", "1:::2", "1:", ":1",
		"12345::", "abcd:ABCD::EF01", "g::", "fe80::1%eth0", "1::2::3", "::ffff:01.2.3.4", "1.2.3.4::", ":",
		"0:0:0:0:0:0:0:0", "0000:0000:0000:0000:0000:0000:0000:0000", "::0000", "1:2:3:4:5:6:7:8:9",
	} {
		checkAddrText(t, []byte(s))
	}
}

func checkAddrText(t *testing.T, b []byte) {
	t.Helper()
	want, err := netip.ParseAddr(string(b))
	ok4, ok6 := err == nil && want.Is4(), err == nil && want.Is6() && want.Zone() == ""
	if got, ok := parseIPv4(b); ok != ok4 || ok && got != want {
		t.Errorf("parseIPv4(%q) = %v, %v; netip: %v, %v", b, got, ok, want, err)
	}
	if got, ok := parseIPv6(b); ok != ok6 || ok && got != want {
		t.Errorf("parseIPv6(%q) = %v, %v; netip: %v, %v", b, got, ok, want, err)
	}
}
