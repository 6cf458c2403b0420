package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

// startMcpage runs an mcpage server with the embedded store in front of an
// origin that serves a size-byte HTML page at /page.
func startMcpage(b *testing.B, size int) (addr string, page []byte) {
	b.Helper()
	page = bytes.Repeat([]byte("<p>The quick brown fox jumps over the lazy dog.</p>\n"), size/52+1)[:size]
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(page)
	}))
	b.Cleanup(origin.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	cfg := server.Config{Listen: addr, Policy: cachepolicy.Rules{DefaultTTL: time.Hour}}
	cfg.Upstream.Addrs = []string{origin.Listener.Addr().String()}
	s, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	<-s.Ready()
	b.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		<-done
	})
	return addr, page
}

// BenchmarkProxyHit measures end-to-end hits against the embedded store: conns
// keep-alive connections each send one request at a time (like wrk), and
// every body is length-checked. Reported: req/s and latency percentiles.
func BenchmarkProxyHit(b *testing.B) {
	for _, size := range []int{1024, 10240} {
		for _, conns := range []int{1, 64} {
			b.Run(fmt.Sprintf("size=%d/conns=%d", size, conns), func(b *testing.B) {
				addr, page := startMcpage(b, size)
				runLoad(b, addr, "/page", conns, len(page))
			})
		}
	}
}

func runLoad(b *testing.B, addr, path string, conns, wantLen int) {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	// Warm the cache.
	if err := oneRequest(addr, req, wantLen); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	b.SetBytes(int64(wantLen))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			br := bufio.NewReaderSize(nc, 64<<10)
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := nc.Write(req); err != nil {
					errs <- err
					return
				}
				n, err := readResponse(br)
				if err != nil {
					errs <- err
					return
				}
				if n != wantLen {
					errs <- fmt.Errorf("body %d bytes, want %d", n, wantLen)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}

func oneRequest(addr string, req []byte, wantLen int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := nc.Write(req); err != nil {
		return err
	}
	n, err := readResponse(bufio.NewReader(nc))
	if err == nil && n != wantLen {
		err = fmt.Errorf("warm-up body %d bytes, want %d", n, wantLen)
	}
	return err
}

// readResponse reads one response and returns its body length.
func readResponse(br *bufio.Reader) (int, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return int(n), err
}
