package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rainycape/memcache"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// clusterPage is the origin's body for path: binary, a function of the path.
func clusterPage(path string) string {
	h := sha256.Sum256([]byte(path))
	b := append([]byte(path), 0, '\r', '\n', 0xff)
	for i := 0; i < 40; i++ {
		h = sha256.Sum256(h[:])
		b = append(b, h[:]...)
	}
	return string(b)
}

// startMcpage runs the binary with args until the test ends (SIGTERM, then
// it must exit 0) and waits until it answers.
func startMcpage(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	var stderr lockedBuffer
	cmd := exec.Command(bin, append([]string{"-listen", addr}, args...)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("mcpage on %s: exit after SIGTERM: %v\nstderr:\n%s", addr, err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("mcpage on %s did not exit after SIGTERM", addr)
		}
	})
	if !waitFor(10*time.Second, func() bool {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err == nil
	}) {
		t.Fatalf("mcpage on %s did not come up\nstderr:\n%s", addr, stderr.String())
	}
	return addr
}

// TestBinaryCluster runs two mcpage processes on one three-server memcached
// cluster given with weights and a key prefix, as an operator would: a page
// filled through one is a hit through the other, the origin is asked once,
// each page is stored on the server libmemcached's weighted ketama names
// for the prefixed key and on no other, and a hard PURGE through one makes
// the next read through the other a MISS.
func TestBinaryCluster(t *testing.T) {
	bin := mcpageBinary(t)
	mcs := []*mctest.Server{mctest.Start(t), mctest.Start(t), mctest.Start(t)}
	list := fmt.Sprintf("%s,%s:2,%s:1", mcs[0].Addr, mcs[1].Addr, mcs[2].Addr)
	servers, err := ketama.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := ketama.New(servers)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	hits := map[string]int{}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, clusterPage(r.URL.Path))
	}))
	t.Cleanup(origin.Close)
	originHits := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[path]
	}

	const prefix = "bin:"
	args := []string{"-upstream", origin.Listener.Addr().String(), "-loops", "2", "-memcached", list,
		"-key-prefix", prefix, "-mc-timeout", "1s", "-mc-retry", "200ms"}
	a := startMcpage(t, bin, args...)
	b := startMcpage(t, bin, args...)

	direct := make([]*memcache.Client, len(mcs))
	for i, s := range mcs {
		if direct[i], err = memcache.New(s.Addr); err != nil {
			t.Fatal(err)
		}
		direct[i].SetTimeout(2 * time.Second)
		defer direct[i].Close()
	}
	perServer := make([]int, len(mcs))
	for i := 0; i < 24; i++ {
		path := fmt.Sprintf("/bin/%d", i)
		filler, reader := a, b
		if i%2 == 1 {
			filler, reader = b, a
		}
		body, xc, err := dialGet(filler, path)
		if err != nil || body != clusterPage(path) || xc != "MISS" {
			t.Fatalf("%s via %s: %v %s, right body %v", path, filler, err, xc, body == clusterPage(path))
		}
		if !waitFor(5*time.Second, func() bool {
			body, xc, err = dialGet(reader, path)
			if err != nil || body != clusterPage(path) {
				t.Fatalf("%s via %s: %v, right body %v", path, reader, err, body == clusterPage(path))
			}
			return xc == "HIT"
		}) {
			t.Fatalf("%s: never a HIT through the other process: %s", path, xc)
		}
		if n := originHits(path); n != 1 {
			t.Fatalf("%s: origin saw %d requests, want 1", path, n)
		}

		key := string(cachepolicy.AppendKey(nil, []byte(prefix), []byte("example.test"), []byte(path)))
		want := ring.Pick([]byte(key))
		for j, cl := range direct {
			it, err := cl.Get(key)
			switch {
			case j == want && err != nil:
				t.Fatalf("%s: not on server %d (%s), weighted ketama's choice: %v", path, j, mcs[j].Addr, err)
			case j == want:
				var rec pagerecord.Record
				if err := pagerecord.Decode(it.Value, &rec); err != nil || rec.Status != 200 || string(rec.Body) != clusterPage(path) {
					t.Fatalf("%s: server %d holds a wrong record: %v", path, j, err)
				}
			case err != memcache.ErrCacheMiss:
				t.Fatalf("%s: on server %d too (ketama says %d): %v", path, j, want, err)
			}
		}
		perServer[want]++
	}
	for i, n := range perServer {
		if n == 0 {
			t.Fatalf("no page placed on server %d (%v)", i, perServer)
		}
	}

	// A hard purge through b: the next read through a is a MISS.
	nc, err := net.DialTimeout("tcp", b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(nc, "PURGE /bin/0 HTTP/1.1\r\nHost: example.test\r\nX-Purge: hard\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: "PURGE"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PURGE via b: %v %v", err, resp)
	}
	resp.Body.Close()
	if body, xc, err := dialGet(a, "/bin/0"); err != nil || xc != "MISS" || body != clusterPage("/bin/0") {
		t.Fatalf("a after b's hard purge: %v %s", err, xc)
	}
}
