package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectRefused(t *testing.T) {
	addr := refusedAddr(t)
	p := newPool(t, Config{Addrs: []string{addr}, Timeout: 5 * time.Second})
	start := time.Now()
	j := roundTrip(t, p, get("/"))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("refused connection took %v to report", elapsed)
	}
	if j.Err != ErrConnect {
		t.Fatalf("Err = %v (%v), want ErrConnect", j.Err, j.Cause)
	}
	if StatusFor(j.Err) != 502 {
		t.Errorf("StatusFor = %d, want 502", StatusFor(j.Err))
	}
	if j.Addr != addr || j.Cause == nil || !strings.Contains(j.Cause.Error(), addr) {
		t.Errorf("Addr %q, Cause %v: want the address tried", j.Addr, j.Cause)
	}
	if j.Resp.r.Header.StatusCode() != 200 || len(j.Resp.Body()) != 0 || j.Resp.r.Header.Len() != 0 {
		t.Errorf("Resp not empty after an error")
	}
}

// TestNeverAnswers checks that an upstream that accepts and reads but never
// answers times out after Config.Timeout, not later and not much earlier.
func TestNeverAnswers(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br) // read until the client gives up
	})
	const timeout = 400 * time.Millisecond
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: timeout})
	start := time.Now()
	j := roundTrip(t, p, get("/"))
	elapsed := time.Since(start)
	if j.Err != ErrTimeout {
		t.Fatalf("Err = %v (%v), want ErrTimeout", j.Err, j.Cause)
	}
	if StatusFor(j.Err) != 504 {
		t.Errorf("StatusFor = %d, want 504", StatusFor(j.Err))
	}
	if elapsed < timeout-20*time.Millisecond || elapsed > timeout+time.Second {
		t.Errorf("timed out after %v, want about %v", elapsed, timeout)
	}
}

// TestSlowBody checks that Timeout covers the body too: a response whose
// body trickles in past the deadline fails with ErrTimeout.
func TestSlowBody(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
		for range 100 {
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	const timeout = 300 * time.Millisecond
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: timeout})
	start := time.Now()
	j := roundTrip(t, p, get("/"))
	if j.Err != ErrTimeout {
		t.Fatalf("Err = %v (%v), want ErrTimeout", j.Err, j.Cause)
	}
	if elapsed := time.Since(start); elapsed > timeout+time.Second {
		t.Errorf("took %v", elapsed)
	}
}

// TestBrokenResponses checks the classification of responses that must never
// pass for a success.
func TestBrokenResponses(t *testing.T) {
	tests := []struct {
		name string
		resp string
		max  int // Config.MaxResponseBodyBytes
		want error
	}{
		{"close before any byte", "", 0, ErrUpstreamClosed},
		{"close inside the header", "HTTP/1.1 200 OK\r\nContent-Le", 0, ErrUpstreamClosed},
		{"close mid-body (length)", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 500), 0, ErrUpstreamClosed},
		{"close mid-body (chunked)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + strings.Repeat("x", 500), 0, ErrUpstreamClosed},
		{"close before the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, ErrUpstreamClosed},
		{"declared length over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 1000, ErrBodyTooLarge},
		{"chunked over the limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk([]byte(strings.Repeat("y", 1500)), 100), 1000, ErrBodyTooLarge},
		{"close-delimited over the limit", "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("z", 1500), 1000, ErrBodyTooLarge},
		{"garbage status line", "HELLO THERE\r\n\r\n", 0, ErrBadResponse},
		{"non-numeric status", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 0, ErrBadResponse},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 0, ErrBadResponse},
		{"duplicate Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, ErrBadResponse},
		{"unknown transfer coding beside Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab", 0, ErrBadResponse},
		{"transfer coding list not ending in chunked, beside Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked, x\r\n\r\nab", 0, ErrBadResponse},
		{"header block too large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 40<<10) + "\r\nContent-Length: 0\r\n\r\n", 0, ErrBadResponse},
		{"unasked 101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				if _, err := s.readRequest(br); err == nil {
					io.WriteString(c, tt.resp)
				}
				// Returning closes the connection.
			})
			p := newPool(t, Config{Addrs: []string{up.addr()}, MaxResponseBodyBytes: tt.max, Timeout: 5 * time.Second})
			j := roundTrip(t, p, get("/"))
			checkBadGateway(t, j, tt.want, up)
		})
	}
}

// TestInterimResponse checks that a 1xx before the final response is skipped.
func TestInterimResponse(t *testing.T) {
	up := startRaw(t, serveFixed("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"+
		httpResponse("200 OK", "", []byte("final")), nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, get("/"))
	if j.Err != nil || j.Resp.Status() != 200 || string(j.Resp.Body()) != "final" {
		t.Fatalf("Err %v, status %d, body %q", j.Err, j.Resp.Status(), j.Resp.Body())
	}
}

// TestNeverSentTwice checks that a request is not sent again when the
// upstream closes the connection after reading it, whatever the method.
func TestNeverSentTwice(t *testing.T) {
	for _, method := range []string{"POST", "GET", "PUT", "DELETE", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				s.readRequest(br) // then close without answering
			})
			p := newPool(t, Config{Addrs: []string{up.addr()}})
			j := roundTrip(t, p, func(req *fasthttp.Request) {
				BuildRequest(req, []byte(method), []byte("/once"), []byte("up.test"),
					hdrs("Host: up.test", "Content-Length: 4"), []byte("data"), nil)
			})
			if j.Err != ErrUpstreamClosed {
				t.Fatalf("Err = %v (%v), want ErrUpstreamClosed", j.Err, j.Cause)
			}
			// Let a retry, if there were one, arrive.
			time.Sleep(100 * time.Millisecond)
			if n := up.requests.Load(); n != 1 {
				t.Fatalf("upstream received the request %d times", n)
			}
		})
	}
}

