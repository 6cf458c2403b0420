package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	gneterrors "github.com/panjf2000/gnet/v2/pkg/errors"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/upstream"
)

// acceptLogSink is a slog.Handler that keeps every record.
type acceptLogSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *acceptLogSink) Enabled(context.Context, slog.Level) bool { return true }
func (h *acceptLogSink) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *acceptLogSink) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *acceptLogSink) WithGroup(string) slog.Handler      { return h }

// with returns the records whose message is msg.
func (h *acceptLogSink) with(msg string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

func acceptAttr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// acceptOrigin is a loopback origin answering every path with a cacheable
// "page <path>"; /slow waits until release is closed.
func acceptOrigin(t *testing.T) (addr string, slowIn <-chan struct{}, release func()) {
	t.Helper()
	in := make(chan struct{}, 16)
	released := make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			in <- struct{}{}
			<-released
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	var once sync.Once
	release = func() { once.Do(func() { close(released) }) }
	t.Cleanup(release) // runs before o.Close
	return o.Listener.Addr().String(), in, release
}

func acceptUpstreamCfg(addr string) upstream.Config {
	return upstream.Config{Addrs: []string{addr}, Timeout: 5 * time.Second}
}

// serveResult is Serve's outcome: done is closed when it returned err.
type serveResult struct {
	done chan struct{}
	err  error
}

func goServe(s *Server) *serveResult {
	r := &serveResult{done: make(chan struct{})}
	go func() {
		r.err = s.Serve()
		close(r.done)
	}()
	return r
}

// startAcceptServer runs a server on 127.0.0.1:0 in front of up; hook, if
// not nil, edits the Server before Serve. It returns the server, its Serve
// result and its log.
func startAcceptServer(t *testing.T, up string, hook func(*Server)) (*Server, *serveResult, *acceptLogSink) {
	t.Helper()
	sink := &acceptLogSink{}
	s, err := New(Config{
		Listen:   "127.0.0.1:0",
		Loops:    2,
		Upstream: acceptUpstreamCfg(up),
		Policy:   cachepolicy.Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour},
		Logger:   slog.New(sink),
	})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(s)
	}
	done := goServe(s)
	select {
	case <-s.Ready():
	case <-done.done:
		t.Fatalf("serve: %v", done.err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		select {
		case <-done.done:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return s, done, sink
}

// acceptClient is one keep-alive client connection.
type acceptClient struct {
	nc net.Conn
	br *bufio.Reader
}

func acceptDial(t *testing.T, addr string) *acceptClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &acceptClient{nc: nc, br: bufio.NewReader(nc)}
}

// get sends a GET and reads the answer: status, X-Cache, body.
func (c *acceptClient) get(path string) (int, string, string, error) {
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c.nc, "GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n", path); err != nil {
		return 0, "", "", err
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		return 0, "", "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Cache"), string(b), err
}

func (c *acceptClient) mustGet(t *testing.T, path string) (string, string) {
	t.Helper()
	code, xc, body, err := c.get(path)
	if err != nil || code != 200 {
		t.Fatalf("GET %s: %d %v", path, code, err)
	}
	return xc, body
}

