package upstream

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// field is one visited response header field.
type field struct{ name, value string }

func visit(resp *fasthttp.Response) []field {
	var out []field
	visitResponse(resp, func(name, value []byte) {
		out = append(out, field{string(name), string(value)})
	})
	return out
}

// TestRequestOnTheWire checks the exact bytes the upstream receives: no field
// added by fasthttp (User-Agent, Content-Type, Connection), everything the
// client sent (odd case, duplicates, unknown fields, order) passing, and the
// proxy's own fields where BuildRequest puts them.
func TestRequestOnTheWire(t *testing.T) {
	got := make(chan rawRequest, 1)
	up := startRaw(t, serveFixed(httpResponse("204 No Content", "", nil), got))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, func(req *fasthttp.Request) {
		BuildRequest(req, []byte("GET"), []byte("/x//y?a=%20&b"), []byte("Up.Test"),
			hdrs("hoST: Up.Test", "X-Dup: 1", "x-dup: 2", "X-Unknown-Thing: ~!", "Cookie: a=1",
				"Cookie: b=2", "Connection: X-Hop", "X-Hop: h", "Upgrade: h2c", "X-Forwarded-For: 1.2.3.4",
				"x-forwarded-proto: https", "Accept-Encoding: br", "If-None-Match: \"q\""), nil,
			&Forward{ClientIP: []byte("127.0.0.9"), Proto: "http", Via: "1.1 mcpage",
				AcceptEncoding: []byte("gzip"), StripConditional: true})
	})
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	r := <-got
	want := "GET /x//y?a=%20&b HTTP/1.1\r\nHost: Up.Test\r\nX-Dup: 1\r\nx-dup: 2\r\nX-Unknown-Thing: ~!\r\n" +
		"Cookie: a=1\r\nCookie: b=2\r\nX-Forwarded-For: 1.2.3.4, 127.0.0.9\r\nVia: 1.1 mcpage\r\n" +
		"X-Forwarded-Proto: http\r\nAccept-Encoding: gzip\r\n\r\n"
	if string(r.head) != want {
		t.Fatalf("upstream got\n%q\nwant\n%q", r.head, want)
	}
	if j.Addr != up.addr() {
		t.Errorf("Addr = %q, want %q", j.Addr, up.addr())
	}
}

