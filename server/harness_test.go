package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

// origin is a real HTTP server on loopback whose handlers the tests register,
// counting the requests each path received.
type origin struct {
	*httptest.Server
	mu    sync.Mutex
	mux   *http.ServeMux
	count map[string]int
	last  map[string]*http.Request
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{mux: http.NewServeMux(), count: map[string]int{}, last: map[string]*http.Request{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.count[r.URL.Path]++
		o.last[r.URL.Path] = r.Clone(context.Background())
		o.mu.Unlock()
		o.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) handle(path string, h http.HandlerFunc) { o.mux.HandleFunc(path, h) }

func (o *origin) hits(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

func (o *origin) lastReq(path string) *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

func (o *origin) addr() string { return o.Listener.Addr().String() }

// freePort returns a loopback address that was free a moment ago: only for
// tests that need an address where nothing listens.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// proxy is a running mcpage server.
type proxy struct {
	*server.Server
	addr string
}

// startProxy runs a server in front of upstream with cfg's other fields.
func startProxy(t *testing.T, upstreamAddr string, mod func(*server.Config)) *proxy {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0", // the kernel picks; Addr reports it (no pick-a-free-port race)
		Loops:  2,
		Policy: cachepolicy.Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour},
	}
	cfg.Upstream.Addrs = []string{upstreamAddr}
	cfg.Upstream.Timeout = 5 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	s, done := runServer(t, cfg)
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return &proxy{Server: s, addr: s.Addr().String()}
}

// client is one raw keep-alive connection to the proxy.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatal(err)
	}
}

// response is a fully read response.
type response struct {
	*http.Response
	body []byte
}

func (r *response) xcache() string { return r.Header.Get("X-Cache") }

// read reads one response to a request with method.
func (c *client) read(method string) *response {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return &response{Response: resp, body: body}
}

// get sends a GET with extra header lines and reads the answer.
func (c *client) get(path string, extra ...string) *response {
	c.t.Helper()
	c.send(request("GET", path, extra...))
	return c.read("GET")
}

func request(method, path string, extra ...string) string {
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: example.test\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// expectClosed asserts the proxy closes the connection (EOF) within d.
func (c *client) expectClosed(d time.Duration) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1)
	for {
		_, err := c.br.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("connection still open after %v", d)
			}
			return // reset also counts as closed
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// plain returns the response body decoded per its Content-Encoding.
func (r *response) plain(t *testing.T) []byte {
	t.Helper()
	switch r.Header.Get("Content-Encoding") {
	case "":
		return r.body
	case "gzip":
		return gunzip(t, r.body)
	default:
		t.Fatalf("unexpected Content-Encoding %q", r.Header.Get("Content-Encoding"))
		return nil
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func gzipWriter(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }

func mustRegexp(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 32<<10) }

// fakeClock is real time plus an offset a test moves forward, for
// Config.Clock: freshness without sleeping.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// runServer builds a server from cfg and serves it until the test stops it;
// it returns once the server accepts connections, with the channel Serve's
// result arrives on.
func runServer(t *testing.T, cfg server.Config) (*server.Server, <-chan error) {
	t.Helper()
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
	return s, done
}
