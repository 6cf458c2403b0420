package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// restartOrigin answers /r/N with "page /r/N": even N cacheable, odd N not
// (every one of those reaches the origin), /r/15 after 20 ms (so that some
// requests are in flight at the origin when the restart comes).
func restartOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n%2 == 0 {
			w.Header().Set("Cache-Control", "max-age=60")
		} else {
			w.Header().Set("Cache-Control", "no-store")
		}
		if n == 15 {
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, "page "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

// hammer is clients sending requests back to back, checking every answer:
// keep-alive clients each over a connection that they replace when told
// Connection: close, one-shot clients over a new connection per request
// (which keeps the listener's accept queue busy).
type hammer struct {
	addr    string
	n       atomic.Int64 // answers checked
	closes  atomic.Int64 // answers to keep-alive clients that said Connection: close
	errs    atomic.Int64
	mu      sync.Mutex
	errList []string
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startHammer(addr string, keepAlive, oneShot int) *hammer {
	h := &hammer{addr: addr, stop: make(chan struct{})}
	for id := range keepAlive + oneShot {
		h.wg.Add(1)
		go h.client(id, id >= keepAlive)
	}
	return h
}

func (h *hammer) fail(format string, args ...any) {
	h.errs.Add(1)
	h.mu.Lock()
	if len(h.errList) < 10 {
		h.errList = append(h.errList, fmt.Sprintf(format, args...))
	}
	h.mu.Unlock()
}

func (h *hammer) client(id int, oneShot bool) {
	defer h.wg.Done()
	var nc net.Conn
	var br *bufio.Reader
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-h.stop:
			return
		default:
		}
		if nc == nil {
			var err error
			if nc, err = net.DialTimeout("tcp", h.addr, 5*time.Second); err != nil {
				h.fail("client %d: dial: %v", id, err)
				nc = nil
				time.Sleep(10 * time.Millisecond) // (only after a failure, which fails the test)
				continue
			}
			br = bufio.NewReader(nc)
		}
		path := "/r/" + strconv.Itoa((id*7+i)%16)
		req := "GET " + path + " HTTP/1.1\r\nHost: restart.test\r\n\r\n"
		if oneShot {
			req = "GET " + path + " HTTP/1.1\r\nHost: restart.test\r\nConnection: close\r\n\r\n"
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := func() (*http.Response, error) {
			if _, err := io.WriteString(nc, req); err != nil {
				return nil, err
			}
			return http.ReadResponse(br, nil)
		}()
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		switch {
		case err != nil:
			h.fail("client %d: request %d (%s): %v", id, i, path, err)
		case resp.StatusCode != 200 || string(body) != "page "+path:
			h.fail("client %d: %s: %d %q", id, path, resp.StatusCode, body)
		default:
			h.n.Add(1)
		}
		if err != nil || resp.Close || oneShot {
			if err == nil && resp.Close && !oneShot {
				h.closes.Add(1)
			}
			nc.Close()
			nc = nil
		}
	}
}

// halt stops the clients and returns the errors they saw.
func (h *hammer) halt() []string {
	close(h.stop)
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.errList
}

// readPID reads a -pid-file; 0 when it is absent or partial.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// processGone reports whether pid has exited: no such process, or a zombie
// nobody reaps (a restarted mcpage is not the test's child).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// restartedMcpage starts bin with a -pid-file and -admin, its stderr (and
// that of every process it restarts into) in a file, and stops whatever
// process the pid file names at the end of the test.
type restartedMcpage struct {
	cmd                  *exec.Cmd
	exited               chan error
	addr, admin, pidFile string
	stderrPath           string
}

// handedOver waits until a new process (not old) has written the pid file
// and the old one has exited 0, and returns the new one's PID.
func (m *restartedMcpage) handedOver(t *testing.T, old int) int {
	t.Helper()
	var pid int
	if !waitFor(20*time.Second, func() bool { pid = readPID(m.pidFile); return pid != 0 && pid != old }) {
		t.Fatalf("no new process in the pid file; stderr:\n%s", m.stderr())
	}
	select {
	case err := <-m.exited:
		if err != nil {
			t.Fatalf("old process: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("old process did not exit")
	}
	return pid
}

func startRestartable(t *testing.T, bin string, upstream string, extra ...string) *restartedMcpage {
	t.Helper()
	dir := t.TempDir()
	m := &restartedMcpage{addr: freeAddr(t), admin: freeAddr(t), pidFile: filepath.Join(dir, "mcpage.pid"),
		stderrPath: filepath.Join(dir, "stderr"), exited: make(chan error, 1)}
	stderr, err := os.Create(m.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	args := append([]string{"-listen", m.addr, "-admin", m.admin, "-upstream", upstream, "-loops", "2",
		"-pid-file", m.pidFile}, extra...)
	m.cmd = exec.Command(bin, args...)
	// A file, not a pipe: cmd.Wait would wait for every process holding
	// the pipe, restarted ones included.
	m.cmd.Stderr = stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		if pid := readPID(m.pidFile); pid != 0 && pid != m.cmd.Process.Pid && !processGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", m.stderr())
		}
	})
	if !waitFor(10*time.Second, func() bool { return readPID(m.pidFile) == m.cmd.Process.Pid }) {
		t.Fatalf("no pid file; stderr:\n%s", m.stderr())
	}
	return m
}

func (m *restartedMcpage) stderr() string {
	b, _ := os.ReadFile(m.stderrPath)
	return string(b)
}

// TestBinaryGracefulRestart: eight clients hammer the proxy over keep-alive
// connections, and four more over a new connection per request, through a
// SIGUSR2 restart; none sees an error (a refused or reset connection) or a
// wrong body, every keep-alive connection to the old process is told
// Connection: close, the
// old process exits 0, the new one serves the clients and -admin, rewrites
// -pid-file, and removes it when it stops.
func TestBinaryGracefulRestart(t *testing.T) {
	bin := mcpageBinary(t)
	origin := restartOrigin(t)
	m := startRestartable(t, bin, origin.Listener.Addr().String(), "-drain-timeout", "20s")
	old := m.cmd.Process.Pid

	const clients = 8
	h := startHammer(m.addr, clients, 4)
	defer func() {
		select {
		case <-h.stop:
		default:
			h.halt()
		}
	}()
	if !waitFor(20*time.Second, func() bool { return h.n.Load() >= 300 }) {
		t.Fatalf("only %d answers before the restart; errors: %q", h.n.Load(), h.halt())
	}
	if err := m.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	pid := m.handedOver(t, old)
	base := h.n.Load()
	if !waitFor(20*time.Second, func() bool { return h.n.Load() >= base+300 }) {
		t.Fatalf("only %d answers after the old process exited", h.n.Load()-base)
	}
	errs := h.halt()
	t.Logf("%d answers, %d with Connection: close, %d errors", h.n.Load(), h.closes.Load(), h.errs.Load())
	if len(errs) > 0 {
		t.Fatalf("%d errors through the restart: %q", h.errs.Load(), errs)
	}
	if c := h.closes.Load(); c < clients {
		t.Errorf("%d answers said Connection: close; every one of the %d connections should have", c, clients)
	}
	code, body, _ := httpGet(t, "http://"+m.admin+"/readyz")
	if code != 200 {
		t.Errorf("-admin after the restart: %d %q", code, body)
	}
	if s := m.stderr(); !strings.Contains(s, `msg="restart: the new process serves; draining" pid=`+strconv.Itoa(pid)) {
		t.Errorf("no restart message; stderr:\n%s", s)
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return processGone(pid) }) {
		t.Fatal("new process did not exit after SIGTERM")
	}
	if _, err := os.Stat(m.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestBinaryRestartFailureKeepsServing: when the new process cannot start
// (the executable at the binary's path fails), the old one says why and
// goes on serving its connections, without closing them; once a working
// binary is back, the next SIGUSR2 restarts.
func TestBinaryRestartFailureKeepsServing(t *testing.T) {
	src := mcpageBinary(t)
	dir := t.TempDir()
	bin, good := filepath.Join(dir, "mcpage"), filepath.Join(dir, "mcpage.good")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, b, 0o755); err != nil {
		t.Fatal(err)
	}
	origin := restartOrigin(t)
	m := startRestartable(t, bin, origin.Listener.Addr().String())
	old := m.cmd.Process.Pid

	nc, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ka := &keepAlive{nc: nc, br: bufio.NewReader(nc)}
	if body, _, err := ka.get("/r/2"); err != nil || body != "page /r/2" {
		t.Fatalf("before: %q %v", body, err)
	}

	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho broken binary >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, bin); err != nil { // an upgrade to a binary that fails
		t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool { return strings.Contains(m.stderr(), `msg="restart failed; still serving"`) }) {
		t.Fatalf("no failure message; stderr:\n%s", m.stderr())
	}
	if !strings.Contains(m.stderr(), "exited before serving") || readPID(m.pidFile) != old {
		t.Errorf("pid file %d (old %d); stderr:\n%s", readPID(m.pidFile), old, m.stderr())
	}
	for i := range 3 {
		if body, _, err := ka.get("/r/4"); err != nil || body != "page /r/4" {
			t.Fatalf("keep-alive request %d after the failed restart: %q %v", i, body, err)
		}
		if body, _, err := dialGet(m.addr, "/r/5"); err != nil || body != "page /r/5" {
			t.Fatalf("new connection after the failed restart: %q %v", body, err)
		}
	}

	if err := os.Rename(good, bin); err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	m.handedOver(t, old)
	if body, _, err := dialGet(m.addr, "/r/8"); err != nil || body != "page /r/8" {
		t.Fatalf("new process: %q %v", body, err)
	}
}
