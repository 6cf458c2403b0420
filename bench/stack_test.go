package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/procstat"
)

// The whole stack on loopback: memcached processes, the origin (in this
// process, origin_test.go) and mcpage as its own process, so that what it
// spends can be read from /proc and the load generator's cost is not in it.

// freeAddr returns a loopback address with a port free right now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

// mcpageBin is the mcpage binary: -bench.mcpage, or cmd/mcpage built once
// per test binary into a temporary directory (removed by TestMain).
func mcpageBin() (string, error) {
	binOnce.Do(func() {
		if *flagMcpage != "" {
			binPath, binErr = filepath.Abs(*flagMcpage)
			return
		}
		binDir, binErr = os.MkdirTemp("", "mcpage-bench-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "mcpage")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/mcpage/mcpage/cmd/mcpage").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build cmd/mcpage: %v\n%s", err, out)
		}
	})
	return binPath, binErr
}

// proc is a child process (mcpage, memcached, nginx).
type proc struct {
	name string
	addr string // where it accepts clients
	cmd  *exec.Cmd
	done chan struct{}
	out  *tailBuffer
	// cleanup runs after the process has stopped (removes nginx's prefix).
	cleanup func()
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// startProc runs argv and waits until addr accepts connections.
func startProc(name, addr string, argv ...string) (*proc, error) {
	p := &proc{name: name, addr: addr, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{}), out: &tailBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			nc.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start: %s", name, p.out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("%s did not listen on %s within 10s: %s", name, addr, p.out)
		}
	}
}

// stop sends SIGTERM and waits (SIGKILL after 5 s).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
	if p.cleanup != nil {
		p.cleanup()
		p.cleanup = nil
	}
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tailBuffer keeps a process's last 4 KB of output for error messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// startMemcached runs one memcached (1 thread, 256 MB, as the anchors do).
func startMemcached() (*proc, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return nil, errors.New("memcached is not installed (make deps)")
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	argv := []string{bin, "-l", "127.0.0.1", "-p", port, "-U", "0", "-t", "1", "-m", "256", "-c", "4096"}
	if os.Geteuid() == 0 {
		argv = append(argv, "-u", "root")
	}
	return startProc("memcached", addr, argv...)
}

// mcpage is one mcpage process with its -admin listener.
type mcpage struct {
	*proc
	admin string
}

// startMcpage runs mcpage in front of originAddr with extra flags.
func startMcpage(originAddr string, args ...string) (*mcpage, error) {
	bin, err := mcpageBin()
	if err != nil {
		return nil, err
	}
	addr, admin := freeAddr(), freeAddr()
	argv := append([]string{bin, "-listen", addr, "-upstream", originAddr, "-admin", admin, "-log-level", "warn"}, args...)
	argv = append(argv, strings.Fields(*flagArgs)...)
	p, err := startProc("mcpage", addr, argv...)
	if err != nil {
		return nil, err
	}
	return &mcpage{proc: p, admin: admin}, nil
}

// metric scrapes one unlabelled sample from /metrics.
func (m *mcpage) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + m.admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
			_, _ = io.Copy(io.Discard, resp.Body)
			return strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s in /metrics", m.addr, name)
}

// mallocs is the process's heap allocation count so far, less what the
// scrapes themselves allocated (measured once per process: two scrapes back
// to back).
func (m *mcpage) mallocs() (float64, error) {
	return m.metric("go_memstats_mallocs_total")
}

// cpuNanos is the CPU time pid's threads have used: the sum over
// /proc/<pid>/task/*/schedstat (nanoseconds, where /proc/<pid>/stat counts
// 10 ms ticks).
func cpuNanos(pid int) int64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := bytes.Fields(b)
		if len(f) > 0 {
			n, _ := strconv.ParseInt(string(f[0]), 10, 64)
			sum += n
		}
	}
	return sum
}

// rssBytes is pid's resident set size, 0 if it cannot be read.
func rssBytes(pid int) int64 {
	n, _ := procstat.RSS(pid)
	return n
}

// stack is one set of processes a sub-benchmark measures.
type stack struct {
	proxies []*mcpage
	mcs     []*proc
	others  []*proc // processes measured like a proxy but not mcpage (nginx)
}

func (s *stack) addrs() []string {
	var a []string
	for _, p := range s.proxies {
		a = append(a, p.addr)
	}
	for _, p := range s.others {
		a = append(a, p.addr)
	}
	return a
}

