package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The scenario suites. Every sub-benchmark measures b.N requests (the
// stampede: b.N stampedes) through mcpage processes started for it (see
// stack_test.go) and reports req/s, p50/p99/p999 latency, the proxy's CPU
// µs and heap allocations per request, its RSS and errors. Under -short
// every size and count is cut down so that `make test` runs each once in
// seconds (-benchtime 1x).

// Connection counts: keep-alive = conns connections, one request each in
// flight; pipelined = conns connections with depth requests each.
func conns() int {
	if testing.Short() {
		return 4
	}
	return *flagConns
}

func pipeDepth() int {
	if testing.Short() {
		return 2
	}
	return 8
}

var modes = []struct {
	name  string
	depth func() int
}{
	{"keepalive", func() int { return 1 }},
	{"pipelined", pipeDepth},
}

var stores = []struct {
	name string
	spec stackSpec
}{
	{"embedded", stackSpec{}},
	{"memcached", stackSpec{memcached: 1}},
}

func hitSizes() []int {
	if testing.Short() {
		return []int{1 << 10, 100 << 10}
	}
	return []int{1 << 10, 10 << 10, 100 << 10, 1 << 20}
}

// BenchmarkHit: one page, every request a hit, from the embedded store and
// from memcached, for each size, without and with Accept-Encoding: gzip
// (pages of 2 KB and more are stored gzip'd: clients without gzip get them
// decoded, from the loop's decoded-body cache), keep-alive and pipelined.
func BenchmarkHit(b *testing.B) {
	ss := newStacks(b)
	for _, store := range stores {
		for _, size := range hitSizes() {
			for _, gz := range []bool{false, true} {
				for _, mode := range modes {
					name := fmt.Sprintf("store=%s/size=%s/gzip=%v/conn=%s", store.name, sizeName(size), yesNo(gz), mode.name)
					b.Run(name, func(b *testing.B) {
						st := ss.get(b, store.spec)
						extra, want := "", size
						if gz {
							extra, want = "Accept-Encoding: gzip\r\n", -1
						}
						spec := loadSpec{conns: conns(), depth: mode.depth(),
							req: fixedReq("/p/"+strconv.Itoa(size)+"/hit", extra), wantLen: want}
						warm(b, st, spec, 2*spec.conns*spec.depth)
						res, m := measure(b, st, spec, false)
						m = append(m, metric{"hit-%", 100 * float64(res.count("HIT")) / float64(max(res.done, 1))})
						report(b, m, "", 0)
						// A lookup slower than -mc-timeout (100 ms: 1 MB pages, 512
						// requests in flight) is answered from the origin instead.
						if hit := res.count("HIT"); float64(hit) < 0.99*float64(res.done) {
							b.Errorf("%d of %d responses were not hits", res.done-hit, res.done)
						}
					})
				}
			}
		}
	}
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// BenchmarkMiss: every request a new key (1 KB pages): lookup, origin
// fetch, store, answer.
func BenchmarkMiss(b *testing.B) {
	ss := newStacks(b)
	for _, store := range stores {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("store=%s/conn=%s", store.name, mode.name), func(b *testing.B) {
				st := ss.get(b, store.spec)
				spec := loadSpec{conns: conns(), depth: mode.depth(), req: keyReq("/p/1024/miss-", uniqueKey, ""), wantLen: 1024}
				warm(b, st, spec, 2*spec.conns*spec.depth)
				o, _ := theOrigin()
				before := o.served.Load()
				res, m := measure(b, st, spec, false)
				fetched := o.served.Load() - before
				m = append(m, metric{"origin-%", 100 * float64(fetched) / float64(max(res.done, 1))})
				report(b, m, "", 0)
				if res.count("MISS") != res.done {
					b.Errorf("%d of %d responses were not misses", res.done-res.count("MISS"), res.done)
				}
			})
		}
	}
}

