package cachepolicy

import (
	"testing"
	"time"
)

// benchFields is a typical origin response head.
var benchFields = [][2][]byte{
	{[]byte("Content-Type"), []byte("text/html; charset=utf-8")},
	{[]byte("Date"), []byte("Fri, 02 Jan 2026 03:04:05 GMT")},
	{[]byte("Last-Modified"), []byte("Thu, 01 Jan 2026 03:04:05 GMT")},
	{[]byte("ETag"), []byte(`"5f2a-1234"`)},
	{[]byte("Cache-Control"), []byte("public, max-age=300, stale-while-revalidate=30")},
	{[]byte("Vary"), []byte("Accept-Encoding")},
	{[]byte("Content-Length"), []byte("12345")},
}

func benchObserveDecide(b *testing.B, extra [2][]byte) {
	rules := Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour}
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(200)
		for _, f := range benchFields {
			r.Observe(f[0], f[1])
		}
		if extra[0] != nil {
			r.Observe(extra[0], extra[1])
		}
		if d := rules.Decide(&r, now); !d.Store {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkDecide: Reset, Observe a seven-field head, Decide.
func BenchmarkDecide(b *testing.B) {
	b.Run("cache-control", func(b *testing.B) { benchObserveDecide(b, [2][]byte{}) })
	b.Run("cdn-cache-control", func(b *testing.B) {
		benchObserveDecide(b, [2][]byte{[]byte("CDN-Cache-Control"), []byte("max-age=600, stale-if-error=3600")})
	})
}

func BenchmarkAcceptsEncoding(b *testing.B) {
	for _, bc := range []struct{ name, ae string }{
		{"chrome", "gzip, deflate, br, zstd"},
		{"qvalues", "br;q=1.0, gzip;q=0.8, *;q=0.1"},
	} {
		ae := []byte(bc.ae)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ae)))
			for b.Loop() {
				if !AcceptsEncoding(ae, "gzip") {
					b.Fatal("gzip refused")
				}
			}
		})
	}
}

func BenchmarkAppendKey(b *testing.B) {
	host := []byte("www.example.test")
	for _, bc := range []struct{ name, target string }{
		{"plain", "/blog/2026/01/some-article?utm_source=x"},
		{"digest", "/search?q=caf\xc3\xa9 au lait"},
	} {
		target, dst := []byte(bc.target), make([]byte, 0, 512)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(host) + len(target)))
			for b.Loop() {
				dst = AppendKey(dst[:0], []byte("mcp:"), host, target)
			}
		})
	}
}

func BenchmarkNotModified(b *testing.B) {
	inm, etag := []byte(`"a", "b", W/"5f2a-1234"`), []byte(`"5f2a-1234"`)
	ims, lm := []byte("Fri, 02 Jan 2026 03:04:05 GMT"), []byte("Thu, 01 Jan 2026 03:04:05 GMT")
	b.Run("etag", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NotModified(inm, nil, etag, nil)
		}
	})
	b.Run("date", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NotModified(nil, ims, nil, lm)
		}
	})
}
