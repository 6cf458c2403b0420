package admin_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/admin"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

// origin is a loopback HTTP origin that can go away and come back on the
// same address.
type origin struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func startOrigin(t *testing.T) *origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{t: t, addr: ln.Addr().String()}
	o.serve(ln)
	t.Cleanup(o.stop)
	return o
}

func (o *origin) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "the page")
	})
	mux.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=1")
		io.WriteString(w, "a private page")
	})
	mux.HandleFunc("POST /page", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "posted "+string(b))
	})
	mux.HandleFunc("GET /etag", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, must-revalidate")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "validated page")
	})
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(bigBody))
		w.Write(make([]byte, bigBody)) // streamed to the client in slices
	})
	srv := &http.Server{Handler: mux}
	o.mu.Lock()
	o.srv = srv
	o.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the origin's listener and connections: nothing accepts on
// its address any more.
func (o *origin) stop() {
	o.mu.Lock()
	srv := o.srv
	o.srv = nil
	o.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart listens on the origin's address again.
func (o *origin) restart() {
	o.t.Helper()
	var ln net.Listener
	eventually(o.t, 10*time.Second, "origin address free again", func() bool {
		var err error
		ln, err = net.Listen("tcp", o.addr)
		return err == nil
	})
	o.serve(ln)
}

const bigBody = 1 << 20

// clock is real time plus an offset the test moves forward (Config.Clock).
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// startProxy runs an mcpage server in front of upstream until the test ends.
// clk, when not nil, is its clock.
func startProxy(t *testing.T, upstream string, clk *clock) *server.Server {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0",
		Loops:  2,
		Policy: cachepolicy.Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour},
	}
	if clk != nil {
		cfg.Clock = clk.now
	}
	cfg.Upstream.Addrs = []string{upstream}
	cfg.Upstream.Timeout = 5 * time.Second
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return s
}

func startAdmin(t *testing.T, cfg admin.Config) *admin.Admin {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	a, err := admin.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("admin close: %v", err)
		}
	})
	return a
}

// countingConn counts the bytes a client connection wrote and read.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

// client is one raw keep-alive connection to the proxy.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialProxy(t *testing.T, addr string, read, written *atomic.Int64) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cc := &countingConn{Conn: nc, in: read, out: written}
	return &client{t: t, nc: cc, br: bufio.NewReader(cc)}
}