// mcAddrs is the -memcached value for the stack's servers.
func (s *stack) mcAddrs() string {
	var a []string
	for _, m := range s.mcs {
		a = append(a, m.addr)
	}
	return strings.Join(a, ",")
}

func (s *stack) close() {
	for _, p := range s.proxies {
		p.stop()
	}
	for _, p := range s.others {
		p.stop()
	}
	for _, m := range s.mcs {
		if m.alive() {
			m.kill()
		}
	}
}

// stackSpec says what to start.
type stackSpec struct {
	proxies    int      // mcpage processes (all on the same memcached servers)
	memcached  int      // memcached servers; 0 = embedded store
	args       []string // extra mcpage flags
	nginxProxy bool     // instead of mcpage: nginx as a plain reverse proxy
	tag        string   // distinguishes otherwise equal stacks (a fresh process)
}

func (sp stackSpec) key() string { return fmt.Sprintf("%+v", sp) }

// stacks caches the stacks of one top-level benchmark: a sub-benchmark's
// function runs several times (growing b.N) and reuses its stack, which
// the top-level benchmark stops when all its sub-benchmarks are done.
type stacks struct {
	m map[string]*stack
}

func newStacks(b *testing.B) *stacks {
	s := &stacks{m: map[string]*stack{}}
	b.Cleanup(func() {
		for _, st := range s.m {
			st.close()
		}
	})
	return s
}

func (ss *stacks) get(b *testing.B, sp stackSpec) *stack {
	b.Helper()
	if st, ok := ss.m[sp.key()]; ok {
		for _, p := range st.proxies {
			if !p.alive() {
				b.Fatalf("mcpage exited: %s", p.out)
			}
		}
		return st
	}
	st, err := startStack(sp)
	if err != nil {
		b.Fatal(err)
	}
	ss.m[sp.key()] = st
	return st
}

// drop stops and forgets a stack (one whose memcached was killed).
func (ss *stacks) drop(sp stackSpec) {
	if st, ok := ss.m[sp.key()]; ok {
		st.close()
		delete(ss.m, sp.key())
	}
}

func startStack(sp stackSpec) (*stack, error) {
	o, err := theOrigin()
	if err != nil {
		return nil, err
	}
	st := &stack{}
	for i := 0; i < sp.memcached; i++ {
		m, err := startMemcached()
		if err != nil {
			st.close()
			return nil, err
		}
		st.mcs = append(st.mcs, m)
	}
	if sp.nginxProxy {
		n, err := startNginxProxy(o.addr)
		if err != nil {
			st.close()
			return nil, err
		}
		st.others = append(st.others, n)
		return st, nil
	}
	args := sp.args
	if sp.memcached > 0 {
		args = append([]string{"-memcached", st.mcAddrs()}, args...)
	}
	for i := 0; i < max(sp.proxies, 1); i++ {
		p, err := startMcpage(o.addr, args...)
		if err != nil {
			st.close()
			return nil, err
		}
		st.proxies = append(st.proxies, p)
	}
	return st, nil
}

var (
	originOnce sync.Once
	theOrig    *origin
	originErr  error
)

// theOrigin is the origin every stack of this test binary uses.
func theOrigin() (*origin, error) {
	originOnce.Do(func() { theOrig, originErr = startOrigin() })
	return theOrig, originErr
}

// startNginxProxy runs nginx as a plain reverse proxy to the origin (one
// worker, upstream keepalive, no cache), the baseline of the bypass goal.
func startNginxProxy(originAddr string) (*proc, error) {
	bin, err := nginxPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcpage-bench-nginx-")
	if err != nil {
		return nil, err
	}
	addr := freeAddr()
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream origin { server %[2]s; keepalive 256; }
    server {
        listen %[3]s backlog=4096;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://origin;
        }
    }
}
`, dir, originAddr, addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc("nginx", addr, bin, "-e", "stderr", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.cleanup = func() { os.RemoveAll(dir) }
	return p, nil
}

var errNoNginx = errors.New("nginx is not installed")

func nginxPath() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errNoNginx
}

// treeCPU is the CPU time of pid and its children (nginx's workers).
func treeCPU(pid int) int64 {
	sum := cpuNanos(pid)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) > 2 {
			if pp, _ := strconv.Atoi(string(f[1])); pp == pid {
				sum += cpuNanos(c)
			}
		}
	}
	return sum
}
