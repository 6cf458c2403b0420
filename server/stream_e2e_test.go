package server_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// pattern writes n deterministic bytes to w without holding them in memory.
func pattern(w io.Writer, n int64) {
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	for n > 0 {
		m := min(n, int64(len(buf)))
		if _, err := w.Write(buf[:m]); err != nil {
			return
		}
		n -= m
	}
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	pattern(h, n)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// Large upstream bodies are streamed to the client with bounded buffers:
// eight concurrent 40 MB misses cost far less than 8 × 40 MB, bodies larger
// than the old 64 MB cap go through, and each body arrives byte for byte,
// framed by Content-Length, chunked (origin length unknown, HTTP/1.1) or by
// the close (HTTP/1.0).
func TestStreamLargeBodies(t *testing.T) {
	const big = 40 << 20
	o := newOrigin(t)
	o.handle("/sized/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		pattern(w, n)
	})
	o.handle("/chunked/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		pattern(w, n) // no Content-Length: net/http chunks it
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Upstream.Timeout = 30 * time.Second })

	fetch := func(path string, n int64, proto string) error {
		c := dial(t, p.addr)
		c.send("GET " + path + "?n=" + strconv.FormatInt(n, 10) + " " + proto + "\r\nHost: example.test\r\n\r\n")
		_ = c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReaderSize(c.nc, 64<<10), &http.Request{Method: "GET"})
		if err != nil {
			return err
		}
		h := sha256.New()
		got, err := io.Copy(h, resp.Body)
		if err != nil {
			return fmt.Errorf("%s: body after %d bytes: %v", path, got, err)
		}
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		if got != n || sum != patternSum(n) {
			return fmt.Errorf("%s %s: %d bytes, want %d (sum ok %v)", path, proto, got, n, sum == patternSum(n))
		}
		if proto == "HTTP/1.1" && path == "/chunked/" && len(resp.TransferEncoding) == 0 {
			return fmt.Errorf("unknown length to an HTTP/1.1 client: not chunked")
		}
		return nil
	}

	before := vmRSS(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := "/sized/"
			if i%2 == 1 {
				path = "/chunked/"
			}
			errs <- fetch(path+strconv.Itoa(i), big, "HTTP/1.1")
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	growth := vmRSS(t) - before
	t.Logf("RSS growth for 8 concurrent 40 MB misses: %d MiB", growth>>20)
	if growth > memSlack*160<<20 {
		t.Fatalf("RSS grew by %d MiB for 8 × 40 MB streamed", growth>>20)
	}
	if err := fetch("/sized/huge", 80<<20, "HTTP/1.1"); err != nil {
		t.Fatal("past the old 64 MB cap: ", err)
	}
	if err := fetch("/chunked/old", 3<<20, "HTTP/1.0"); err != nil {
		t.Fatal(err)
	}
}