// BenchmarkBypass: requests with an Authorization field pass through to the
// origin (X-Cache: BYPASS); server=nginx is nginx as a plain reverse proxy
// (one worker, upstream keepalive) under the same load, when installed.
func BenchmarkBypass(b *testing.B) {
	ss := newStacks(b)
	for _, server := range []string{"mcpage", "nginx"} {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("server=%s/conn=%s", server, mode.name), func(b *testing.B) {
				sp := stackSpec{}
				if server == "nginx" {
					if _, err := nginxPath(); err != nil {
						b.Skip(err)
					}
					sp.nginxProxy = true
				}
				st := ss.get(b, sp)
				spec := loadSpec{conns: conns(), depth: mode.depth(),
					req: fixedReq("/p/1024/bypass", "Authorization: Bearer bench\r\n"), wantLen: 1024}
				warm(b, st, spec, 2*spec.conns*spec.depth)
				res, m := measure(b, st, spec, false)
				report(b, m, "", 0)
				if server == "mcpage" && res.count("BYPASS") != res.done {
					b.Errorf("%d of %d responses were not BYPASS", res.done-res.count("BYPASS"), res.done)
				}
			})
		}
	}
}

// zipfKeys is a table of key indexes drawn from a Zipf distribution
// (s = 1.1) over n keys: requests pick entries from it at random.
func zipfKeys(n int) []uint32 {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, uint64(n-1))
	t := make([]uint32, 1<<16)
	for i := range t {
		t[i] = uint32(z.Uint64())
	}
	return t
}

func mixedKeys() int {
	if testing.Short() {
		return 20
	}
	return 1000
}

// BenchmarkMixed: 90 % of requests hit pages chosen by a Zipf distribution
// over mixedKeys() stored pages of 1 KB-100 KB, 10 % are new keys (misses);
// clients accept gzip.
func BenchmarkMixed(b *testing.B) {
	ss := newStacks(b)
	nkeys := mixedKeys()
	table := zipfKeys(nkeys)
	// Page i is 1 KB, 10 KB or 100 KB (10:5:1).
	sizeOf := func(i uint64) int {
		switch i % 16 {
		case 15:
			return 100 << 10
		case 10, 11, 12, 13, 14:
			return 10 << 10
		}
		return 1 << 10
	}
	hot := func(dst []byte, i uint64) []byte {
		dst = strconv.AppendInt(dst, int64(sizeOf(i)), 10)
		dst = append(dst, "/z"...)
		return strconv.AppendUint(dst, i, 10)
	}
	var missSeq atomic.Uint64
	mixed := func(dst []byte, rng *uint64) []byte {
		x := xorshift(rng)
		if x%10 == 0 {
			dst = append(dst, "1024/new"...)
			return strconv.AppendUint(dst, missSeq.Add(1), 36)
		}
		return hot(dst, uint64(table[(x>>8)%uint64(len(table))]))
	}
	var seq atomic.Uint64
	all := func(dst []byte, _ *uint64) []byte { return hot(dst, (seq.Add(1)-1)%uint64(nkeys)) }
	for _, store := range stores {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("store=%s/conn=%s", store.name, mode.name), func(b *testing.B) {
				st := ss.get(b, store.spec)
				gz := "Accept-Encoding: gzip\r\n"
				spec := loadSpec{conns: conns(), depth: mode.depth(), req: keyReq("/p/", all, gz), wantLen: -1}
				seq.Store(0)
				warm(b, st, spec, nkeys) // every hot page stored
				settle()
				spec.req = keyReq("/p/", mixed, gz)
				res, m := measure(b, st, spec, false)
				m = append(m, metric{"hit-%", 100 * float64(res.count("HIT")) / float64(max(res.done, 1))})
				report(b, m, "", 0)
			})
		}
	}
}

func stampedeConc() int {
	if testing.Short() {
		return 20
	}
	return 1000
}

