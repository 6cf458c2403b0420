package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryAccessLog runs the binary with -access-log FILE and -log-level
// warn: each request is one line in the file, SIGHUP reopens the path (a
// rotation by rename), the lines logged before SIGTERM are written, and
// nothing below warn reaches stderr.
func TestBinaryAccessLog(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	addr := freeAddr(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cmd := exec.Command(bin, "-listen", addr, "-upstream", origin.Listener.Addr().String(), "-loops", "2",
		"-access-log", path, "-log-level", "warn")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	get := func(p string) {
		t.Helper()
		var resp *http.Response
		var err error
		for i := 0; i < 100; i++ {
			req, _ := http.NewRequest("GET", "http://"+addr+p, nil)
			req.Header.Set("User-Agent", "binary-test")
			req.Header.Set("Referer", "http://r.example/")
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	lines := func(p string) []string {
		b, _ := os.ReadFile(p)
		if s := strings.TrimSuffix(string(b), "\n"); s != "" {
			return strings.Split(s, "\n")
		}
		return nil
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 10s; stderr:\n%s", what, stderr.String())
			}
		}
	}
	get("/a")
	get("/a")
	waitFor("two lines", func() bool { return len(lines(path)) == 2 })
	line := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "GET /a HTTP/1\.1" 200 11 "http://r\.example/" "binary-test" (MISS \d+\.\d{3}|HIT -) \d+\.\d{3}$`)
	old := lines(path)
	for _, l := range old {
		if !line.MatchString(l) {
			t.Errorf("line %q", l)
		}
	}
	if !strings.Contains(old[0], " MISS ") || !strings.Contains(old[1], " HIT ") {
		t.Errorf("outcomes: %q", old)
	}

	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("reopened file", func() bool { _, err := os.Stat(path); return err == nil })
	get("/b")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if got := lines(rotated); len(got) != 2 {
		t.Errorf("rotated file: %q", got)
	}
	if got := lines(path); len(got) != 1 || !strings.Contains(got[0], `"GET /b HTTP/1.1" 200 11`) {
		t.Errorf("new file after SIGHUP and SIGTERM: %q", got)
	}
	if s := stderr.String(); strings.Contains(s, "level=INFO") || strings.Contains(s, "mcpage ready") {
		t.Errorf("info messages with -log-level warn:\n%s", s)
	}
}
