package httpparse

import (
	"strings"
	"testing"
)

// chunkedPost is a chunked upload body as a client streams it: a few chunks
// of different sizes, an extension and a trailer.
var chunkedPost = "400\r\n" + strings.Repeat("a", 1024) + "\r\n1f4;sig=abc\r\n" + strings.Repeat("b", 500) +
	"\r\n10\r\n" + strings.Repeat("c", 16) + "\r\n0\r\nX-Checksum: 1234\r\n\r\n"

func TestParseHeadZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race")
	}
	var req Request
	buf := []byte(browserHead)
	if len(buf) < 500 || strings.Count(browserHead, "\r\n") < 13 {
		t.Fatalf("browser request is %d bytes, %d lines: not typical", len(buf), strings.Count(browserHead, "\r\n"))
	}
	for _, tc := range []struct {
		name string
		buf  []byte
	}{
		{"browser", buf},
		{"absolute-form", []byte("GET http://[::1]:8080/p HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"need-more", buf[:300]},
		{"rejected", []byte("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n")},
	} {
		if a := testing.AllocsPerRun(200, func() { _, _ = ParseHead(tc.buf, &req, nil) }); a != 0 {
			t.Errorf("ParseHead(%s) allocates %v times", tc.name, a)
		}
	}
}

func TestChunkedDecodeZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race")
	}
	var d ChunkedDecoder
	src := []byte(chunkedPost)
	dst := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(200, func() {
		d.Reset(nil)
		if _, n, done, err := d.Decode(dst[:0], src); !done || err != nil || n != len(src) {
			t.Fatal(n, done, err)
		}
	}); a != 0 {
		t.Errorf("Decode allocates %v times", a)
	}
}

func TestAppendErrorResponseZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race")
	}
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(200, func() { _ = AppendErrorResponse(dst[:0], ErrHeaderTooLarge) }); a != 0 {
		t.Errorf("AppendErrorResponse allocates %v times", a)
	}
}