// BenchmarkStampede: stampedeConc() requests at once, over as many
// connections split between two mcpage processes sharing one memcached,
// for one new key whose origin takes 50 ms; b.N stampedes. Reported:
// upstream-fetches per stampede (1 is the goal: one process fills, the
// other waits for memcached, each coalesces its own), the latency of the
// requests.
func BenchmarkStampede(b *testing.B) {
	ss := newStacks(b)
	b.Run(fmt.Sprintf("conc=%d/proxies=2", stampedeConc()), func(b *testing.B) {
		st := ss.get(b, stackSpec{proxies: 2, memcached: 1})
		l, err := theLoadgen()
		if err != nil {
			b.Fatal(err)
		}
		o, _ := theOrigin()
		var hist histogram
		var fetches, maxFetches, errs, done int64
		cpu0 := snapCPU(st)
		var elapsed time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key := strconv.FormatUint(uniqueSeq.Add(1), 36)
			before := o.slow.Load()
			res, err := l.run(loadSpec{addrs: st.addrs(), conns: stampedeConc(), n: stampedeConc(),
				req: fixedReq("/slow/50/1024/stampede-"+key, ""), wantLen: 1024})
			if err != nil {
				b.Fatal(err)
			}
			f := o.slow.Load() - before
			fetches += f
			maxFetches = max(maxFetches, f)
			errs += int64(res.errors)
			done += int64(res.done)
			elapsed += res.elapsed
			for j, c := range res.hist.counts {
				hist.counts[j] += c
			}
			hist.n += res.hist.n
			hist.max = max(hist.max, res.hist.max)
			if res.errors > 0 {
				b.Errorf("stampede %d: %d errors; first: %v", i, res.errors, res.firstErr)
			}
		}
		b.StopTimer()
		cpu, mcCPU := cpuSince(st, cpu0)
		n := float64(max(done, 1))
		report(b, metrics{
			{"fetches/stampede", float64(fetches) / float64(b.N)},
			{"max-fetches", float64(maxFetches)},
			{"p50-µs", float64(hist.quantile(0.5)) / 1e3},
			{"p99-µs", float64(hist.quantile(0.99)) / 1e3},
			{"p999-µs", float64(hist.quantile(0.999)) / 1e3},
			{"cpu-µs/req", float64(cpu) / 1e3 / n},
			{"mc-cpu-µs/req", float64(mcCPU) / 1e3 / n},
			{"errors", float64(errs)},
		}, "", 0)
	})
}

func killKeys() int {
	if testing.Short() {
		return 30
	}
	return 300
}

// BenchmarkMemcachedKill: hits over killKeys() 1 KB pages spread over three
// memcached servers; one server is killed (SIGKILL) a third into the run.
// Its keys become misses answered from the origin, then hits again on the
// server the ring gives them to. Errors must be 0.
func BenchmarkMemcachedKill(b *testing.B) {
	ss := newStacks(b)
	nkeys := uint64(killKeys())
	var seq atomic.Uint64
	all := func(dst []byte, _ *uint64) []byte { return strconv.AppendUint(dst, (seq.Add(1)-1)%nkeys, 10) }
	random := func(dst []byte, rng *uint64) []byte { return strconv.AppendUint(dst, xorshift(rng)%nkeys, 10) }
	b.Run("servers=3/killed=1", func(b *testing.B) {
		sp := stackSpec{memcached: 3, tag: "kill"}
		st := ss.get(b, sp)
		defer ss.drop(sp) // the next run needs all three again
		spec := loadSpec{conns: conns(), depth: 1, req: keyReq("/p/1024/k", all, ""), wantLen: 1024}
		seq.Store(0)
		warm(b, st, spec, int(nkeys))
		settle()
		o, _ := theOrigin()
		before := o.served.Load()
		victim := st.mcs[1]
		spec.req = keyReq("/p/1024/k", random, "")
		spec.atDone = max(b.N/3, 1)
		spec.at = victim.kill
		res, m := measure(b, st, spec, true)
		m = append(m,
			metric{"hit-%", 100 * float64(res.count("HIT")) / float64(max(res.done, 1))},
			metric{"origin-fetches", float64(o.served.Load() - before)})
		report(b, m, "", 0)
		if res.errors > 0 {
			b.Errorf("%d errors after a memcached server was killed (must be 0); first: %v", res.errors, res.firstErr)
		}
	})
}
