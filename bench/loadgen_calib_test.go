package bench

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoadgen checks that the load generator is not what limits the
// suites: it drives the same mcpage (1 KB embedded hits, the suites'
// connection count) with this package's gnet client and, when installed,
// with wrk -t1 (the anchors' client), and reports both. wrk runs for the
// -benchtime duration (1 s for a count like 1x) whatever b.N is.
func BenchmarkLoadgen(b *testing.B) {
	ss := newStacks(b)
	req := fixedReq("/p/1024/hit", "")
	b.Run("client=gnet", func(b *testing.B) {
		st := ss.get(b, stackSpec{})
		spec := loadSpec{conns: conns(), depth: 1, req: req, wantLen: 1024}
		warm(b, st, spec, 2*spec.conns)
		_, m := measure(b, st, spec, false)
		report(b, m, "", 0)
	})
	b.Run("client=wrk", func(b *testing.B) {
		wrk, err := exec.LookPath("wrk")
		if err != nil {
			b.Skip("wrk is not installed")
		}
		st := ss.get(b, stackSpec{})
		warm(b, st, loadSpec{conns: conns(), depth: 1, req: req, wantLen: 1024}, 2*conns())
		dur := time.Second
		if f := flag.Lookup("test.benchtime"); f != nil {
			if d, err := time.ParseDuration(f.Value.String()); err == nil {
				dur = d
			}
		}
		cpu0 := snapCPU(st)
		b.ResetTimer()
		out, err := exec.Command(wrk, "-t1", "-c"+strconv.Itoa(conns()), "-d"+strconv.Itoa(int(max(dur.Seconds(), 1)))+"s",
			"--latency", "http://"+st.proxies[0].addr+"/p/1024/hit").CombinedOutput()
		b.StopTimer()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		cpu, _ := cpuSince(st, cpu0)
		w, err := parseWrk(out)
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		report(b, metrics{
			{"req/s", w.rps},
			{"p50-µs", w.p50},
			{"p99-µs", w.p99},
			{"cpu-µs/req", float64(cpu) / 1e3 / max(w.requests, 1)},
			{"errors", w.errors},
		}, "", 0)
		if w.errors > 0 {
			b.Errorf("wrk: %v errors", w.errors)
		}
	})
}

type wrkResult struct {
	rps, p50, p99, requests, errors float64
}

// parseWrk reads wrk's summary: Requests/sec, the 50 % and 99 % latency
// lines of --latency, "N requests in", socket errors and non-2xx answers.
func parseWrk(out []byte) (wrkResult, error) {
	var w wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			w.rps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			w.p50 = wrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			w.p99 = wrkDuration(f[1])
		case len(f) > 2 && f[1] == "requests" && f[2] == "in":
			w.requests, _ = strconv.ParseFloat(f[0], 64)
		case len(f) > 1 && f[0] == "Socket" && f[1] == "errors:":
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.ParseFloat(strings.TrimSuffix(f[i+1], ","), 64)
				w.errors += n
			}
		case len(f) == 5 && f[0] == "Non-2xx":
			n, _ := strconv.ParseFloat(f[4], 64)
			w.errors += n
		}
	}
	if w.rps == 0 {
		return w, fmt.Errorf("no Requests/sec in wrk's output")
	}
	return w, nil
}

// wrkDuration converts "1.23ms" (us, ms, s) to µs.
func wrkDuration(s string) float64 {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.mult
		}
	}
	return 0
}