func waitServe(t *testing.T, done *serveResult) error {
	t.Helper()
	select {
	case <-done.done:
		return done.err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// TestListenPortZeroAddr: Listen "127.0.0.1:0" binds a port the system
// chose, Addr reports it once Ready is closed, and it serves.
func TestListenPortZeroAddr(t *testing.T) {
	up, _, _ := acceptOrigin(t)
	s, done, _ := startAcceptServer(t, up, nil)
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok || a.Port == 0 || !a.IP.IsLoopback() {
		t.Fatalf("Addr() = %v", s.Addr())
	}
	c := acceptDial(t, a.String())
	if xc, body := c.mustGet(t, "/p"); body != "page /p" || xc != "MISS" {
		t.Fatalf("got %q %q", xc, body)
	}
	if xc, _ := c.mustGet(t, "/p"); xc != "HIT" {
		t.Fatalf("second: %q", xc)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// TestAddrNilBeforeServeAndBadAddressFailsServe: no address before Serve; an
// address that cannot be bound fails Serve at once with the bind error.
func TestAddrNilBeforeServeAndBadAddressFailsServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := New(Config{Listen: l.Addr().String(), Upstream: acceptUpstreamCfg("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Fatalf("Addr before Serve: %v", s.Addr())
	}
	done := goServe(s)
	err = waitServe(t, done)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Serve on a taken address: %v", err)
	}
}

// TestServeFailsWhenEngineStopsByItself: event loops that stop without
// Shutdown make Serve return ErrEngineStopped, not nil.
func TestServeFailsWhenEngineStopsByItself(t *testing.T) {
	up, _, _ := acceptOrigin(t)
	s, done, _ := startAcceptServer(t, up, nil)
	c := acceptDial(t, s.Addr().String())
	c.mustGet(t, "/p")
	var el gnet.EventLoop
	s.mu.Lock()
	for _, l := range s.loops {
		el = l.el
	}
	s.mu.Unlock()
	// What gnet's loops do on an internal failure: return a shutdown error
	// from the poller, which stops the whole engine.
	if err := el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		return gneterrors.ErrEngineShutdown
	})); err != nil {
		t.Fatal(err)
	}
	err := waitServe(t, done)
	if !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("Serve returned %v, want ErrEngineStopped", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after the engine died: %v", err)
	}
}

// TestServeFailsWhenListenerClosedUnderIt: a listener that fails for good
// (closed, but not by Shutdown) stops the engine and Serve returns the error.
func TestServeFailsWhenListenerClosedUnderIt(t *testing.T) {
	up, _, _ := acceptOrigin(t)
	s, done, sink := startAcceptServer(t, up, nil)
	c := acceptDial(t, s.Addr().String())
	c.mustGet(t, "/p")
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	ln.Close()
	err := waitServe(t, done)
	if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "accept") {
		t.Fatalf("Serve returned %v, want the accept error", err)
	}
	if len(sink.with("accept failed; stopping")) != 1 {
		t.Fatal("the failure was not logged")
	}
}

// emfileListener fails Accept with EMFILE while fail is set, leaving the
// connection in the backlog, and records when it was called.
type emfileListener struct {
	net.Listener
	fail     atomic.Bool
	mu       sync.Mutex
	failures []time.Time
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fail.Load() {
		l.mu.Lock()
		l.failures = append(l.failures, time.Now())
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(),
			Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func (l *emfileListener) failed() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.failures...)
}