// TestResponseFields checks that the response's end-to-end fields reach
// VisitResponse as received and that hop-by-hop ones and Content-Length do
// not, and that no Content-Type is invented.
func TestResponseFields(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\n" +
		"x-lower: a\r\nX-UPPER: b\r\nX-Dup: 1\r\nx-dup: 2\r\n" +
		"Set-Cookie: a=1; Path=/\r\nset-cookie: b=2; HttpOnly\r\nSet-Cookie: a=3\r\n" +
		"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\nUpgrade: nothing\r\nTE: trailers\r\n" +
		"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nCache-Control: max-age=60\r\nETag: \"e\"\r\n" +
		"X-Empty:\r\nContent-Length: 5\r\n\r\nhello"
	up := startRaw(t, serveFixed(resp, nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, get("/"))
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	want := []field{
		{"Set-Cookie", "a=1; Path=/"}, {"Set-Cookie", "b=2; HttpOnly"}, {"Set-Cookie", "a=3"},
		{"x-lower", "a"}, {"X-UPPER", "b"}, {"X-Dup", "1"}, {"x-dup", "2"},
		{"Date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"Cache-Control", "max-age=60"}, {"ETag", "\"e\""},
		{"X-Empty", ""},
	}
	got := visit(&j.Resp.r)
	if len(got) != len(want) {
		t.Fatalf("visited %d fields, want %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}
	if ct := j.Resp.r.Header.ContentType(); len(ct) != 0 {
		t.Errorf("Content-Type %q invented", ct)
	}
	if string(j.Resp.Body()) != "hello" {
		t.Errorf("body %q", j.Resp.Body())
	}
}

func TestResponseSpecialFields(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\ncontent-type: text/x-odd\r\nCONTENT-ENCODING: gzip\r\nserver: tiny\r\n" +
		"Connection: close, X-Gone\r\nX-Gone: 1\r\nContent-Length: 0\r\n\r\n"
	up := startRaw(t, serveFixed(resp, nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, get("/"))
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	want := []field{{"Content-Type", "text/x-odd"}, {"Content-Encoding", "gzip"}, {"Server", "tiny"}}
	got := visit(&j.Resp.r)
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestOddStatuses(t *testing.T) {
	tests := []struct {
		line   string
		code   int
		reason string
	}{
		{"299 Odd Success", 299, "Odd Success"},
		{"499 Client Closed Request", 499, "Client Closed Request"},
		{"599 Network Connect Timeout Error", 599, "Network Connect Timeout Error"},
		{"200 Everything  Is   Fine ", 200, "Everything  Is   Fine "},
		{"404 ", 404, ""},
		{"418", 418, ""},
		{"203 Non-Authoritative Information", 203, "Non-Authoritative Information"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			up := startRaw(t, serveFixed("HTTP/1.1 "+tt.line+"\r\nContent-Length: 2\r\n\r\nok", nil))
			p := newPool(t, Config{Addrs: []string{up.addr()}})
			j := roundTrip(t, p, get("/"))
			if j.Err != nil {
				t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
			}
			if got := j.Resp.r.Header.StatusCode(); got != tt.code {
				t.Errorf("status %d, want %d", got, tt.code)
			}
			if got := string(j.Resp.r.Header.StatusMessage()); got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
			if string(j.Resp.Body()) != "ok" {
				t.Errorf("body %q", j.Resp.Body())
			}
		})
	}
}

// TestHead checks that a HEAD's response is read without a body (it declares
// a length it does not send), that the connection stays in step for the next
// request, and that ForceGET turns a HEAD into a GET that reads the body.
func TestHead(t *testing.T) {
	got := make(chan rawRequest, 3)
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			r, err := s.readRequest(br)
			if err != nil {
				return
			}
			got <- r
			out := httpResponse("200 OK", "", []byte("0123456789"))
			if bytes.HasPrefix(r.head, []byte("HEAD ")) {
				out = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			}
			io.WriteString(c, out)
		}
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
	head := func(force bool) func(*fasthttp.Request) {
		return func(req *fasthttp.Request) {
			BuildRequest(req, []byte("HEAD"), []byte("/h"), []byte("up.test"), hdrs("Host: up.test"), nil,
				&Forward{ForceGET: force})
		}
	}
	j := roundTrip(t, p, head(false))
	if j.Err != nil || len(j.Resp.Body()) != 0 || j.Resp.r.Header.ContentLength() != 10 {
		t.Fatalf("HEAD: err %v, body %q, length %d", j.Err, j.Resp.Body(), j.Resp.r.Header.ContentLength())
	}
	if r := <-got; !bytes.HasPrefix(r.head, []byte("HEAD /h ")) {
		t.Fatalf("upstream got %q", r.head)
	}
	j = roundTrip(t, p, head(true))
	if j.Err != nil || string(j.Resp.Body()) != "0123456789" {
		t.Fatalf("forced GET: err %v, body %q", j.Err, j.Resp.Body())
	}
	if r := <-got; !bytes.HasPrefix(r.head, []byte("GET /h ")) {
		t.Fatalf("upstream got %q", r.head)
	}
	j = roundTrip(t, p, get("/after"))
	if j.Err != nil || string(j.Resp.Body()) != "0123456789" {
		t.Fatalf("GET after HEAD: err %v, body %q", j.Err, j.Resp.Body())
	}
	<-got
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("%d connections for three requests, want 1 (kept alive)", n)
	}
}

// TestLargeRequestBody checks that a 1 MB POST body arrives byte for byte.
func TestLargeRequestBody(t *testing.T) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(rand.Uint32())
	}
	got := make(chan rawRequest, 1)
	up := startRaw(t, serveFixed(httpResponse("201 Created", "", nil), got))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, func(req *fasthttp.Request) {
		BuildRequest(req, []byte("POST"), []byte("/upload"), []byte("up.test"),
			hdrs("Host: up.test", "Content-Type: application/octet-stream", "Transfer-Encoding: chunked"), body, nil)
	})
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	r := <-got
	if !bytes.Contains(r.head, []byte("\r\nContent-Length: 1048576\r\n")) || bytes.Contains(r.head, []byte("chunked")) {
		t.Errorf("head %q", r.head)
	}
	if !bytes.Equal(r.body, body) {
		t.Fatalf("body differs at the upstream (%d bytes, want %d)", len(r.body), len(body))
	}
	if j.Resp.Status() != 201 {
		t.Errorf("status %d", j.Resp.Status())
	}
}

