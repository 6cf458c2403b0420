package upstream

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/httpparse"
)

// hdrs turns "Name: value" lines into parsed fields (the value as a parser
// hands it over: without surrounding whitespace).
func hdrs(lines ...string) []httpparse.Header {
	out := make([]httpparse.Header, 0, len(lines))
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			panic("bad header line " + l)
		}
		out = append(out, httpparse.Header{Name: []byte(name), Value: []byte(strings.TrimSpace(value))})
	}
	return out
}

// wire is what BuildRequest's result puts on the wire (as the pool sends it).
func wire(req *fasthttp.Request) string {
	return string(req.Header.AppendBytes(nil)) + string(req.Body())
}

func TestBuildRequest(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		host    string
		headers []httpparse.Header
		body    string
		fw      *Forward
		want    string
	}{
		{
			name:   "unknown, odd-case and duplicate fields pass in order",
			method: "GET", target: "/a/b?c=d&e", host: "Example.COM",
			headers: hdrs("hOsT: Example.COM", "X-Custom: 1", "x-custom: 2", "ACCEPT: */*",
				"Cookie: a=1", "cookie: b=2; c=3", "User-Agent: curl/8", "X-Empty:", "weird-name: v  w"),
			want: "GET /a/b?c=d&e HTTP/1.1\r\nHost: Example.COM\r\nX-Custom: 1\r\nx-custom: 2\r\nACCEPT: */*\r\n" +
				"Cookie: a=1\r\ncookie: b=2; c=3\r\nUser-Agent: curl/8\r\nX-Empty: \r\nweird-name: v  w\r\n\r\n",
		},
		{
			name:   "target passes byte for byte",
			method: "GET", target: "/p//q/../r?x=%2F&&y#frag", host: "h",
			headers: hdrs("Host: h"),
			want:    "GET /p//q/../r?x=%2F&&y#frag HTTP/1.1\r\nHost: h\r\n\r\n",
		},
		{
			name:   "empty query kept; absolute-form target reduced to origin-form, Host from the argument",
			method: "OPTIONS", target: "http://h.example/x?", host: "h.example",
			headers: hdrs("Host: other"),
			want:    "OPTIONS /x? HTTP/1.1\r\nHost: h.example\r\n\r\n",
		},
		{
			name:   "hop-by-hop and Connection-named fields stripped, Expect dropped",
			method: "POST", target: "/", host: "h",
			headers: hdrs("Host: h", "Connection: keep-alive, X-Secret,  x-other ", "X-Secret: 1",
				"Keep-Alive: timeout=5", "Proxy-Connection: keep-alive", "TE: trailers", "Trailer: X-T",
				"Transfer-Encoding: chunked", "Upgrade: websocket", "x-SECRET: 2", "X-Other: 3",
				"Expect: 100-continue", "X-Kept: yes", "connection: X-Late", "X-Late: gone"),
			body: "hello",
			want: "POST / HTTP/1.1\r\nHost: h\r\nX-Kept: yes\r\nContent-Length: 5\r\n\r\nhello",
		},
		{
			name:   "X-Forwarded-For created, Via created, Proto set",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h"),
			fw:      &Forward{ClientIP: []byte("10.0.0.7"), Proto: "http", Via: "1.1 mcpage"},
			want: "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\nVia: 1.1 mcpage\r\n" +
				"X-Forwarded-Proto: http\r\n\r\n",
		},
		{
			name:   "X-Forwarded-For and Via appended to the last field received",
			method: "GET", target: "/", host: "h",
			headers: hdrs("x-forwarded-for: 1.1.1.1", "Host: h", "X-Forwarded-For: 2.2.2.2, 3.3.3.3",
				"VIA: 1.0 fred", "X-Forwarded-Proto: https", "x-forwarded-PROTO: ftp", "X-A: b"),
			fw: &Forward{ClientIP: []byte("10.0.0.7"), Proto: "http", Via: "1.1 mcpage"},
			want: "GET / HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 1.1.1.1\r\n" +
				"X-Forwarded-For: 2.2.2.2, 3.3.3.3, 10.0.0.7\r\nVIA: 1.0 fred, 1.1 mcpage\r\nX-A: b\r\n" +
				"X-Forwarded-Proto: http\r\n\r\n",
		},
		{
			name:   "empty X-Forwarded-For gets the address alone",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "X-Forwarded-For:"),
			fw:      &Forward{ClientIP: []byte("::1")},
			want:    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: ::1\r\n\r\n",
		},
		{
			name:   "Connection naming X-Forwarded-For drops the client's; ours is still added",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "X-Forwarded-For: 6.6.6.6", "Connection: x-forwarded-for"),
			fw:      &Forward{ClientIP: []byte("10.0.0.7")},
			want:    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n",
		},
		{
			name:   "without Proto the client's X-Forwarded-Proto passes",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "X-Forwarded-Proto: https"),
			fw:      &Forward{},
			want:    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n",
		},
		{
			name:   "Accept-Encoding replaced, conditionals stripped, HEAD sent as GET",
			method: "HEAD", target: "/page", host: "h",
			headers: hdrs("Host: h", "Accept-Encoding: br, zstd", "accept-encoding: deflate",
				"If-None-Match: \"x\"", "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT", "if-match: *",
				"If-Unmodified-Since: Wed, 21 Oct 2015 07:28:00 GMT", "If-Range: \"y\"", "Range: bytes=0-1"),
			fw: &Forward{AcceptEncoding: []byte("gzip"), StripConditional: true, ForceGET: true},
			want: "GET /page HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n" +
				"Accept-Encoding: gzip\r\n\r\n",
		},
		{
			name:   "StripRange drops every Range, any case",
			method: "GET", target: "/page", host: "h",
			headers: hdrs("Host: h", "Range: bytes=0-1", "X-Range: keep", "RANGE: bytes=-1", "If-Range: \"y\""),
			fw:      &Forward{StripRange: true},
			want:    "GET /page HTTP/1.1\r\nHost: h\r\nX-Range: keep\r\nIf-Range: \"y\"\r\n\r\n",
		},
		{
			name:   "nil AcceptEncoding and no StripConditional leave them alone",
			method: "HEAD", target: "/", host: "h",
			headers: hdrs("Host: h", "Accept-Encoding: br", "If-None-Match: \"x\""),
			fw:      &Forward{},
			want:    "HEAD / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br\r\nIf-None-Match: \"x\"\r\n\r\n",
		},
		{
			name:   "empty non-nil AcceptEncoding sends an empty field",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "Accept-Encoding: br"),
			fw:      &Forward{AcceptEncoding: []byte{}},
			want:    "GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: \r\n\r\n",
		},
		{
			name:   "ForceGET leaves other methods alone",
			method: "POST", target: "/", host: "h",
			headers: hdrs("Host: h", "Content-Length: 1"),
			body:    "x",
			fw:      &Forward{ForceGET: true},
			want:    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		},
		{
			name:   "no Host field: the host argument goes first",
			method: "GET", target: "/", host: "h.example:8080",
			headers: hdrs("Accept: x"),
			want:    "GET / HTTP/1.1\r\nHost: h.example:8080\r\nAccept: x\r\n\r\n",
		},
		{
			name:   "no Host anywhere: an empty Host",
			method: "GET", target: "/", host: "",
			headers: nil,
			want:    "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		},
		{
			name:   "de-chunked body gets a Content-Length",
			method: "PUT", target: "/u", host: "h",
			headers: hdrs("Host: h", "Transfer-Encoding: chunked", "Content-Type: text/plain"),
			body:    "0123456789",
			want:    "PUT /u HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n0123456789",
		},
		{
			name:   "empty framed body keeps Content-Length: 0",
			method: "POST", target: "/", host: "h",
			headers: hdrs("Host: h", "content-length: 0"),
			want:    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name:   "GET with a body keeps it",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "Content-Length: 3"),
			body:    "abc",
			want:    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		},
		{
			name:   "long X-Forwarded-For",
			method: "GET", target: "/", host: "h",
			headers: hdrs("Host: h", "X-Forwarded-For: "+strings.Repeat("1.2.3.4, ", 40)+"5.6.7.8"),
			fw:      &Forward{ClientIP: []byte("9.9.9.9")},
			want: "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " + strings.Repeat("1.2.3.4, ", 40) +
				"5.6.7.8, 9.9.9.9\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req fasthttp.Request
			// A dirty destination: BuildRequest must reset it.
			req.Header.SetMethod("DELETE")
			req.Header.Set("X-Stale", "1")
			req.SetBodyString("stale body")
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			BuildRequest(&req, []byte(tt.method), []byte(tt.target), []byte(tt.host), tt.headers, body, tt.fw)
			if got := wire(&req); got != tt.want {
				t.Errorf("wire:\n got %q\nwant %q", got, tt.want)
			}
			if !framingOK(&req.Header, len(req.Body())) {
				t.Errorf("framing does not match the body")
			}
		})
	}
}

