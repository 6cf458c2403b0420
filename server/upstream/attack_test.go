package upstream

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/httpparse"
)

// Tests of the exchange with an origin that a client, or the origin itself,
// tries to make disagree with the proxy: on the host a page is rendered for,
// on which request fields mean what, and on where a response ends.

// longTimeout is the exchange timeout of the tests below that expect a prompt
// failure: a result that only Config.Timeout could produce would come long
// after the test has given up (see within).
const longTimeout = time.Minute

// within submits a job built by build and waits for its Done, failing the test
// if Done has not come after d (chosen far below longTimeout: a result that
// arrives at all is prompt).
func within(t *testing.T, p *Pool, d time.Duration, build func(*fasthttp.Request)) *Job {
	t.Helper()
	j := submitWait(t, p, d, build)
	if j == nil {
		t.Fatalf("no result within %v (exchange timeout %v): the failure was not detected", d, longTimeout)
	}
	return j
}

// TestHostIsTheArgument checks that the Host sent is exactly BuildRequest's
// host argument, once and first, whatever Host fields the client sent: with
// "GET http://victim.test/p" and "Host: evil.test" the cache key names
// victim.test, so the origin must render victim.test's page, not evil.test's.
// It also checks that an absolute-form target goes out in origin-form.
func TestHostIsTheArgument(t *testing.T) {
	tests := []struct {
		name, method, target, host string
		headers                    []httpparse.Header
		want                       string
	}{
		{
			name: "received Host replaced by the argument", method: "GET", target: "/p", host: "victim.test",
			headers: hdrs("Host: evil.test", "X-A: 1"),
			want:    "GET /p HTTP/1.1\r\nHost: victim.test\r\nX-A: 1\r\n\r\n",
		},
		{
			name: "absolute-form: authority wins, origin-form sent", method: "GET",
			target: "http://victim.test/p?q=1", host: "victim.test",
			headers: hdrs("X-A: 1", "Host: evil.test"),
			want:    "GET /p?q=1 HTTP/1.1\r\nHost: victim.test\r\nX-A: 1\r\n\r\n",
		},
		{
			name: "every Host field dropped, any case", method: "GET", target: "/", host: "victim.test",
			headers: hdrs("hOsT: evil.test", "X-A: 1", "HOST: evil2.test", "host:"),
			want:    "GET / HTTP/1.1\r\nHost: victim.test\r\nX-A: 1\r\n\r\n",
		},
		{
			name: "Host named in Connection: still exactly one", method: "GET", target: "/", host: "victim.test",
			headers: hdrs("Connection: host", "Host: evil.test"),
			want:    "GET / HTTP/1.1\r\nHost: victim.test\r\n\r\n",
		},
		{
			name: "absolute-form without a path", method: "GET", target: "HTTP://victim.test", host: "victim.test",
			want: "GET / HTTP/1.1\r\nHost: victim.test\r\n\r\n",
		},
		{
			name: "absolute-form OPTIONS without a path", method: "OPTIONS", target: "http://victim.test:8080",
			host: "victim.test:8080",
			want: "OPTIONS * HTTP/1.1\r\nHost: victim.test:8080\r\n\r\n",
		},
		{
			name: "https absolute-form", method: "GET", target: "https://victim.test/a/b", host: "victim.test",
			want: "GET /a/b HTTP/1.1\r\nHost: victim.test\r\n\r\n",
		},
		{
			name: "absolute-form with a query right after the authority", method: "GET",
			target: "http://victim.test?x=1", host: "victim.test",
			want: "GET /?x=1 HTTP/1.1\r\nHost: victim.test\r\n\r\n",
		},
		{
			name: "asterisk-form kept", method: "OPTIONS", target: "*", host: "victim.test",
			want: "OPTIONS * HTTP/1.1\r\nHost: victim.test\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req fasthttp.Request
			BuildRequest(&req, []byte(tt.method), []byte(tt.target), []byte(tt.host), tt.headers, nil, nil)
			if got := wire(&req); got != tt.want {
				t.Errorf("wire:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestHostOnTheWire is TestHostIsTheArgument's first case against a real
// origin: the bytes that arrive carry one Host line, the argument's.
func TestHostOnTheWire(t *testing.T) {
	got := make(chan rawRequest, 1)
	up := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("ok")), got))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, func(req *fasthttp.Request) {
		BuildRequest(req, []byte("GET"), []byte("http://victim.test/p"), []byte("victim.test"),
			hdrs("Host: evil.test", "X-Forwarded-Host: evil.test"), nil, &Forward{ForwardedHost: true})
	})
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	r := <-got
	want := "GET /p HTTP/1.1\r\nHost: victim.test\r\nX-Forwarded-Host: victim.test\r\n\r\n"
	if string(r.head) != want {
		t.Fatalf("upstream got\n%q\nwant\n%q", r.head, want)
	}
}

// TestForwardedHost checks Forward.ForwardedHost: every received
// X-Forwarded-Host is dropped (a client must not choose the host an origin
// that trusts it renders for) and the host argument is sent.
func TestForwardedHost(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		headers []httpparse.Header
		fw      *Forward
		want    string
	}{
		{
			name: "received fields replaced", host: "victim.test",
			headers: hdrs("Host: victim.test", "X-Forwarded-Host: evil.test", "x-forwarded-HOST: evil2.test", "X-A: 1"),
			fw:      &Forward{ForwardedHost: true, Proto: "http"},
			want: "GET / HTTP/1.1\r\nHost: victim.test\r\nX-A: 1\r\nX-Forwarded-Proto: http\r\n" +
				"X-Forwarded-Host: victim.test\r\n\r\n",
		},
		{
			name: "none received: added", host: "victim.test:8080",
			headers: hdrs("Host: victim.test:8080"),
			fw:      &Forward{ForwardedHost: true},
			want:    "GET / HTTP/1.1\r\nHost: victim.test:8080\r\nX-Forwarded-Host: victim.test:8080\r\n\r\n",
		},
		{
			name: "empty host: received fields dropped, none sent", host: "",
			headers: hdrs("X-Forwarded-Host: evil.test"),
			fw:      &Forward{ForwardedHost: true},
			want:    "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		},
		{
			name: "option off: the client's passes", host: "victim.test",
			headers: hdrs("X-Forwarded-Host: other.test"),
			fw:      &Forward{},
			want:    "GET / HTTP/1.1\r\nHost: victim.test\r\nX-Forwarded-Host: other.test\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req fasthttp.Request
			BuildRequest(&req, []byte("GET"), []byte("/"), []byte(tt.host), tt.headers, nil, tt.fw)
			if got := wire(&req); got != tt.want {
				t.Errorf("wire:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestUnderscoreFieldsDropped checks that a request field whose name holds '_'
// never reaches the origin: CGI, WSGI and Rack turn '-' into '_', so
// "Content_Length" or "X_Forwarded_For" would land on the same variable as the
// real field (and could override the one the proxy sets).
func TestUnderscoreFieldsDropped(t *testing.T) {
	var req fasthttp.Request
	BuildRequest(&req, []byte("POST"), []byte("/"), []byte("h"),
		hdrs("Host: h", "Content_Length: 100", "X_Forwarded_For: 6.6.6.6", "x_forwarded_proto: https",
			"X_FORWARDED_HOST: evil.test", "Transfer_Encoding: chunked", "_: x", "X-Ok: 1", "Content-Length: 2"),
		[]byte("hi"), &Forward{ClientIP: []byte("10.0.0.7"), Proto: "http", ForwardedHost: true})
	want := "POST / HTTP/1.1\r\nHost: h\r\nX-Ok: 1\r\nX-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: h\r\nContent-Length: 2\r\n\r\nhi"
	if got := wire(&req); got != want {
		t.Fatalf("wire:\n got %q\nwant %q", got, want)
	}
}

// TestVisitAllResponse checks that VisitAllResponse shows the fields a
// Connection field names (the ones a cache must still judge the response on),
// marked hop, while VisitResponse skips them.
func TestVisitAllResponse(t *testing.T) {
	resp := readResponse(t, "HTTP/1.1 200 OK\r\nCache-Control: private\r\nSet-Cookie: s=1\r\n"+
		"Connection: Set-Cookie, cache-control\r\nX-End: e\r\nContent-Length: 2\r\n\r\nok")
	type hf struct {
		name, value string
		hop         bool
	}
	var got []hf
	visitAllResponse(resp, func(name, value []byte, hop bool) {
		got = append(got, hf{string(name), string(value), hop})
	})
	want := []hf{
		{"Set-Cookie", "s=1", true}, {"Cache-Control", "private", true},
		{"Connection", "Set-Cookie, cache-control", true}, {"X-End", "e", false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
	if v := visit(resp); len(v) != 1 || v[0] != (field{"X-End", "e"}) {
		t.Errorf("VisitResponse visited %q, want only X-End", v)
	}
}

func TestVisitAllResponseAllocs(t *testing.T) {
	resp := readResponse(t, benchResponse)
	n := 0
	fn := func(name, value []byte, hop bool) { n++ }
	if a := testing.AllocsPerRun(100, func() { visitAllResponse(resp, fn) }); a != 0 {
		t.Fatalf("VisitAllResponse allocates %v times per call", a)
	}
	if n == 0 {
		t.Fatal("no field visited")
	}
}

// TestResponseDisagreements checks responses that a lenient reader would frame
// differently from a strict one, or that leave the proxy waiting for bytes
// that never come. Each must fail promptly with a 502 (the origin keeps the
// connection open unless closeAfter is set, so that only the proxy's own
// judgement can end the exchange before Timeout), and a 1xx interim
// response must not smuggle a final response in a body.
func TestResponseDisagreements(t *testing.T) {
	tests := []struct {
		name       string
		resp       string
		closeAfter bool
		want       error
	}{
		{name: "LF-only head", resp: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", want: ErrBadResponse},
		{name: "LF-only head, then close", resp: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", closeAfter: true, want: ErrBadResponse},
		{name: "one bare LF in a CRLF head", resp: "HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "LF-only status line", resp: "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "bare CR", resp: "HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "bare LF before the status line", resp: "\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "obs-fold", resp: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "whitespace before the first field", resp: "HTTP/1.1 200 OK\r\n Content-Length: 9\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "status 000", resp: "HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "status 099", resp: "HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "HTTP/2.0 status line", resp: "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", want: ErrBadResponse},
		{name: "1xx with a body, nothing after", resp: "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello", want: ErrBadResponse},
		{name: "1xx with a body, then close", resp: "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello", closeAfter: true, want: ErrBadResponse},
		{
			name: "1xx whose body is a response",
			resp: "HTTP/1.1 103 Early Hints\r\nContent-Length: 42\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil" + httpResponse("200 OK", "", []byte("real")),
			want: ErrBadResponse,
		},
		{
			name: "1xx chunked",
			resp: "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nevil\r\n0\r\n\r\n" +
				httpResponse("200 OK", "", []byte("real")),
			want: ErrBadResponse,
		},
		{name: "1xx then bytes that are no response", resp: "HTTP/1.1 103 Early Hints\r\n\r\nhello", want: ErrBadResponse},
		{name: "body shorter than Content-Length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", want: ErrStalled},
		{name: "body shorter than Content-Length, then close", resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", closeAfter: true, want: ErrUpstreamClosed},
		{name: "chunked body that stops", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", want: ErrStalled},
		{name: "head that stops", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", want: ErrStalled},
		{name: "status line that stops", resp: "HTTP/1.1 20", want: ErrStalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				if _, err := s.readRequest(br); err != nil {
					return
				}
				if _, err := io.WriteString(c, tt.resp); err != nil || tt.closeAfter {
					return
				}
				io.Copy(io.Discard, br) // keep the connection open until the proxy closes it
			})
			// A short idle limit keeps the stall cases quick; the
			// others would fail the same way without one.
			p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: longTimeout,
				ResponseIdleTimeout: 300 * time.Millisecond})
			j := within(t, p, 15*time.Second, get("/"))
			checkBadGateway(t, j, tt.want, up)
		})
	}
}

// TestStallDefaultIdle checks that the default configuration (no
// ResponseIdleTimeout) also ends a body shorter than its Content-Length, on a
// connection the upstream keeps open, long before Timeout.
func TestStallDefaultIdle(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
		io.Copy(io.Discard, br)
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: longTimeout})
	if got := p.Config().ResponseIdleTimeout; got != DefaultMaxResponseIdleTimeout {
		t.Fatalf("default ResponseIdleTimeout %v, want %v", got, DefaultMaxResponseIdleTimeout)
	}
	j := within(t, p, 20*time.Second, get("/"))
	if j.Err != ErrStalled || StatusFor(j.Err) != 502 {
		t.Fatalf("Err = %v (%v), want ErrStalled", j.Err, j.Cause)
	}
}

// TestAcceptedOddities checks what checkHead must keep accepting: empty lines
// before the status line, a 1xx with Content-Length: 0, several interim
// responses, a status line without reason phrase, and that the connection
// stays in step afterwards.
func TestAcceptedOddities(t *testing.T) {
	resp := "\r\nHTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </b.css>; rel=preload\r\n\r\n" +
		"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nfinal"
	up := startRaw(t, serveFixed(resp, nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1, Timeout: longTimeout})
	for i := range 3 {
		j := within(t, p, 15*time.Second, get("/"))
		if j.Err != nil || j.Resp.Status() != 200 || string(j.Resp.Body()) != "final" {
			t.Fatalf("request %d: Err %v (%v), status %d, body %q", i, j.Err, j.Cause, j.Resp.Status(), j.Resp.Body())
		}
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests, want 1", n)
	}
}

// TestTooManyInterim checks that an endless run of 1xx responses ends the
// exchange rather than holding a worker until Timeout.
func TestTooManyInterim(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		for {
			if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\n\r\n"); err != nil {
				return
			}
		}
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: longTimeout})
	j := within(t, p, 15*time.Second, get("/"))
	if j.Err != ErrBadResponse {
		t.Fatalf("Err = %v (%v), want ErrBadResponse", j.Err, j.Cause)
	}
}

// TestIdleLimitOnlyInsideResponses checks that ResponseIdleTimeout bounds
// silences inside a response and nothing else: the origin may think longer
// than it before the response begins, and again after an interim response,
// and a body that keeps arriving may take longer than it in all.
func TestIdleLimitOnlyInsideResponses(t *testing.T) {
	const idle = 100 * time.Millisecond
	pause := func() { time.Sleep(3 * idle) } // a silence the idle limit would end
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		pause()
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
		pause()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
		for _, b := range "trickled" {
			time.Sleep(idle / 4)
			if _, err := io.WriteString(c, string(b)); err != nil {
				return
			}
		}
		io.Copy(io.Discard, br)
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: longTimeout, ResponseIdleTimeout: idle})
	j := within(t, p, 15*time.Second, get("/"))
	if j.Err != nil || string(j.Resp.Body()) != "trickled" {
		t.Fatalf("Err %v (%v), body %q", j.Err, j.Cause, j.Resp.Body())
	}
}

// TestCheckHead runs checkHead on heads fed in pieces, as they arrive.
func TestCheckHead(t *testing.T) {
	tests := []struct {
		head string
		want error
	}{
		{"HTTP/1.1 200 OK\r\n\r\n", nil},
		{"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\n", nil},
		{"\r\n\r\nHTTP/1.1 204\r\n\r\n", nil},
		{"HTTP/1.1 200 OK\r\nX: a\tb\r\n\r\n", nil},
		{"HTTP/1.1  200 OK\r\n\r\n", nil}, // fasthttp skips extra spaces too
		{"HTTP/1.1 200 OK\n\n", errBareLF},
		{"HTTP/1.1 200 OK\r\nX: 1\n\r\n", errBareLF},
		{"HTTP/1.1 200 OK\r\nX: 1\r\n\n", errBareLF},
		{"HTTP/1.1 200 OK\r\nX: 1\r2\r\n\r\n", errBareCR},
		{"HTTP/1.1 200 OK\r\nX: 1\r\n\tmore\r\n\r\n", errObsFold},
		{"HTTP/1.1 200OK\r\n\r\n", errBadStatus},
		{"HTTP/1.1 20\r\n\r\n", errBadStatus},
		{"HTTP/1.1 2000\r\n\r\n", errBadStatus},
		{"HTTP/1.1 050 X\r\n\r\n", errBadStatus},
		{"HTTP/1.x 200 OK\r\n\r\n", errBadStatus},
		{"HTTP/1.1\r\n\r\n", errBadStatus},
		{"HTTP/1.1 ", io.EOF},
		{"HTTX/1.1 200 OK\r\n\r\n", errNotHTTP1},
		{"http/1.1 200 OK\r\n\r\n", errNotHTTP1},
		{"hello", errNotHTTP1},
		{"", io.EOF},
		{"\r\n", io.EOF},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 3, len(tt.head) + 1} {
			br := bufio.NewReaderSize(&dripReader{s: tt.head, step: step}, 64)
			err := checkHead(br)
			if err != tt.want {
				t.Errorf("%q in pieces of %d: %v, want %v", tt.head, step, err, tt.want)
			}
			if br.Buffered() > len(tt.head) {
				t.Errorf("%q: consumed input", tt.head)
			}
		}
	}
	// A head that does not fit in the buffer.
	br := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nX: "+strings.Repeat("x", 100)+"\r\n\r\n"), 64)
	if err := checkHead(br); err != errHeadTooLarge {
		t.Errorf("oversized head: %v, want errHeadTooLarge", err)
	}
}

// dripReader hands out s step bytes per Read.
type dripReader struct {
	s    string
	step int
}

func (d *dripReader) Read(b []byte) (int, error) {
	if d.s == "" {
		return 0, io.EOF
	}
	n := copy(b, d.s[:min(d.step, len(d.s))])
	d.s = d.s[n:]
	return n, nil
}