// chunk frames body as a chunked message body in pieces of at most size
// bytes, with a chunk extension and a trailer.
func chunk(body []byte, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		b.WriteString(strconv.FormatInt(int64(n), 16) + ";ext=1\r\n")
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\nX-Trailer: t\r\n\r\n")
	return b.String()
}

// TestBinaryBodies checks response bodies byte for byte, framed by
// Content-Length, chunked and by closing the connection.
func TestBinaryBodies(t *testing.T) {
	for _, size := range []int{0, 1, 70000, 3000000} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(rand.Uint32())
		}
		framings := map[string]string{
			"length":  httpResponse("200 OK", "Content-Type: application/octet-stream\r\n", body),
			"chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n" + chunk(body, 8191),
			"close":   "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + string(body),
		}
		for framing, resp := range framings {
			t.Run(strconv.Itoa(size)+"/"+framing, func(t *testing.T) {
				up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
					if _, err := s.readRequest(br); err == nil {
						io.WriteString(c, resp)
					}
				})
				p := newPool(t, Config{Addrs: []string{up.addr()}})
				j := roundTrip(t, p, get("/bin"))
				if j.Err != nil {
					t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
				}
				if got := j.Resp.Body(); sha256.Sum256(got) != sha256.Sum256(body) {
					t.Fatalf("body differs: %d bytes, want %d", len(got), len(body))
				}
				for _, f := range visit(&j.Resp.r) {
					if httpbytes.IsHopByHop([]byte(f.name)) || strings.EqualFold(f.name, "Content-Length") ||
						strings.EqualFold(f.name, "X-Trailer") {
						t.Errorf("visited %q", f)
					}
				}
			})
		}
	}
}

// TestGzipNotDecoded checks that a compressed body is handed over as sent.
func TestGzipNotDecoded(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	io.WriteString(zw, strings.Repeat("compressible ", 1000))
	zw.Close()
	up := startRaw(t, serveFixed(httpResponse("200 OK", "Content-Encoding: gzip\r\nContent-Type: text/plain\r\n", zb.Bytes()), nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}})
	j := roundTrip(t, p, get("/z"))
	if j.Err != nil {
		t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
	}
	if !bytes.Equal(j.Resp.Body(), zb.Bytes()) {
		t.Fatalf("body changed: %d bytes, want the %d gzip bytes sent", len(j.Resp.Body()), zb.Len())
	}
	found := false
	for _, f := range visit(&j.Resp.r) {
		if f == (field{"Content-Encoding", "gzip"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("Content-Encoding: gzip not visited")
	}
}

// TestLoadBalanced checks that two addresses share sequential jobs.
func TestLoadBalanced(t *testing.T) {
	a := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("a")), nil))
	b := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("b")), nil))
	p := newPool(t, Config{Addrs: []string{a.addr(), "http://" + b.addr() + "/"}})
	seen := map[string]int{}
	for range 20 {
		j := roundTrip(t, p, get("/"))
		if j.Err != nil {
			t.Fatalf("Err = %v (%v)", j.Err, j.Cause)
		}
		seen[string(j.Resp.Body())]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || seen["a"]+seen["b"] != 20 {
		t.Fatalf("distribution %v, want both addresses used", seen)
	}
}
