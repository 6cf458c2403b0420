package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// rawServer is a loopback HTTP/1.1 upstream whose connections are driven by a
// test's handler, so that tests can write any bytes, odd or broken, and see
// exactly the bytes that arrived.
type rawServer struct {
	t        testing.TB
	ln       net.Listener
	handle   func(c net.Conn, br *bufio.Reader)
	accepted atomic.Int32 // connections accepted
	requests atomic.Int32 // requests read by readRequest

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startRaw starts a rawServer; handle runs once per connection on its own
// goroutine, and the connection is closed when it returns.
func startRaw(t testing.TB, handle func(s *rawServer, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{t: t, ln: ln, conns: map[net.Conn]struct{}{}}
	s.handle = func(c net.Conn, br *bufio.Reader) { handle(s, c, br) }
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

func (s *rawServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c, bufio.NewReader(c))
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// rawRequest is one request as it arrived.
type rawRequest struct {
	head []byte // request line and header block, final CRLFCRLF included
	body []byte
}

// readRequest reads one request framed by Content-Length (or without a body).
// It never decodes chunked bodies: the pool must not send them.
func (s *rawServer) readRequest(br *bufio.Reader) (rawRequest, error) {
	var r rawRequest
	cl := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return r, err
		}
		r.head = append(r.head, line...)
		if len(r.head) > 1<<20 {
			return r, errors.New("request head too large")
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && httpbytes.EqualFold(name, []byte("content-length")) {
			cl, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return r, err
			}
		}
	}
	if cl > 0 {
		r.body = make([]byte, cl)
		if _, err := io.ReadFull(br, r.body); err != nil {
			return r, err
		}
	}
	s.requests.Add(1)
	return r, nil
}

// serveFixed answers every request of every connection with resp, keeping
// connections open, and sends each request read to got (when not nil).
func serveFixed(resp string, got chan<- rawRequest) func(*rawServer, net.Conn, *bufio.Reader) {
	return func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			r, err := s.readRequest(br)
			if err != nil {
				return
			}
			if got != nil {
				got <- r
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	}
}

// newPool starts a pool closed at the end of the test.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// doneChan is a Done callback that signals the channel in Ctx.
func doneChan(j *Job) { j.Ctx.(chan *Job) <- j }

// roundTrip submits a job built by build and waits for its Done.
func roundTrip(t testing.TB, p *Pool, build func(req *fasthttp.Request)) *Job {
	t.Helper()
	j := submitWait(t, p, 20*time.Second, build)
	if j == nil {
		t.Fatalf("Done not called within 20s")
	}
	return j
}

// submitWait submits a job built by build and returns it once its Done has
// been called, or nil if that has not happened after d (the job is then still
// in flight and is not released).
func submitWait(t testing.TB, p *Pool, d time.Duration, build func(req *fasthttp.Request)) *Job {
	t.Helper()
	j := AcquireJob()
	build(&j.req)
	ch := make(chan *Job, 1)
	j.Ctx, j.Done = ch, doneChan
	if err := p.Submit(j); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	select {
	case got := <-ch:
		if got != j {
			t.Fatalf("Done called with another job")
		}
		t.Cleanup(func() { ReleaseJob(j) })
		return j
	case <-time.After(d):
		return nil
	}
}

// get builds "GET target" for host h through BuildRequest.
func get(target string) func(*fasthttp.Request) {
	return func(req *fasthttp.Request) {
		BuildRequest(req, []byte("GET"), []byte(target), []byte("up.test"), hdrs("Host: up.test"), nil, nil)
	}
}

// httpResponse frames body as a Content-Length response with extra header
// lines (each ending in CRLF).
func httpResponse(status string, extra string, body []byte) string {
	return fmt.Sprintf("HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n%s", status, extra, len(body), body)
}
