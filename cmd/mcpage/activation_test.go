package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenFile binds a loopback listening socket and returns its address and
// a descriptor for it (the listener itself is closed: the descriptor keeps
// the socket bound, as systemd's does).
func listenFile(t *testing.T) (string, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), f
}

// TestBinarySocketActivation starts the binary the way systemd starts a
// socket-activated service: three bound sockets as descriptors 3, 4 and 5,
// LISTEN_FDS=3 and LISTEN_PID naming the process (a shell sets it to its
// own PID and execs). The sockets on -listen and -admin serve, the third is
// closed with a warning (nothing answers on it any more), and SIGTERM still
// stops the process cleanly.
func TestBinarySocketActivation(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	addr, fl := listenFile(t)
	adminAddr, fa := listenFile(t)
	strayAddr, fs := listenFile(t)
	var stderr lockedBuffer
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=3; exec "$0" "$@"`, bin,
		"-listen", addr, "-admin", adminAddr, "-upstream", origin.Listener.Addr().String(), "-loops", "1")
	cmd.ExtraFiles = []*os.File{fl, fa, fs} // descriptors 3, 4, 5
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child holds them now
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("no exit after SIGTERM\nstderr:\n%s", stderr.String())
		}
	}()

	// The sockets were listening before the process started, so a connect
	// proves nothing: an HTTP answer does.
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url string) (*http.Response, string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	resp, body, err := get("http://" + addr + "/page")
	if err != nil {
		t.Fatalf("client socket: %v\nstderr:\n%s", err, stderr.String())
	}
	if resp.StatusCode != 200 || body != "from origin" || resp.Header.Get("X-Cache") == "" {
		t.Fatalf("client socket: %d %q X-Cache=%q", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	if resp, _, err := get("http://" + adminAddr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin socket: %v %v", resp, err)
	}
	// Every descriptor of the stray socket is closed: connecting is refused.
	if nc, err := net.DialTimeout("tcp", strayAddr, time.Second); err == nil {
		nc.Close()
		t.Errorf("the socket on neither -listen nor -admin still accepts connections")
	}
	if !strings.Contains(stderr.String(), "on neither -listen nor -admin") {
		t.Errorf("no warning about the stray socket\nstderr:\n%s", stderr.String())
	}
}
