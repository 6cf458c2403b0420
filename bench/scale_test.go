package bench

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The scale curves: one figure grows, everything else stays (1 KB hits from
// the embedded store over 64 keep-alive connections unless the curve says
// otherwise). Each point is a sub-benchmark with its own fresh mcpage, and
// also a row of the curve's table and a point of its plot (report_test.go).

func curveConns() []int {
	if testing.Short() {
		return []int{8, 32}
	}
	return []int{64, 256, 1000, 4000, 10000}
}

// BenchmarkScaleConns: req/s, CPU/req and RSS as the open connections grow,
// all of them busy; and, before the load, what an idle keep-alive
// connection costs: RSS with conns connections open and idle (each has
// done one request) less RSS before they were opened, per connection.
func BenchmarkScaleConns(b *testing.B) {
	ss := newStacks(b)
	idleCost := map[int][2]float64{}
	for _, c := range curveConns() {
		b.Run(fmt.Sprintf("conns=%d", c), func(b *testing.B) {
			st := ss.get(b, stackSpec{tag: "conns-" + strconv.Itoa(c)})
			req := fixedReq("/p/1024/hit", "")
			if _, ok := idleCost[c]; !ok {
				warm(b, st, loadSpec{conns: 1, req: req, wantLen: 1024}, 2)
				pid := st.proxies[0].pid()
				time.Sleep(100 * time.Millisecond)
				rss0 := rssBytes(pid)
				l, err := theLoadgen()
				if err != nil {
					b.Fatal(err)
				}
				closeIdle, err := l.idle(st.addrs(), c, req)
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
				rss1 := rssBytes(pid)
				closeIdle()
				time.Sleep(200 * time.Millisecond)
				idleCost[c] = [2]float64{float64(rss1-rss0) / float64(c), float64(rss1-rss0) / (1 << 20)}
			}
			spec := loadSpec{conns: c, depth: 1, req: req, wantLen: 1024}
			_, m := measure(b, st, spec, false)
			m = append(m, metric{"idle-B/conn", idleCost[c][0]}, metric{"idle-MB", idleCost[c][1]})
			report(b, m, "conns", float64(c))
		})
	}
}

// BenchmarkScaleLoops: mcpage -loops 1 … the core count.
func BenchmarkScaleLoops(b *testing.B) {
	ss := newStacks(b)
	for loops := 1; loops <= runtime.NumCPU(); loops++ {
		b.Run(fmt.Sprintf("loops=%d", loops), func(b *testing.B) {
			st := ss.get(b, stackSpec{args: []string{"-loops", strconv.Itoa(loops)}})
			spec := loadSpec{conns: conns(), depth: 1, req: fixedReq("/p/1024/hit", ""), wantLen: 1024}
			warm(b, st, spec, 2*spec.conns)
			_, m := measure(b, st, spec, false)
			report(b, m, "loops", float64(loops))
		})
	}
}

func curveServers() []int {
	if testing.Short() {
		return []int{1, 2}
	}
	return []int{1, 2, 4, 8}
}

func curveKeys() uint64 {
	if testing.Short() {
		return 40
	}
	return 1000
}

// BenchmarkScaleMemcached: hits through memcached over curveKeys() 1 KB
// pages (uniformly random) as the memcached servers grow from 1 to 8.
func BenchmarkScaleMemcached(b *testing.B) {
	ss := newStacks(b)
	nkeys := curveKeys()
	var seq atomic.Uint64
	all := func(dst []byte, _ *uint64) []byte { return strconv.AppendUint(dst, (seq.Add(1)-1)%nkeys, 10) }
	random := func(dst []byte, rng *uint64) []byte { return strconv.AppendUint(dst, xorshift(rng)%nkeys, 10) }
	for _, n := range curveServers() {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			st := ss.get(b, stackSpec{memcached: n})
			spec := loadSpec{conns: conns(), depth: 1, req: keyReq("/p/1024/s", all, ""), wantLen: 1024}
			seq.Store(0)
			warm(b, st, spec, int(nkeys))
			settle()
			spec.req = keyReq("/p/1024/s", random, "")
			res, m := measure(b, st, spec, false)
			m = append(m, metric{"hit-%", 100 * float64(res.count("HIT")) / float64(max(res.done, 1))})
			report(b, m, "memcached", float64(n))
		})
	}
}

func curveSizes() []int {
	if testing.Short() {
		return []int{1 << 10, 64 << 10}
	}
	return []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}
}

// BenchmarkScaleSize: embedded hits as the page grows from 1 KB to 1 MB
// (clients without gzip: pages of 2 KB and more are stored gzip'd and
// answered decoded, from the loop's decoded-body cache).
func BenchmarkScaleSize(b *testing.B) {
	ss := newStacks(b)
	for _, size := range curveSizes() {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			st := ss.get(b, stackSpec{})
			spec := loadSpec{conns: conns(), depth: 1, req: fixedReq("/p/"+strconv.Itoa(size)+"/hit", ""), wantLen: size}
			warm(b, st, spec, 2*spec.conns)
			_, m := measure(b, st, spec, false)
			report(b, m, "size", float64(size))
		})
	}
}
