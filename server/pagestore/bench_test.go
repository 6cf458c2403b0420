package pagestore

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEmbeddedGet: parallel hits on 1000 pages of 10 KB, through the
// whole Get path (hash, lookup, key check, callback).
func BenchmarkEmbeddedGet(b *testing.B) {
	e, err := NewEmbedded(EmbeddedConfig{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const n = 1000
	keys := make([][]byte, n)
	rec := make([]byte, 10<<10)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("GET http://example.com/articles/%d?page=2", i))
		e.Set(keys[i], rec, time.Hour)
	}
	var seed atomic.Uint64
	var misses atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := seed.Add(0x9e3779b97f4a7c15) | 1
		var h nopHandler
		calls := 0
		for pb.Next() {
			e.Get(keys[xorshift(&x)%n], &h, 0)
			calls++
		}
		misses.Add(int64(calls - h.hits))
	})
	if m := misses.Load(); m != 0 {
		b.Fatalf("%d misses", m)
	}
}

// BenchmarkEmbeddedSet: Sets of 10 KB pages over a 4 MiB store (constant
// eviction); one entry and one key copy per Set.
func BenchmarkEmbeddedSet(b *testing.B) {
	e, err := NewEmbedded(EmbeddedConfig{MaxBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("GET http://example.com/articles/%d", i))
	}
	rec := make([]byte, 10<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Set(keys[i%len(keys)], rec, time.Hour)
	}
}
