package pagestore

// The benchmarks behind the choice of cache library for Embedded (see the
// comment on the Embedded type for the numbers and the verdict). Each
// candidate is driven through the same small adapter, keyed by uint64 as
// Embedded keys it, with *entry values of 10 KB records.
//
//	go test -run '^$' -bench Choice -benchtime 20000x ./server/pagestore/

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"
)

// candidate is the part of a cache library the comparison needs.
type candidate interface {
	set(k uint64, v *entry, cost int64, ttl time.Duration)
	get(k uint64) (*entry, bool)
	settle()     // let asynchronous work finish (ristretto's Wait, otter's CleanUp)
	used() int64 // bytes the library accounts as held
	close()
}

type otterCand struct{ c *otter.Cache[uint64, *entry] }

func newOtterCand(maxBytes int64, sync bool) candidate {
	o := &otter.Options[uint64, *entry]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          func(_ uint64, v *entry) uint32 { return uint32(v.weight) },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[uint64, *entry]) time.Duration { return e.Value.ttl }),
	}
	if sync {
		o.Executor = func(fn func()) { fn() }
	}
	return otterCand{otter.Must(o)}
}

func (o otterCand) set(k uint64, v *entry, _ int64, _ time.Duration) { o.c.Set(k, v) }
func (o otterCand) get(k uint64) (*entry, bool)                      { return o.c.GetIfPresent(k) }
func (o otterCand) settle()                                          { o.c.CleanUp() }
func (o otterCand) used() int64                                      { return int64(o.c.WeightedSize()) }
func (o otterCand) close()                                           { o.c.StopAllGoroutines() }

type ristrettoCand struct {
	c *ristretto.Cache[uint64, *entry]
}

func newRistrettoCand(maxBytes int64) candidate {
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *entry]{
		NumCounters:        max(maxBytes/1000, 1000), // ~10× the expected number of entries
		MaxCost:            maxBytes,
		BufferItems:        64, // the documented recommendation
		IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	return ristrettoCand{c}
}

func (r ristrettoCand) set(k uint64, v *entry, cost int64, ttl time.Duration) {
	r.c.SetWithTTL(k, v, cost, ttl)
}
func (r ristrettoCand) get(k uint64) (*entry, bool) { return r.c.Get(k) }
func (r ristrettoCand) settle()                     { r.c.Wait() }
func (r ristrettoCand) used() int64                 { return r.c.MaxCost() - r.c.RemainingCost() }
func (r ristrettoCand) close()                      { r.c.Close() }

var candidates = []struct {
	name string
	make func(maxBytes int64) candidate
}{
	{"otter", func(m int64) candidate { return newOtterCand(m, false) }},
	{"otter-sync-executor", func(m int64) candidate { return newOtterCand(m, true) }},
	{"ristretto", newRistrettoCand},
}

const choiceValue = 10 << 10

// choiceEntries builds n entries of 10 KB records.
func choiceEntries(n int) []*entry {
	rec := make([]byte, choiceValue)
	es := make([]*entry, n)
	for i := range es {
		key := []byte(fmt.Sprintf("GET/page/%d", i))
		es[i] = &entry{key: key, rec: rec, ttl: time.Hour, weight: weigh(key, rec)}
	}
	return es
}

// xorshift is a tiny per-goroutine PRNG (math/rand's global source would
// contend).
func xorshift(x *uint64) uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return *x
}

func BenchmarkChoice(b *testing.B) {
	for _, cand := range candidates {
		b.Run(cand.name+"/get-hit-parallel", func(b *testing.B) {
			const n = 1000
			c := cand.make(64 << 20)
			defer c.close()
			es := choiceEntries(n)
			for i, e := range es {
				c.set(uint64(i), e, int64(e.weight), time.Hour)
			}
			c.settle()
			for i, e := range es { // ristretto may have dropped sets: retry until all are in
				for tries := 0; tries < 100; tries++ {
					if _, ok := c.get(uint64(i)); ok {
						break
					}
					c.set(uint64(i), e, int64(e.weight), time.Hour)
					c.settle()
				}
			}
			var misses atomic.Int64
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				x := seed.Add(0x9e3779b97f4a7c15) | 1
				m := int64(0)
				for pb.Next() {
					if _, ok := c.get(xorshift(&x) % n); !ok {
						m++
					}
				}
				misses.Add(m)
			})
			b.ReportMetric(100*float64(misses.Load())/float64(b.N), "miss-%")
		})

		b.Run(cand.name+"/get-with-set-churn", func(b *testing.B) {
			// 1000 pages of 10 KB into 4 MiB: every eighth operation is a Set
			// that forces evictions while the others read.
			const n = 1000
			c := cand.make(4 << 20)
			defer c.close()
			es := choiceEntries(n)
			for i, e := range es {
				c.set(uint64(i), e, int64(e.weight), time.Hour)
			}
			c.settle()
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				x := seed.Add(0x9e3779b97f4a7c15) | 1
				for i := 0; pb.Next(); i++ {
					k := xorshift(&x) % n
					if i%8 == 0 {
						c.set(k, es[k], int64(es[k].weight), time.Hour)
					} else {
						c.get(k)
					}
				}
			})
		})

		b.Run(cand.name+"/set-then-get", func(b *testing.B) {
			// A fill followed at once by the next request for the same page, in
			// a full cache (1 MiB, 10 KB pages, every key new): the second
			// request must be a HIT.
			c := cand.make(1 << 20)
			defer c.close()
			es := choiceEntries(512)
			misses := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e := es[i%len(es)]
				k := uint64(i)
				c.set(k, e, int64(e.weight), time.Hour)
				if _, ok := c.get(k); !ok {
					misses++
				}
			}
			b.ReportMetric(100*float64(misses)/float64(b.N), "not-visible-%")
		})

		b.Run(cand.name+"/byte-bound", func(b *testing.B) {
			// Churn 10 KB pages into 1 MiB and watch the accounted size after
			// every Set; at the end probe which pages are really resident.
			const maxBytes = 1 << 20
			c := cand.make(maxBytes)
			defer c.close()
			es := choiceEntries(512)
			peak := int64(0)
			n := 0
			for i := 0; b.Loop(); i++ {
				e := es[i%len(es)]
				c.set(uint64(i), e, int64(e.weight), time.Hour)
				peak = max(peak, c.used())
				n = i + 1
			}
			c.settle()
			resident := int64(0)
			for i := max(0, n-4*maxBytes/choiceValue); i < n; i++ {
				if e, ok := c.get(uint64(i)); ok {
					resident += int64(e.weight)
				}
			}
			b.ReportMetric(100*float64(peak-maxBytes)/maxBytes, "peak-over-max-%")
			b.ReportMetric(100*float64(resident)/maxBytes, "resident-of-max-%")
		})
	}
}
