package bench

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// measure runs spec against the stack as b's measured work and reports, as
// b's metrics: req/s; latency percentiles; the CPU µs per request of the
// proxies (mcpage processes, or nginx and its workers) and, separately, of
// the memcached servers; heap allocations per request of the mcpage
// processes; their RSS; errors. It fails b on any error unless errorsOK.
func measure(b *testing.B, st *stack, spec loadSpec, errorsOK bool) (*loadResult, metrics) {
	b.Helper()
	l, err := theLoadgen()
	if err != nil {
		b.Fatal(err)
	}
	if spec.addrs == nil {
		spec.addrs = st.addrs()
	}
	if spec.n == 0 {
		spec.n = b.N
	}
	accepted0 := acceptedConns(st)
	run, err := l.prepare(spec)
	if err != nil {
		b.Fatal(err)
	}
	defer run.close()
	// Measure from when the proxies have taken every connection.
	for deadline := time.Now().Add(10 * time.Second); len(st.proxies) > 0 && time.Now().Before(deadline); {
		if acceptedConns(st)-accepted0 >= float64(spec.conns) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	scrape := make([]float64, len(st.proxies))
	for i, p := range st.proxies {
		// What one scrape allocates, to take off the run's count.
		a0, err0 := p.mallocs()
		a1, err1 := p.mallocs()
		if err0 != nil || err1 != nil {
			b.Fatalf("scraping %s: %v %v", p.admin, err0, err1)
		}
		scrape[i] = a1 - a0
	}
	allocs0 := make([]float64, len(st.proxies))
	for i, p := range st.proxies {
		allocs0[i], _ = p.mallocs()
	}
	cpu0 := snapCPU(st)
	b.ResetTimer()
	res, err := run.run()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	cpu, mcCPU := cpuSince(st, cpu0)
	var allocs float64
	for i, p := range st.proxies {
		a1, err := p.mallocs()
		if err != nil {
			b.Fatalf("scraping %s after the run: %v", p.admin, err)
		}
		allocs += max(a1-allocs0[i]-scrape[i], 0)
	}
	var rss int64
	for _, p := range st.proxies {
		rss += rssBytes(p.pid())
	}
	for _, p := range st.others {
		rss += rssBytes(p.pid())
	}
	n := float64(max(res.done, 1))
	m := metrics{
		{"req/s", res.rps()},
		{"p50-µs", float64(res.hist.quantile(0.50)) / 1e3},
		{"p99-µs", float64(res.hist.quantile(0.99)) / 1e3},
		{"p999-µs", float64(res.hist.quantile(0.999)) / 1e3},
		{"cpu-µs/req", float64(cpu) / 1e3 / n},
	}
	if len(st.mcs) > 0 {
		m = append(m, metric{"mc-cpu-µs/req", float64(mcCPU) / 1e3 / n})
	}
	if len(st.proxies) > 0 {
		m = append(m, metric{"allocs/req", allocs / n})
	}
	m = append(m, metric{"rss-MB", float64(rss) / (1 << 20)}, metric{"errors", float64(res.errors)})
	if res.errors > 0 && !errorsOK {
		b.Errorf("%d errors in %d requests; first: %v", res.errors, res.done, res.firstErr)
	}
	return res, m
}

// acceptedConns is the client connections the stack's mcpage processes
// have accepted so far.
func acceptedConns(st *stack) float64 {
	var n float64
	for _, p := range st.proxies {
		v, _ := p.metric("mcpage_connections_total")
		n += v
	}
	return n
}

// cpuSnap is the CPU time so far of each of a stack's processes.
type cpuSnap struct{ proxies, mcs []int64 }

func snapCPU(st *stack) cpuSnap {
	var s cpuSnap
	for _, p := range st.proxies {
		s.proxies = append(s.proxies, cpuNanos(p.pid()))
	}
	for _, p := range st.others {
		s.proxies = append(s.proxies, treeCPU(p.pid()))
	}
	for _, m := range st.mcs {
		if m.alive() {
			s.mcs = append(s.mcs, cpuNanos(m.pid()))
		} else {
			s.mcs = append(s.mcs, -1)
		}
	}
	return s
}

// cpuSince is the CPU time the stack's proxies and memcached servers spent
// since s0; a server killed in between counts for nothing (its time died
// with it).
func cpuSince(st *stack, s0 cpuSnap) (proxies, mcs int64) {
	s1 := snapCPU(st)
	for i := range s1.proxies {
		proxies += s1.proxies[i] - s0.proxies[i]
	}
	for i := range s1.mcs {
		if s0.mcs[i] >= 0 && s1.mcs[i] >= 0 {
			mcs += s1.mcs[i] - s0.mcs[i]
		}
	}
	return
}

// metric is one reported figure; metrics keep their order for the tables.
type metric struct {
	name string
	v    float64
}

type metrics []metric

func (m metrics) get(name string) (float64, bool) {
	for _, x := range m {
		if x.name == name {
			return x.v, true
		}
	}
	return 0, false
}

// report hands m to b (b.ReportMetric) and to the tables printed at the
// end (report_test.go); curve and x place the row on a scale curve.
func report(b *testing.B, m metrics, curve string, x float64) {
	for _, x := range m {
		b.ReportMetric(x.v, x.name)
	}
	// The framework's own ns/op is per request here too, but it includes
	// waiting for the last responses; req/s is the figure to read.
	record(row{name: b.Name(), m: m, curve: curve, x: x})
}

// Requests.

const host = "bench.test"

// fixedReq returns a reqFunc that sends the same request every time.
func fixedReq(path string, extra string) reqFunc {
	r := []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: mcpage-bench\r\nAccept: */*\r\n" + extra + "\r\n")
	return func(dst []byte, _ *uint64) []byte { return append(dst, r...) }
}

// keyReq returns a reqFunc for GET <prefix><key(rng)><suffix>.
func keyReq(prefix string, key func(dst []byte, rng *uint64) []byte, extra string) reqFunc {
	pre := []byte("GET " + prefix)
	post := []byte(" HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: mcpage-bench\r\nAccept: */*\r\n" + extra + "\r\n")
	return func(dst []byte, rng *uint64) []byte {
		dst = append(dst, pre...)
		dst = key(dst, rng)
		return append(dst, post...)
	}
}

// uniqueKeys never repeat within a test binary's run.
var uniqueSeq atomic.Uint64

func uniqueKey(dst []byte, _ *uint64) []byte {
	return strconv.AppendUint(dst, uniqueSeq.Add(1), 36)
}

func xorshift(x *uint64) uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return *x
}

// warm sends n requests (spec's other settings) and fails b on errors.
func warm(b *testing.B, st *stack, spec loadSpec, n int) {
	b.Helper()
	l, err := theLoadgen()
	if err != nil {
		b.Fatal(err)
	}
	if spec.addrs == nil {
		spec.addrs = st.addrs()
	}
	spec.n = n
	spec.conns = min(spec.conns, n)
	spec.at = nil
	res, err := l.run(spec)
	if err != nil {
		b.Fatal(err)
	}
	if res.errors > 0 {
		b.Fatalf("warm-up: %d errors; first: %v", res.errors, res.firstErr)
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dKB", n/1000)
	}
	return fmt.Sprintf("%dB", n)
}

// settle gives a stack's processes a moment after a warm-up (a store's
// writes to memcached, connections closing).
func settle() { time.Sleep(20 * time.Millisecond) }
