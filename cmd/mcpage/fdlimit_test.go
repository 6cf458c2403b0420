package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// keepAlive is one client connection used for several requests.
type keepAlive struct {
	nc net.Conn
	br *bufio.Reader
}

func (k *keepAlive) get(path string) (string, string, error) {
	_ = k.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(k.nc, "GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n", path); err != nil {
		return "", "", err
	}
	resp, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
	if err != nil {
		return "", "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), resp.Header.Get("X-Cache"), err
}

// dialGet opens a new connection and makes one request on it.
func dialGet(addr, path string) (string, string, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", "", err
	}
	defer nc.Close()
	return (&keepAlive{nc: nc, br: bufio.NewReader(nc)}).get(path)
}

// TestBinarySurvivesFDExhaustion runs the binary with 64 file descriptors
// and opens more connections than that: accept fails with EMFILE, and the
// process must stay up, log it, keep answering the connections it has,
// accept again once descriptors are free, and still exit 0 on SIGTERM.
func TestBinarySurvivesFDExhaustion(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	addr := freeAddr(t)

	var stderr lockedBuffer
	cmd := exec.Command("sh", "-c", `ulimit -n 64 && exec "$0" "$@"`,
		bin, "-listen", addr, "-upstream", origin.Listener.Addr().String(), "-loops", "2")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	alive := func(when string) {
		t.Helper()
		select {
		case <-exited:
			t.Fatalf("mcpage exited %s: %v\nstderr:\n%s", when, waitErr, stderr.String())
		default:
		}
	}

	// A keep-alive connection, opened while descriptors are plentiful; its
	// page is cached, so answering it later needs no new descriptor.
	var ka *keepAlive
	if !waitFor(10*time.Second, func() bool {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		ka = &keepAlive{nc: nc, br: bufio.NewReader(nc)}
		_, _, err = ka.get("/x")
		if err != nil {
			nc.Close()
		}
		return err == nil
	}) {
		t.Fatalf("mcpage did not come up\nstderr:\n%s", stderr.String())
	}
	defer ka.nc.Close()
	if body, xc, err := ka.get("/x"); err != nil || body != "from origin" || xc != "HIT" {
		t.Fatalf("second request: %q %q %v", body, xc, err)
	}

	// More connections than the process has descriptors: the kernel
	// completes them all (the listen backlog), mcpage accepts until EMFILE.
	var extra []net.Conn
	defer func() {
		for _, c := range extra {
			c.Close()
		}
	}()
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			select { // refused: most likely the process is gone
			case <-exited:
			case <-time.After(2 * time.Second):
			}
			alive("while clients connected")
			t.Fatalf("dial %d: %v", i, err)
		}
		extra = append(extra, c)
	}
	const logged = "accept failed; pausing new connections"
	if !waitFor(10*time.Second, func() bool { return strings.Contains(stderr.String(), logged) }) {
		alive("after running out of descriptors")
		t.Fatalf("no accept error logged\nstderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "too many open files") {
		t.Fatalf("logged error does not name EMFILE\nstderr:\n%s", stderr.String())
	}
	alive("after running out of descriptors")

	// Out of descriptors, the open connection is still answered.
	if body, xc, err := ka.get("/x"); err != nil || body != "from origin" || xc != "HIT" {
		t.Fatalf("keep-alive request while out of descriptors: %q %q %v", body, xc, err)
	}
	alive("while out of descriptors")

	// Free the descriptors: a new connection is accepted and served.
	for _, c := range extra {
		c.Close()
	}
	extra = nil
	var lastErr error
	if !waitFor(15*time.Second, func() bool {
		var body string
		body, _, lastErr = dialGet(addr, "/x")
		return lastErr == nil && body == "from origin"
	}) {
		alive("after descriptors were freed")
		t.Fatalf("new connection not served after descriptors were freed: %v\nstderr:\n%s", lastErr, stderr.String())
	}
	alive("after descriptors were freed")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", waitErr, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	t.Logf("mcpage stderr:\n%s", stderr.String())
}

// fakeService stands in for the server: Serve returns what the test sends
// on result, after closing ready.
type fakeService struct {
	ready    chan struct{}
	result   chan error
	shutdown chan struct{}
}

func newFakeService() *fakeService {
	return &fakeService{ready: make(chan struct{}), result: make(chan error, 1), shutdown: make(chan struct{})}
}

func (f *fakeService) Serve() error {
	close(f.ready)
	return <-f.result
}

func (f *fakeService) Ready() <-chan struct{} { return f.ready }

func (f *fakeService) Shutdown(context.Context) error {
	close(f.shutdown)
	f.result <- nil
	return nil
}

// TestServerFailureExitsNonZero: when Serve returns by itself (the engine
// stopped, the listener failed) the process exits 1 with one line naming the
// cause, even when Serve gives no error; after a signal it exits 0.
func TestServerFailureExitsNonZero(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"engine", errors.New("server: engine stopped unexpectedly"), "mcpage: server: engine stopped unexpectedly\n"},
		{"accept", fmt.Errorf("server: accept: %w", net.ErrClosed), "mcpage: server: accept: use of closed network connection\n"},
		{"multi-line", errors.New("first\nsecond"), "mcpage: first; second\n"},
		{"nil", nil, "mcpage: server stopped unexpectedly\n"},
	}
	for _, c := range cases {
		f := newFakeService()
		var stderr bytes.Buffer
		code := make(chan int, 1)
		go func() { code <- serve(f, make(chan os.Signal), &stderr, slog.Default(), func() {}) }()
		<-f.ready
		f.result <- c.err
		select {
		case got := <-code:
			if got != 1 || stderr.String() != c.want {
				t.Errorf("%s: exit %d, stderr %q; want 1, %q", c.name, got, stderr.String(), c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: serve did not return", c.name)
		}
	}

	f := newFakeService()
	sigs := make(chan os.Signal, 1)
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() { code <- serve(f, sigs, &stderr, slog.Default(), func() {}) }()
	<-f.ready
	sigs <- syscall.SIGTERM
	select {
	case got := <-code:
		if got != 0 || stderr.Len() != 0 {
			t.Errorf("after SIGTERM: exit %d, stderr %q", got, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
	select {
	case <-f.shutdown:
	default:
		t.Error("Shutdown not called after SIGTERM")
	}
}