// TestAcceptPausesOnResourceErrors: while accept fails with EMFILE the
// server stays up, pauses AcceptPause between tries, logs at most once a
// second with a count, keeps serving open connections, and accepts the
// queued connection once accept works again.
func TestAcceptPausesOnResourceErrors(t *testing.T) {
	const pause = 20 * time.Millisecond
	up, _, _ := acceptOrigin(t)
	var el *emfileListener
	s, done, sink := startAcceptServer(t, up, func(s *Server) {
		s.cfg.AcceptPause = pause
		s.listenFn = func(addr string) (net.Listener, error) {
			l, err := listen(addr)
			if err != nil {
				return nil, err
			}
			el = &emfileListener{Listener: l}
			return el, nil
		}
	})
	old := acceptDial(t, s.Addr().String())
	old.mustGet(t, "/p")
	if xc, _ := old.mustGet(t, "/p"); xc != "HIT" {
		t.Fatalf("second GET: %q", xc)
	}

	el.fail.Store(true)
	// The goroutine may be blocked in the real Accept: one more connection
	// wakes it (it is accepted, and the next Accept fails), or waits in the
	// backlog if the goroutine was already past it.
	acceptDial(t, s.Addr().String())
	deadline := time.Now().Add(10 * time.Second)
	for len(el.failed()) < 60 { // 60 tries, 20ms apart: more than a second
		if time.Now().After(deadline) {
			t.Fatalf("only %d accept tries", len(el.failed()))
		}
		// Open connections are served meanwhile (a cached page needs no
		// new descriptor).
		if xc, body := old.mustGet(t, "/p"); xc != "HIT" || body != "page /p" {
			t.Fatalf("open connection during EMFILE: %q %q", xc, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	queued := acceptDial(t, s.Addr().String()) // in the backlog, not accepted
	select {
	case <-done.done:
		t.Fatalf("Serve returned during EMFILE: %v", done.err)
	default:
	}
	tries := el.failed()
	for i := 1; i < len(tries); i++ {
		if gap := tries[i].Sub(tries[i-1]); gap < pause*3/4 {
			t.Fatalf("accept retried after %v, want a pause of %v", gap, pause)
		}
	}
	recs := sink.with("accept failed; pausing new connections")
	span := tries[len(tries)-1].Sub(tries[0])
	if len(recs) < 2 || time.Duration(len(recs)-1)*time.Second > span+time.Second/2 {
		t.Fatalf("%d log lines for %d failures over %v, want about one a second", len(recs), len(tries), span)
	}
	if e := acceptAttr(recs[0], "err").String(); !strings.Contains(e, "too many open files") {
		t.Fatalf("logged error %q", e)
	}
	if n := acceptAttr(recs[1], "failures").Int64(); n < 2 {
		t.Fatalf("second log line counts %d failures, want the ones suppressed since the first", n)
	}

	el.fail.Store(false)
	if xc, body := queued.mustGet(t, "/p"); xc != "HIT" || body != "page /p" {
		t.Fatalf("queued connection after EMFILE: %q %q", xc, body)
	}
	acceptDial(t, s.Addr().String()).mustGet(t, "/r")
	if len(sink.with("accepting connections again")) != 1 {
		t.Fatal("no log line when accepting resumed")
	}
}

// TestShutdownRefusesNewConnections: Shutdown closes the listener before it
// drains, so a client connecting meanwhile is refused, while the response in
// flight still completes.
func TestShutdownRefusesNewConnections(t *testing.T) {
	up, slowIn, release := acceptOrigin(t)
	s, done, _ := startAcceptServer(t, up, nil)
	addr := s.Addr().String()
	c := acceptDial(t, addr)
	got := make(chan string, 1)
	go func() {
		_, _, body, err := c.get("/slow")
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	<-slowIn
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		switch {
		case err == nil:
			nc.Close()
		case errors.Is(err, syscall.ECONNRESET):
			// Queued as the listener closed: reset, not accepted.
		default:
			t.Fatalf("dial while draining: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections while draining")
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	if body := <-got; body != "page /slow" {
		t.Fatalf("in-flight response: %q", body)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// TestShutdownBeforeBoot: Shutdown racing Serve's start never leaves the
// engine running.
func TestShutdownBeforeBoot(t *testing.T) {
	for i := 0; i < 5; i++ {
		s, err := New(Config{Listen: "127.0.0.1:0", Loops: 1, Upstream: acceptUpstreamCfg("127.0.0.1:1")})
		if err != nil {
			t.Fatal(err)
		}
		done := goServe(s)
		if i%2 == 1 {
			<-s.Ready()
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := waitServe(t, done); err != nil && !errors.Is(err, ErrStopped) {
			t.Fatalf("Serve: %v", err)
		}
	}
}

func TestClassifyAcceptErr(t *testing.T) {
	op := func(e error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	cases := []struct {
		err  error
		want acceptErrKind
	}{
		{op(syscall.EMFILE), errResource},
		{op(syscall.ENFILE), errResource},
		{op(syscall.ENOBUFS), errResource},
		{op(syscall.ENOMEM), errResource},
		{fmt.Errorf("register: %w", syscall.EMFILE), errResource},
		{op(net.ErrClosed), errFatal},
		{op(syscall.EBADF), errFatal},
		{op(syscall.ECONNABORTED), errRetry},
		{op(syscall.EPROTO), errRetry},
		{errors.New("something else"), errOther},
	}
	for _, c := range cases {
		if got := classifyAcceptErr(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}