// do sends raw and reads the response to it (method says how to read it).
func (c *client) do(method, raw string) (*http.Response, string) {
	c.t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("%q: %v", raw, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsCountAScriptedSequence drives a real proxy (two loops, the
// embedded store) in front of a real origin through misses, hits, a bypass,
// a pass, unsafe POSTs (one answered with a streamed 1 MiB body), two
// PURGEs, a revalidation and a malformed request, then scrapes
// /metrics over HTTP and checks the exact change of every series the
// sequence touches.
func TestMetricsCountAScriptedSequence(t *testing.T) {
	o := startOrigin(t)
	clk := &clock{}
	p := startProxy(t, o.addr, clk)
	a := startAdmin(t, admin.Config{Proxy: p})
	maddr := a.Addr().String()
	before := scrape(t, maddr)

	var read, written atomic.Int64
	c := dialProxy(t, p.Addr().String(), &read, &written)
	req := func(method, path string, extra ...string) string {
		s := method + " " + path + " HTTP/1.1\r\nHost: example.test\r\n"
		for _, h := range extra {
			s += h + "\r\n"
		}
		return s + "\r\n"
	}
	steps := []struct {
		method, raw string
		status      int
		xcache      string
	}{
		{"GET", req("GET", "/page"), 200, "MISS"},
		{"GET", req("GET", "/page"), 200, "HIT"},
		{"HEAD", req("HEAD", "/page"), 200, "HIT"},
		{"GET", req("GET", "/page", "Authorization: Bearer x"), 200, "BYPASS"},
		{"GET", req("GET", "/page", "X-HTTP-Method-Override: PUT"), 200, "PASS"},
		{"GET", req("GET", "/cookie"), 200, "MISS"},
		{"PURGE", req("PURGE", "/page"), 200, "PURGE"},
		{"PURGE", req("PURGE", "/absent", "X-Purge: hard"), 404, "PURGE"},
		{"POST", "POST /page HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\na=1", 200, "PASS"},
		{"POST", "POST /big HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n", 200, "PASS"},
		{"GET", req("GET", "/etag"), 200, "MISS"},
		{"", "", 0, ""}, // two seconds later: /etag is stale, and must be revalidated
		{"GET", req("GET", "/etag"), 200, "REVALIDATED"},
	}
	for _, s := range steps {
		if s.method == "" {
			clk.offset.Add(int64(2 * time.Second))
			continue
		}
		resp, body := c.do(s.method, s.raw)
		if resp.StatusCode != s.status || resp.Header.Get("X-Cache") != s.xcache {
			t.Fatalf("%q: %d %q, want %d %q", s.raw, resp.StatusCode, resp.Header.Get("X-Cache"), s.status, s.xcache)
		}
		if strings.HasPrefix(s.raw, "POST /big") && len(body) != bigBody {
			t.Fatalf("POST /big: %d bytes", len(body))
		}
	}
	// A request the parser refuses: 400, no X-Cache, and the connection closes.
	bad := dialProxy(t, p.Addr().String(), &read, &written)
	if resp, _ := bad.do("GET", "GET /\x01 HTTP/1.1\r\nHost: example.test\r\n\r\n"); resp.StatusCode != 400 {
		t.Fatalf("malformed request: %d", resp.StatusCode)
	}
	if _, err := bad.br.ReadByte(); err == nil {
		t.Fatal("malformed request: connection still open")
	}

	// The loop counts request bytes once it has dispatched them, and a
	// request stops being in flight once its response has been handed to
	// the socket: a client can overtake both. Wait for them; every other
	// counter is updated before the response leaves, so it must be exact.
	var after samples
	eventually(t, 5*time.Second, "received bytes counted and no request in flight", func() bool {
		after = scrape(t, maddr)
		return after.get("mcpage_client_received_bytes_total")-before.get("mcpage_client_received_bytes_total") == float64(written.Load()) &&
			after.get("mcpage_requests_in_flight") == 0
	})
	want := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"mcpage_requests_total", []string{"cache", "MISS", "method", "GET"}, 3},
		{"mcpage_requests_total", []string{"cache", "HIT", "method", "GET"}, 1},
		{"mcpage_requests_total", []string{"cache", "HIT", "method", "HEAD"}, 1},
		{"mcpage_requests_total", []string{"cache", "BYPASS", "method", "GET"}, 1},
		{"mcpage_requests_total", []string{"cache", "PASS", "method", "GET"}, 1},
		{"mcpage_requests_total", []string{"cache", "PASS", "method", "POST"}, 2},
		{"mcpage_requests_total", []string{"cache", "PURGE", "method", "PURGE"}, 2},
		{"mcpage_requests_total", []string{"cache", "none", "method", "OTHER"}, 1},
		{"mcpage_requests_total", []string{"cache", "STALE", "method", "GET"}, 0},
		{"mcpage_requests_total", []string{"cache", "REVALIDATED", "method", "GET"}, 1},
		{"mcpage_responses_total", []string{"class", "2xx"}, 11},
		{"mcpage_responses_total", []string{"class", "4xx"}, 2},
		{"mcpage_responses_total", []string{"class", "5xx"}, 0},
		{"mcpage_responses_total", []string{"class", "3xx"}, 0},
		{"mcpage_purges_total", []string{"kind", "soft", "result", "purged"}, 1},
		{"mcpage_purges_total", []string{"kind", "hard", "result", "not_found"}, 1},
		{"mcpage_purges_total", []string{"kind", "soft", "result", "not_found"}, 0},
		{"mcpage_purges_total", []string{"kind", "hard", "result", "purged"}, 0},
		{"mcpage_purges_total", []string{"kind", "soft", "result", "forbidden"}, 0},
		{"mcpage_store_results_total", []string{"result", "stored"}, 3},
		{"mcpage_store_results_total", []string{"result", "not_stored", "reason", "set-cookie"}, 1},
		{"mcpage_cache_hits_total", nil, 2},
		{"mcpage_cache_misses_total", nil, 4},
		{"mcpage_cache_passes_total", nil, 4},
		{"mcpage_cache_stale_hits_total", nil, 0},
		{"mcpage_upstream_requests_total", nil, 8},
		{"mcpage_upstream_duration_seconds_count", nil, 8},
		{"mcpage_upstream_errors_total", []string{"error", "timeout"}, 0},
		{"mcpage_upstream_errors_total", []string{"error", "connect"}, 0},
		{"mcpage_errors_total", nil, 1},
		{"mcpage_connections_total", nil, 2},
		{"mcpage_requests_in_flight", nil, 0},
		{"mcpage_client_sent_bytes_total", nil, float64(read.Load())},
	}
	for _, w := range want {
		got := after.get(w.name, w.labels...) - before.get(w.name, w.labels...)
		if got != w.delta {
			t.Errorf("%s: changed by %v, want %v", seriesKey(w.name, w.labels...), got, w.delta)
		}
	}
	// Every series of a family the server writes at once is there, zero or not.
	for _, k := range []string{
		seriesKey("mcpage_purges_total", "kind", "hard", "result", "error"),
		seriesKey("mcpage_upstream_duration_seconds_bucket", "le", "+Inf"),
		seriesKey("mcpage_upstream_errors_total", "error", "stalled"),
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if _, ok := after[k]; !ok {
			t.Errorf("no series %s", k)
		}
	}
}

// TestHealthzAndReadyzFollowTheOrigin: /healthz answers while the process
// runs; /readyz is 200 while the proxy serves and its origin accepts
// connections, 503 when the origin goes away, 200 when it is back, and 503
// once the proxy is shutting down.
func TestHealthzAndReadyzFollowTheOrigin(t *testing.T) {
	o := startOrigin(t)
	p := startProxy(t, o.addr, nil)
	a := startAdmin(t, admin.Config{Proxy: p, ProbeEvery: 5 * time.Millisecond})
	base := "http://" + a.Addr().String()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	if code != 200 || !strings.HasPrefix(body, "ready\n") || !strings.Contains(body, "upstream "+o.addr+": reachable") {
		t.Fatalf("/readyz with origin up: %d %q", code, body)
	}

	o.stop()
	eventually(t, 10*time.Second, "/readyz 503 with the origin gone", func() bool {
		code, body = get(t, base+"/readyz")
		return code == 503
	})
	if !strings.HasPrefix(body, "not ready\n") || !strings.Contains(body, "listener: up") || !strings.Contains(body, "upstream "+o.addr+": unreachable") {
		t.Fatalf("/readyz with origin gone: %q", body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz with origin gone: %d", code)
	}

	o.restart()
	eventually(t, 10*time.Second, "/readyz 200 with the origin back", func() bool {
		code, _ = get(t, base+"/readyz")
		return code == 200
	})

	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "listener: down") {
		t.Fatalf("/readyz after Shutdown: %d %q", code, body)
	}
}

// fakeProxy is a Proxy whose answers the test sets.
type fakeProxy struct {
	serving atomic.Bool
	addrs   []string
}

func (f *fakeProxy) Serving() bool               { return f.serving.Load() }
func (f *fakeProxy) UpstreamAddrs() []string     { return f.addrs }
func (f *fakeProxy) WritePrometheus(w io.Writer) { io.WriteString(w, "fake_metric 1\n") }

// TestReadyzProbeIsReused: requests within ProbeEvery share one connect per
// upstream address; a dead address next to a live one keeps the proxy
// ready.
func TestReadyzProbeIsReused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	f := &fakeProxy{addrs: []string{deadAddr, ln.Addr().String()}}
	f.serving.Store(true)
	var dials atomic.Int64
	d := &net.Dialer{}
	a := startAdmin(t, admin.Config{Proxy: f, ProbeEvery: time.Hour,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		}})
	for i := 0; i < 3; i++ {
		ready, body := a.Readiness(context.Background())
		if !ready || !strings.Contains(body, "upstream "+deadAddr+": unreachable") {
			t.Fatalf("readiness %v %q", ready, body)
		}
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials for 3 readiness checks of 2 addresses, want 2", n)
	}
	f.serving.Store(false)
	if ready, _ := a.Readiness(context.Background()); ready {
		t.Fatal("ready while the proxy is not serving")
	}
}

