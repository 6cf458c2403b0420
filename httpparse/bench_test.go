package httpparse

import "testing"

func BenchmarkParseHead(b *testing.B) {
	var req Request
	buf := []byte(browserHead)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseHead(buf, &req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseHeadMinimal is the floor: a request line and Host.
func BenchmarkParseHeadMinimal(b *testing.B) {
	var req Request
	buf := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseHead(buf, &req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	var d ChunkedDecoder
	src := []byte(chunkedPost)
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		d.Reset(nil)
		if _, _, done, err := d.Decode(dst[:0], src); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}