// TestNeverSentTwiceOnReusedConn covers the classic retry trap: the request
// goes out on a kept-alive connection and the upstream closes it right after
// reading the request.
func TestNeverSentTwiceOnReusedConn(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		io.WriteString(c, httpResponse("200 OK", "", []byte("first")))
		s.readRequest(br) // the second request: close without answering
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
	if j := roundTrip(t, p, get("/1")); j.Err != nil {
		t.Fatalf("first: %v", j.Err)
	}
	j := roundTrip(t, p, func(req *fasthttp.Request) {
		BuildRequest(req, []byte("POST"), []byte("/2"), []byte("up.test"), hdrs("Host: up.test"), []byte("x"), nil)
	})
	if j.Err != ErrUpstreamClosed {
		t.Fatalf("Err = %v (%v), want ErrUpstreamClosed", j.Err, j.Cause)
	}
	time.Sleep(100 * time.Millisecond)
	if n, c := up.requests.Load(), up.accepted.Load(); n != 2 || c != 1 {
		t.Fatalf("upstream read %d requests on %d connections, want 2 on 1", n, c)
	}
}

// TestStaleIdleConn checks that a kept-alive connection the upstream closed
// while idle is noticed before use: the next request goes out once, on a new
// connection, and succeeds.
func TestStaleIdleConn(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		io.WriteString(c, httpResponse("200 OK", "", []byte("ok")))
		// Return: the idle connection is closed, as by a keep-alive timeout.
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
	if j := roundTrip(t, p, get("/1")); j.Err != nil {
		t.Fatalf("first: %v", j.Err)
	}
	time.Sleep(50 * time.Millisecond) // let the FIN arrive
	j := roundTrip(t, p, get("/2"))
	if j.Err != nil {
		if !connProbeSupported {
			t.Skip("no idle-connection probe on this platform")
		}
		t.Fatalf("second: %v (%v)", j.Err, j.Cause)
	}
	if n, c := up.requests.Load(), up.accepted.Load(); n != 2 || c != 2 {
		t.Fatalf("upstream read %d requests on %d connections, want 2 on 2", n, c)
	}
}

// TestOutOfStepConn checks that a connection on which the upstream sent more
// than the response is not reused.
func TestOutOfStepConn(t *testing.T) {
	for _, extra := range []string{"junk", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged"} {
		up := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("real"))+extra, nil))
		p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
		for i := range 2 {
			j := roundTrip(t, p, get("/"))
			if j.Err != nil || string(j.Resp.Body()) != "real" {
				t.Fatalf("request %d: err %v body %q", i, j.Err, j.Resp.Body())
			}
		}
		if c := up.accepted.Load(); c != 2 {
			t.Fatalf("extra %q: %d connections for 2 requests, want 2", extra, c)
		}
	}
}

