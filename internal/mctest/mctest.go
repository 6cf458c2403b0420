// Package mctest starts real memcached processes for tests: each on a free
// loopback port, killed by t.Cleanup. Tests of mcclient and of the server
// share it. It needs memcached on PATH or at /usr/bin/memcached (`make deps`
// installs it).
package mctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one memcached process. Its methods may be called from any
// goroutine.
type Server struct {
	// Addr is "127.0.0.1:<port>"; it stays the same across Restart.
	Addr string

	t    testing.TB
	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited and been reaped
}

// startTimeout bounds how long memcached may take to accept connections.
const startTimeout = 10 * time.Second

// Start runs memcached on a free loopback port with extra args (e.g. "-m",
// "64", "-I", "2m") and waits until it accepts connections. The process is
// killed when the test ends. Start fails the test if memcached is missing
// or does not come up.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		bin = "/usr/bin/memcached"
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("mctest: memcached is not installed (run `make deps`): %v", err)
		}
	}
	s := &Server{t: t, bin: bin, args: args}
	// Another process may take the port between probing and memcached's
	// bind; then try another one.
	for attempt := 0; attempt < 5; attempt++ {
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("mctest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mctest: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start launches the process on s.Addr and waits until it accepts.
func (s *Server) start() error {
	host, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"-l", host, "-p", port, "-U", "0"}, s.args...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start memcached: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-done:
			return fmt.Errorf("memcached on %s exited at start (port taken?)", s.Addr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("memcached on %s did not accept connections within %v", s.Addr, startTimeout)
		}
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Kill stops the process with SIGKILL and waits for it to exit; connections
// to it see a reset or EOF. It does nothing if the process is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill() // SIGKILL ends a frozen process too, without letting it run first
	<-done
}

// Restart starts a fresh (empty) memcached on the same address after Kill,
// or kills the running one first. It fails the test if it cannot.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	// The port may linger briefly after the kill; memcached sets
	// SO_REUSEADDR, so a few quick retries suffice.
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("mctest: restart: %v", err)
}

// Freeze stops the process with SIGSTOP: connections stay open but nothing
// is answered, which is how a hung server looks. It returns once the kernel
// reports the process stopped, so nothing sent afterwards is answered
// before Thaw.
func (s *Server) Freeze() {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	stat := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(stat)
		// The state letter follows the parenthesised command name.
		if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
		if err != nil || time.Now().After(deadline) {
			s.t.Fatalf("mctest: memcached on %s did not stop: %v", s.Addr, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// Thaw resumes a frozen process with SIGCONT.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}
