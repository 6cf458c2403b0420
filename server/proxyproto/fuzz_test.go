package proxyproto

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
)

// Fuzz targets. Seed corpora live in testdata/fuzz/<FuzzName>/ and are run
// by every `go test`; `make fuzz` explores further.

// FuzzParse checks what holds for every input: no panic; n within bounds and
// the header's version; a success re-encodes to a header that parses the
// same; and the verdict stable as the buffer grows (a shorter prefix needs
// more or fails the same way, bytes after a header change nothing).
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Header
		n, err := Parse(data, &h)
		end := len(data) // the prefixes that must not be accepted: shorter than the header
		if err == nil {
			end = n
		}
		for _, k := range []int{0, end / 3, end / 2, end - 1} {
			if k < 0 || k >= end {
				continue
			}
			var h2 Header
			n2, e2 := Parse(data[:k], &h2)
			if n2 != 0 || (e2 != ErrNeedMore && (err == nil || e2 != err)) {
				t.Fatalf("prefix %d: n=%d %v; whole: n=%d %v", k, n2, e2, n, err)
			}
		}
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("n=%d header %+v with %v", n, h, err)
			}
			return
		}
		switch {
		case n <= 0 || n > len(data):
			t.Fatalf("n=%d of %d bytes", n, len(data))
		case h.Version == 1 && (n > MaxV1Len || data[0] != 'P' || !bytes.HasSuffix(data[:n], []byte("\r\n"))):
			t.Fatalf("v1 header of %d bytes: %q", n, data[:n])
		case h.Version == 2 && (n > MaxV2Len || data[0] != '\r' || h.Local != (data[12] == 0x20)):
			t.Fatalf("v2 header of %d bytes: %+v", n, h)
		case h.Version != 1 && h.Version != 2:
			t.Fatalf("version %d", h.Version)
		case h.Source.IsValid() != h.Dest.IsValid() || h.Local && h.Source.IsValid():
			t.Fatalf("addresses %+v", h)
		}
		var h2 Header
		if n2, e2 := Parse(append(data[:n:n], "GET / HTTP/1.1\r\n"...), &h2); n2 != n || e2 != nil || h2 != h {
			t.Fatalf("with bytes after it: n=%d %v %+v; alone: n=%d %+v", n2, e2, h2, n, h)
		}
		if !h.Source.IsValid() {
			return
		}
		// The addresses, written out again in each version, parse the same.
		var b []byte
		if h.Version == 1 {
			proto := "TCP6 "
			if h.Source.Addr().Is4() {
				proto = "TCP4 "
			}
			b = []byte(v1Prefix + proto + h.Source.Addr().String() + " " + h.Dest.Addr().String() + " " +
				strconv.Itoa(int(h.Source.Port())) + " " + strconv.Itoa(int(h.Dest.Port())) + "\r\n")
		} else {
			fam, sa, da := byte(0x11), h.Source.Addr().AsSlice(), h.Dest.Addr().AsSlice()
			if len(sa) == 16 {
				fam = 0x21
			}
			b = append(b, v2Sig...)
			b = append(b, 0x21, fam, 0, byte(2*len(sa)+4))
			b = append(b, sa...)
			b = append(b, da...)
			b = binary.BigEndian.AppendUint16(b, h.Source.Port())
			b = binary.BigEndian.AppendUint16(b, h.Dest.Port())
		}
		var h3 Header
		if n3, e3 := Parse(b, &h3); n3 != len(b) || e3 != nil || h3 != h {
			t.Fatalf("re-encoded %q: n=%d %v %+v; first %+v", b, n3, e3, h3, h)
		}
	})
}

// FuzzAddrText holds the v1 address parsers to net/netip: both accept the
// same texts (netip's zones aside, which v1 lines cannot carry) and read the
// same address.
func FuzzAddrText(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::ffff:1.2.3.4", "2001:db8::1", "1:2:3:4:5:6:7:8", "01.1.1.1", "::", "1::"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAddrText(t, b) })
}
