package pagerecord

import (
	"fmt"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// page10K is the 10 KB HTML page the benchmarks use.
var page10K = testHTML(10 << 10)

func BenchmarkDecode(b *testing.B) {
	rec := AppendRecord(nil, &Record{Status: 200, Encoding: Gzip, StoredAt: 1700000000, TTL: 300,
		Header: []byte(sampleHeader), Body: AppendGzip(nil, page10K)})
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	var r Record
	for b.Loop() {
		if err := Decode(rec, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	r := Record{Header: []byte(sampleHeader)}
	b.ReportAllocs()
	for b.Loop() {
		if r.Lookup("vary") == nil {
			b.Fatal("missing")
		}
	}
}

func BenchmarkAppendGzip(b *testing.B) {
	dst := make([]byte, 0, len(page10K))
	b.ReportAllocs()
	b.SetBytes(int64(len(page10K)))
	var n int
	for b.Loop() {
		n = len(AppendGzip(dst[:0], page10K))
	}
	b.ReportMetric(float64(n), "out-bytes")
}

func BenchmarkAppendDecoded(b *testing.B) {
	for enc := Identity; enc <= Zstd; enc++ {
		in := encoders[enc](b, page10K)
		if enc == Gzip {
			in = AppendGzip(nil, page10K)
		}
		b.Run(enc.String(), func(b *testing.B) {
			dst := make([]byte, 0, len(page10K)+1)
			b.ReportAllocs()
			b.SetBytes(int64(len(page10K)))
			for b.Loop() {
				if _, err := AppendDecoded(dst[:0], in, enc, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGzipLevels measures the level choice behind gzipLevel: time per
// 10 KB page and the compressed size ("out-bytes") at each level.
func BenchmarkGzipLevels(b *testing.B) {
	for _, level := range []int{1, 3, 5, 6, 7, 9} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var sink sliceWriter
			zw, err := gzip.NewWriterLevel(&sink, level)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(page10K)))
			for b.Loop() {
				sink.b = sink.b[:0]
				zw.Reset(&sink)
				_, _ = zw.Write(page10K)
				_ = zw.Close()
			}
			b.ReportMetric(float64(len(sink.b)), "out-bytes")
		})
	}
}