// TestBuildRequestCopies checks that nothing refers to the caller's buffers
// afterwards: they are the connection's and are reused at once.
func TestBuildRequestCopies(t *testing.T) {
	buf := []byte("POST/x?yHostexample.orgX-A1X-Forwarded-For1.1.1.1payload")
	view := func(s string) []byte {
		i := bytes.Index(buf, []byte(s))
		return buf[i : i+len(s) : i+len(s)]
	}
	headers := []httpparse.Header{
		{Name: view("Host"), Value: view("example.org")},
		{Name: view("X-A"), Value: view("1")},
		{Name: view("X-Forwarded-For"), Value: view("1.1.1.1")},
	}
	var req fasthttp.Request
	BuildRequest(&req, view("POST"), view("/x?y"), view("example.org"), headers, view("payload"),
		&Forward{ClientIP: []byte("2.2.2.2")})
	want := wire(&req)
	for i := range buf {
		buf[i] = '#'
	}
	if got := wire(&req); got != want {
		t.Fatalf("request changed when the input buffer was overwritten:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(want, "X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n") || !strings.HasSuffix(want, "payload") {
		t.Fatalf("unexpected request %q", want)
	}
}

// TestBuildRequestAddAfter checks the lead's use: fields added with Add* after
// BuildRequest go out after the others, as given.
func TestBuildRequestAddAfter(t *testing.T) {
	var req fasthttp.Request
	BuildRequest(&req, []byte("GET"), []byte("/"), []byte("h"), hdrs("Host: h"), nil, nil)
	req.Header.AddBytesV("If-None-Match", []byte(`"v1"`))
	req.Header.AddBytesV("if-modified-since", []byte("x"))
	want := "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\nif-modified-since: x\r\n\r\n"
	if got := wire(&req); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestBuildRequestAllocs(t *testing.T) {
	headers := hdrs("Host: example.org", "User-Agent: Mozilla/5.0", "Accept: text/html",
		"Accept-Encoding: gzip, br", "Cookie: a=1; b=2", "X-Forwarded-For: 1.1.1.1",
		"Connection: keep-alive, X-Hop", "X-Hop: 1", "If-None-Match: \"abc\"", "Content-Length: 4")
	body := []byte("data")
	fw := &Forward{ClientIP: []byte("10.1.2.3"), Proto: "http", Via: "1.1 mcpage",
		AcceptEncoding: []byte("gzip"), StripConditional: true}
	req := &fasthttp.Request{}
	build := func() {
		BuildRequest(req, []byte("POST"), []byte("/path?q=1"), []byte("example.org"), headers, body, fw)
	}
	build() // grow req to fit
	if n := testing.AllocsPerRun(200, build); n != 0 {
		t.Fatalf("BuildRequest allocates %v times per call on a warm request", n)
	}
}

func BenchmarkBuildRequest(b *testing.B) {
	headers := hdrs("Host: example.org", "User-Agent: Mozilla/5.0 (X11; Linux x86_64)", "Accept: text/html,*/*;q=0.8",
		"Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br", "Cookie: session=abcdef0123456789",
		"Connection: keep-alive", "Upgrade-Insecure-Requests: 1", "If-None-Match: \"abc\"")
	fw := &Forward{ClientIP: []byte("10.1.2.3"), Proto: "http", Via: "1.1 mcpage",
		AcceptEncoding: []byte("gzip"), StripConditional: true}
	req := &fasthttp.Request{}
	var size int64
	for _, h := range headers {
		size += int64(len(h.Name) + len(h.Value) + 4)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		BuildRequest(req, []byte("GET"), []byte("/some/page?x=1"), []byte("example.org"), headers, nil, fw)
	}
}
