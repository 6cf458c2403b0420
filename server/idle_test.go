package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/procstat"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

// Memory of idle keep-alive connections. TestIdleConnMemory runs the proxy as
// a process of its own (this test binary again, running TestIdleChild), warms
// one cached page, opens idleConns connections that each fetch it once and
// stay open, and reads the proxy's VmRSS before and after. The proxy's
// process is separate so that the clients' memory is not counted, and so
// that the two sides together fit the descriptor limit.

const (
	idleChildEnv = "MCPAGE_IDLE_CHILD" // set to the origin's address in the child
	idleConns    = 10000
	// idleBudget is the most RSS one idle keep-alive connection may cost
	// the proxy once the garbage of accepting it is collected (nginx: ~0.5 KB).
	idleBudget = 2048
)

// TestIdleChild is the proxy process of TestIdleConnMemory; it does nothing
// in an ordinary run. It prints "addr <listen address>", then answers every
// line on stdin: "rss" with "rss <VmRSS bytes>", "gc" with the same after a
// full collection that returns freed memory to the system. It shuts the
// proxy down when stdin closes.
func TestIdleChild(t *testing.T) {
	upstream := os.Getenv(idleChildEnv)
	if upstream == "" {
		return
	}
	cfg := server.Config{
		Listen:      "127.0.0.1:0",
		Loops:       2,
		ReadTimeout: time.Minute,
		Policy:      cachepolicy.Rules{DefaultTTL: time.Hour, MaxTTL: time.Hour},
	}
	cfg.Upstream.Addrs = []string{upstream}
	s, done := runServer(t, cfg)
	fmt.Printf("addr %s\n", s.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
		}
		fmt.Printf("rss %d\n", selfRSS())
	}
	_ = s.Shutdown(context.Background())
	<-done
}

// selfRSS is this process's VmRSS in bytes, 0 if it cannot be read.
func selfRSS() int64 {
	n, _ := procstat.RSS(0)
	return n
}

// idleChild is the running proxy process.
type idleChild struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// ask sends cmd ("rss" or "gc") and returns the RSS the child reports.
func (c *idleChild) ask(cmd string) int64 {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatal(err)
	}
	for c.out.Scan() {
		if v, ok := strings.CutPrefix(c.out.Text(), "rss "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				c.t.Fatal(err)
			}
			return n
		}
	}
	c.t.Fatalf("proxy process ended: %v", c.out.Err())
	return 0
}

func TestIdleConnMemory(t *testing.T) {
	if os.Getenv(idleChildEnv) != "" {
		return // this is the child
	}
	page := bytes.Repeat([]byte("<p>idle</p>\n"), 40)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(page)
	}))
	defer origin.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleChildEnv+"="+origin.Listener.Addr().String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := &idleChild{t: t, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	defer func() {
		stdin.Close()
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	}()
	var addr string
	for child.out.Scan() {
		if v, ok := strings.CutPrefix(child.out.Text(), "addr "); ok {
			addr = v
			break
		}
	}
	if addr == "" {
		t.Fatal("proxy process did not start")
	}

	req := []byte("GET /idle HTTP/1.1\r\nHost: example.test\r\nUser-Agent: idle-test\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n")
	warm, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"MISS", "HIT"} {
		if got := idleGet(warm, req, make([]byte, 4096), len(page)); got != want {
			t.Fatalf("warm-up request %d: X-Cache %q, want %q", i, got, want)
		}
	}
	warm.Close()

	before := child.ask("gc")
	conns := make([]net.Conn, idleConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := w; i < idleConns; i += workers {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i] = c
				if got := idleGet(c, req, buf, len(page)); got != "HIT" {
					errs <- fmt.Errorf("connection %d: X-Cache %q", i, got)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	raw := child.ask("rss")
	collected := child.ask("gc")
	perRaw := float64(raw-before) / idleConns
	perConn := float64(collected-before) / idleConns
	t.Logf("proxy RSS per idle keep-alive connection (%d connections): %.0f B after a collection, %.0f B as it stands", idleConns, perConn, perRaw)
	if perConn > memSlack*idleBudget {
		t.Fatalf("an idle keep-alive connection costs the proxy %.0f B of RSS, want at most %d", perConn, memSlack*idleBudget)
	}
	// The connections measured were open: they still answer.
	for _, i := range []int{0, idleConns / 2, idleConns - 1} {
		if got := idleGet(conns[i], req, make([]byte, 4096), len(page)); got != "HIT" {
			t.Fatalf("idle connection %d after the measurement: X-Cache %q", i, got)
		}
	}
}

// idleGet sends req on c and reads one response whose body is bodyLen bytes
// long, returning its X-Cache value ("" on any failure).
func idleGet(c net.Conn, req, buf []byte, bodyLen int) string {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return ""
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && n >= i+4+bodyLen {
			head := string(buf[:i])
			_, v, _ := strings.Cut(head, "\r\nX-Cache: ")
			v, _, _ = strings.Cut(v, "\r\n")
			return v
		}
		if err != nil || n == len(buf) {
			return ""
		}
	}
}

// Two uploads whose bodies span reads, interleaved on one loop with hits on a
// third connection: each keeps its own head while the loop's parse scratch
// serves the others, and every upload reaches the origin intact.
func TestInterleavedUploadsOneLoop(t *testing.T) {
	o := newOrigin(t)
	o.handle("/up/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Who"), b)
	})
	o.handle("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "cached page")
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Loops = 1 })
	hits := dial(t, p.addr)
	hits.get("/page")
	a, b := dial(t, p.addr), dial(t, p.addr)
	a.send("PUT /up/a HTTP/1.1\r\nHost: example.test\r\nX-Who: alice\r\nContent-Length: 10\r\n\r\nabcd")
	b.send("POST /up/b HTTP/1.1\r\nHost: example.test\r\nX-Who: bob\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n")
	time.Sleep(20 * time.Millisecond)
	if r := hits.get("/page"); r.xcache() != "HIT" || string(r.body) != "cached page" {
		t.Fatalf("hit between uploads: %s %q", r.xcache(), r.body)
	}
	a.send("efgh")
	time.Sleep(10 * time.Millisecond)
	b.send("2\r\n!!\r\n0\r\n\r\n")
	if r := b.read("POST"); string(r.body) != "POST /up/b bob wxyz!!" {
		t.Fatalf("upload b: %d %q", r.StatusCode, r.body)
	}
	if r := hits.get("/page"); r.xcache() != "HIT" {
		t.Fatalf("hit between uploads: %s", r.xcache())
	}
	a.send("ij")
	if r := a.read("PUT"); string(r.body) != "PUT /up/a alice abcdefghij" {
		t.Fatalf("upload a: %d %q", r.StatusCode, r.body)
	}
}