// TestReadyzReportsMemcachedWithoutFailing: memcached state is reported in
// /readyz and /metrics; every server down leaves the proxy ready.
func TestReadyzReportsMemcachedWithoutFailing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &fakeProxy{addrs: []string{ln.Addr().String()}}
	f.serving.Store(true)
	var state atomic.Pointer[[]admin.MemcachedServer]
	up := []admin.MemcachedServer{
		{Addr: "10.0.0.1:11211", Loops: 2, ConnsUp: 2, Conns: 2, Pending: 3},
		{Addr: "10.0.0.2:11211", Loops: 2, EjectedLoops: 1, ConnsUp: 1, Conns: 2},
	}
	state.Store(&up)
	a := startAdmin(t, admin.Config{Proxy: f, ProbeEvery: time.Millisecond,
		Memcached: func(context.Context) []admin.MemcachedServer { return *state.Load() }})
	base := "http://" + a.Addr().String()
	code, body := get(t, base+"/readyz")
	if code != 200 || !strings.Contains(body, "memcached: 1/2 servers up\n") ||
		!strings.Contains(body, "memcached 10.0.0.2:11211: ejected (ejected on 1/2 loops, 1/2 connections open, 0 pending)") {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	m := scrape(t, a.Addr().String())
	for _, c := range []struct {
		name, server string
		v            float64
	}{
		{"mcpage_memcached_server_up", "10.0.0.1:11211", 1},
		{"mcpage_memcached_server_up", "10.0.0.2:11211", 0},
		{"mcpage_memcached_server_ejected_loops", "10.0.0.2:11211", 1},
		{"mcpage_memcached_server_connections", "10.0.0.1:11211", 2},
		{"mcpage_memcached_server_pending_ops", "10.0.0.1:11211", 3},
	} {
		if got := m.get(c.name, "server", c.server); got != c.v {
			t.Errorf("%s{server=%q} = %v, want %v", c.name, c.server, got, c.v)
		}
	}
	if m.get("fake_metric") != 1 {
		t.Error("the proxy's own metrics are missing")
	}
	down := []admin.MemcachedServer{{Addr: "10.0.0.1:11211", Loops: 2, Conns: 2}, {Addr: "10.0.0.2:11211", Loops: 2, EjectedLoops: 2, Conns: 2}}
	state.Store(&down)
	code, body = get(t, base+"/readyz")
	if code != 200 || !strings.Contains(body, "memcached: 0/2 servers up (pages are answered from the origin)") {
		t.Fatalf("/readyz with memcached down: %d %q", code, body)
	}
}

// TestPprofOnlyWhenAsked: /debug/pprof/ is 404 without Config.Pprof and
// served with it.
func TestPprofOnlyWhenAsked(t *testing.T) {
	f := &fakeProxy{}
	off := startAdmin(t, admin.Config{Proxy: f})
	if code, _ := get(t, "http://"+off.Addr().String()+"/debug/pprof/"); code != 404 {
		t.Fatalf("pprof without the flag: %d", code)
	}
	on := startAdmin(t, admin.Config{Proxy: f, Pprof: true})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		if code, _ := get(t, "http://"+on.Addr().String()+path); code != 200 {
			t.Fatalf("%s with the flag: %d", path, code)
		}
	}
}