// TestConnectFailover checks that a refused connection moves on to another
// address (nothing was sent), whichever order the addresses come in.
func TestConnectFailover(t *testing.T) {
	good := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("good")), nil))
	bad := refusedAddr(t)
	for _, addrs := range [][]string{{bad, good.addr()}, {good.addr(), bad}} {
		p := newPool(t, Config{Addrs: addrs})
		for i := range 6 {
			j := roundTrip(t, p, get("/"))
			if j.Err != nil || string(j.Resp.Body()) != "good" || j.Addr != good.addr() {
				t.Fatalf("%v request %d: err %v (%v), body %q, addr %q", addrs, i, j.Err, j.Cause, j.Resp.Body(), j.Addr)
			}
		}
	}
	if n := good.requests.Load(); n != 12 {
		t.Fatalf("good upstream read %d requests, want 12 (each exactly once)", n)
	}
}

func TestAllRefused(t *testing.T) {
	a, b := refusedAddr(t), refusedAddr(t)
	p := newPool(t, Config{Addrs: []string{a, b}})
	j := roundTrip(t, p, get("/"))
	if j.Err != ErrConnect {
		t.Fatalf("Err = %v (%v), want ErrConnect", j.Err, j.Cause)
	}
	if j.Addr != a && j.Addr != b {
		t.Fatalf("Addr %q", j.Addr)
	}
}

// TestBadRequestFraming checks the guard against a request whose header does
// not frame its body (one not built with BuildRequest): it must not reach the
// upstream, where it would desynchronise the connection.
func TestBadRequestFraming(t *testing.T) {
	up := startRaw(t, serveFixed(httpResponse("200 OK", "", nil), nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	tests := map[string]func(req *fasthttp.Request){
		"body without length": func(req *fasthttp.Request) {
			req.Header.SetRequestURI("/")
			req.Header.SetHost("up.test")
			req.SetBodyString("unframed")
		},
		"length differs": func(req *fasthttp.Request) {
			BuildRequest(req, []byte("POST"), []byte("/"), []byte("h"), hdrs("Host: h"), []byte("abc"), nil)
			req.SetBodyString("abcdef")
		},
		"chunked": func(req *fasthttp.Request) {
			BuildRequest(req, []byte("POST"), []byte("/"), []byte("h"), hdrs("Host: h"), nil, nil)
			req.Header.Add("Transfer-Encoding", "chunked")
		},
	}
	for name, build := range tests {
		j := roundTrip(t, p, build)
		if j.Err != ErrBadRequest {
			t.Errorf("%s: Err = %v, want ErrBadRequest", name, j.Err)
		}
	}
	if n := up.accepted.Load(); n != 0 {
		t.Fatalf("upstream saw %d connections", n)
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{ErrTimeout, 504},
		{ErrConnect, 502},
		{ErrUpstreamClosed, 502},
		{ErrBadResponse, 502},
		{ErrBodyTooLarge, 502},
		{ErrBadRequest, 502},
		{ErrOverloaded, 503},
		{ErrClosed, 503},
		{errors.New("something else"), 502},
		{errors.Join(errors.New("wrapped"), ErrTimeout), 504},
	}
	for _, tt := range tests {
		if got := StatusFor(tt.err); got != tt.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// checkBadGateway checks a job that failed with want after up read its one
// request: answered 502, and no body kept.
func checkBadGateway(t *testing.T, j *Job, want error, up *rawServer) {
	t.Helper()
	if j.Err != want {
		t.Fatalf("Err = %v (cause %v), want %v", j.Err, j.Cause, want)
	}
	if StatusFor(j.Err) != 502 {
		t.Errorf("StatusFor = %d, want 502", StatusFor(j.Err))
	}
	if len(j.Resp.Body()) != 0 {
		t.Errorf("Resp keeps a %d-byte body after an error", len(j.Resp.Body()))
	}
	if up.requests.Load() != 1 {
		t.Errorf("upstream read %d requests, want 1", up.requests.Load())
	}
}
