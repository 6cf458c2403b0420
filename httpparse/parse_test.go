package httpparse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"testing"
)

var validCases = []struct {
	name, raw          string
	method, target     string
	path, host         string
	minor              int
	cl                 int64
	chunked, keepAlive bool
	nHeaders           int
}{
	{"simple", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET", "/", "/", "a.test", 1, -1, false, true, 1},
	{"query", "GET /p?q=1&r=%20 HTTP/1.1\r\nHost: a.test:8080\r\nX-A:  v  \r\n\r\n", "GET", "/p?q=1&r=%20", "/p?q=1&r=%20", "a.test:8080", 1, -1, false, true, 2},
	{"absolute", "GET http://b.test:81/x?y HTTP/1.1\r\nHost: ignored\r\n\r\n", "GET", "http://b.test:81/x?y", "/x?y", "b.test:81", 1, -1, false, true, 1},
	{"absolute-empty-path", "GET http://b.test HTTP/1.1\r\nHost: b.test\r\n\r\n", "GET", "http://b.test", "/", "b.test", 1, -1, false, true, 1},
	{"absolute-query-only", "GET http://b.test?x=1 HTTP/1.1\r\nHost: b.test\r\n\r\n", "GET", "http://b.test?x=1", "?x=1", "b.test", 1, -1, false, true, 1},
	{"http10", "GET /old HTTP/1.0\r\n\r\n", "GET", "/old", "/old", "", 0, -1, false, false, 0},
	{"http10-keepalive", "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/old", "/old", "", 0, -1, false, true, 1},
	{"close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", "GET", "/", "/", "a", 1, -1, false, false, 2},
	{"post-cl", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", "POST", "/f", "/f", "a", 1, 5, false, true, 2},
	{"same-cl-twice", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "POST", "/f", "/f", "a", 1, 5, false, true, 3},
	{"chunked", "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", "POST", "/f", "/f", "a", 1, -1, true, true, 2},
	{"leading-crlf", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", "/", "a", 1, -1, false, true, 1},
	{"options-star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", "*", "a", 1, -1, false, true, 1},
	{"unknown-method", "PURGE-IT /x HTTP/1.1\r\nHost: a\r\n\r\n", "PURGE-IT", "/x", "/x", "a", 1, -1, false, true, 1},
	{"empty-value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", "GET", "/", "/", "a", 1, -1, false, true, 2},
}

func TestParseValid(t *testing.T) {
	var req Request
	for _, tc := range validCases {
		n, err := ParseHead([]byte(tc.raw+"NEXT"), &req, nil)
		if err != nil || n != len(tc.raw) {
			t.Fatalf("%s: n=%d err=%v, want %d", tc.name, n, err, len(tc.raw))
		}
		if string(req.Method) != tc.method || string(req.Target) != tc.target || string(req.Path) != tc.path ||
			string(req.Host) != tc.host || req.ProtoMinor != tc.minor || req.ContentLength != tc.cl ||
			req.Chunked != tc.chunked || req.KeepAlive != tc.keepAlive || len(req.Headers) != tc.nHeaders {
			t.Fatalf("%s: got %q %q %q %q 1.%d cl=%d chunked=%v ka=%v h=%d", tc.name, req.Method, req.Target,
				req.Path, req.Host, req.ProtoMinor, req.ContentLength, req.Chunked, req.KeepAlive, len(req.Headers))
		}
	}
}

var malformedCases = []struct {
	name, raw string
	want      *Error
}{
	{"te+cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", ErrContentLength},
	{"cl+te", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ErrContentLength},
	{"te-gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrTransferCoding},
	{"te-twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferCoding},
	{"te-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrContentLength},
	{"cl-differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", ErrContentLength},
	{"cl-list-differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", ErrContentLength},
	{"cl-sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", ErrContentLength},
	{"cl-huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", ErrContentLength},
	{"space-before-colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ErrHeaderSyntax},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", ErrHeaderSyntax},
	{"bad-token", "GET / HTTP/1.1\r\nHost: a\r\nX(Y): 1\r\n\r\n", ErrHeaderSyntax},
	{"empty-name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", ErrHeaderSyntax},
	{"bare-cr", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", ErrHeaderSyntax},
	{"bare-lf", "GET / HTTP/1.1\nHost: a\r\n\r\n", ErrHeaderSyntax},
	{"nul-value", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", ErrHeaderSyntax},
	{"ctl-value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", ErrHeaderSyntax},
	{"version-2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ErrVersion},
	{"version-12", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ErrVersion},
	{"version-bad", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", ErrRequestLine},
	{"target-space", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine},
	{"target-relative", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine},
	{"target-8bit", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine},
	{"method-token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLine},
	{"no-host", "GET / HTTP/1.1\r\n\r\n", ErrHost},
	{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ErrHost},
	{"expect-other", "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", ErrExpectation},
	{"too-large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 2000) + "\r\n\r\n", ErrHeaderTooLarge},
	{"too-many", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 10) + "\r\n", ErrTooManyHeaders},
	{"body-too-large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", ErrBodyTooLarge},
}

var testLimits = Limits{MaxHeaderBytes: 1024, MaxHeaders: 8, MaxBodyBytes: 1000}

func TestParseMalformed(t *testing.T) {
	var req Request
	for _, tc := range malformedCases {
		_, err := ParseHead([]byte(tc.raw), &req, &testLimits)
		if err != tc.want {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		var e *Error
		if errors.As(err, &e) {
			resp := AppendErrorResponse(nil, e)
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 "+strconv.Itoa(tc.want.Status)+" ")) || !bytes.Contains(resp, []byte("Connection: close")) {
				t.Errorf("%s: answer %q", tc.name, resp)
			}
		}
	}
}

// TestSplitEveryByte feeds every message cut at every byte: no prefix may
// succeed, and the full message must give the one-shot result.
func TestSplitEveryByte(t *testing.T) {
	var req Request
	all := []string{}
	for _, tc := range validCases {
		all = append(all, tc.raw)
	}
	for _, tc := range malformedCases {
		all = append(all, tc.raw)
	}
	for _, raw := range all {
		wantN, wantErr := ParseHead([]byte(raw), &req, &testLimits)
		for i := 0; i < len(raw); i++ {
			n, err := ParseHead([]byte(raw[:i]), &req, &testLimits)
			if err == nil {
				t.Fatalf("%q: prefix %d parsed (n=%d)", raw, i, n)
			}
			if err != ErrNeedMore && err != wantErr {
				t.Fatalf("%q: prefix %d gave %v, full message gives %v", raw, i, err, wantErr)
			}
		}
		n, err := ParseHead([]byte(raw), &req, &testLimits)
		if n != wantN || err != wantErr {
			t.Fatalf("%q: not deterministic", raw)
		}
	}
}

const browserRequest = "GET /articles/2024/caching?utm_source=x HTTP/1.1\r\nHost: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nSec-Fetch-User: ?1\r\n" +
	"If-None-Match: \"abc\"\r\nPriority: u=0, i\r\n\r\n"

func TestZeroAllocs(t *testing.T) {
	var req Request
	buf := []byte(browserRequest)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := ParseHead(buf, &req, nil); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("ParseHead allocates %v", a)
	}
	var d ChunkedDecoder
	body := []byte("5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n")
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(100, func() {
		d.Reset(nil)
		if _, _, done, err := d.Decode(dst[:0], body); !done || err != nil {
			t.Fatal(done, err)
		}
	}); a != 0 {
		t.Fatalf("Decode allocates %v", a)
	}
}

func TestChunkedSplitEveryByte(t *testing.T) {
	msgs := []struct{ raw, want string }{
		{"5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"3;ext=\"q\"\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: yes\r\nMore: 1\r\n\r\n", "abc0123456789"},
		{"0\r\n\r\n", ""},
	}
	for _, m := range msgs {
		raw := m.raw + "NEXT"
		for split := 0; split <= len(m.raw); split++ {
			var d ChunkedDecoder
			d.Reset(nil)
			pending := []byte(raw[:split])
			rest := []byte(raw[split:])
			var out []byte
			total := 0
			for step := 0; step < 3; step++ {
				o, n, done, err := d.Decode(out, pending)
				if err != nil {
					t.Fatalf("%q split %d: %v", m.raw, split, err)
				}
				out = o
				total += n
				pending = pending[n:]
				if done {
					if string(out) != m.want || total != len(m.raw) {
						t.Fatalf("%q split %d: %q consumed %d", m.raw, split, out, total)
					}
					break
				}
				pending = append(pending, rest...)
				rest = nil
				if step == 2 {
					t.Fatalf("%q split %d: never done", m.raw, split)
				}
			}
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	for _, raw := range []string{"x\r\n", "5\r\nhelloXX", "5\nhello\r\n", "fffffffffffffffff\r\n", "5 junk\r\n", "0\r\nBad Trailer\r\n\r\n"} {
		var d ChunkedDecoder
		d.Reset(nil)
		if _, _, _, err := d.Decode(nil, []byte(raw)); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	var d ChunkedDecoder
	d.Reset(&Limits{MaxBodyBytes: 4})
	if _, _, _, err := d.Decode(nil, []byte("5\r\nhello\r\n0\r\n\r\n")); err != ErrBodyTooLarge {
		t.Errorf("over limit: %v", err)
	}
}

// stricter reports inputs net/http accepts that we reject on purpose:
//   - bare LF line endings and obs-fold (smuggling vectors; RFC 9112 allows rejecting them)
//   - control bytes or NUL in field values, empty field names
//   - a missing Host in HTTP/1.1, or several Host fields (RFC 9112 §3.2 MUST 400)
//   - Transfer-Encoding with Content-Length, in HTTP/1.0, or other than exactly "chunked"
//   - Expect values other than 100-continue (417)
//   - heads, header counts and bodies over our Limits (431, 413)
//   - HTTP/1.2+ versions, which net/http reads as 1.x (505)
//
// and accepts the other way round: leading empty lines (RFC 9112 §2.2),
// absolute-form targets and CONNECT authority forms net/http refuses.
func stricter(raw []byte, err error) bool {
	if err == nil {
		return false
	}
	s := string(raw)
	return err == ErrHeaderSyntax || err == ErrRequestLine || err == ErrHost ||
		err == ErrContentLength || err == ErrTransferCoding || err == ErrExpectation ||
		err == ErrHeaderTooLarge || err == ErrTooManyHeaders || err == ErrBodyTooLarge ||
		strings.Contains(s, "\n\n") || err == ErrVersion
}

func FuzzParseHead(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		n, err := ParseHead(data, &req, &testLimits)
		if err == nil {
			if n <= 0 || n > len(data) || n != req.HeadLen {
				t.Fatalf("n=%d len=%d", n, len(data))
			}
			if req.Chunked && req.ContentLength != -1 {
				t.Fatal("chunked with length")
			}
		} else if n != 0 {
			t.Fatal("n on error")
		}
	})
}

// FuzzDifferential compares accept/reject and parsed fields with net/http.
func FuzzDifferential(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		n, err := ParseHead(data, &req, nil)
		if err == ErrNeedMore {
			return
		}
		std, serr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:max(n, 0)+boolInt(n == 0)*len(data)])))
		if err == nil && serr != nil {
			// Cases net/http rejects that we accept on purpose: absolute-form
			// with odd authorities, CONNECT forms, methods net/http refuses.
			// Leading empty lines are skipped per RFC 9112 §2.2; net/http refuses them.
			if string(req.Method) == "CONNECT" || bytes.Contains(req.Target, []byte("://")) || req.ProtoMinor == 0 ||
				bytes.HasPrefix(data, []byte("\r\n")) {
				return
			}
			t.Fatalf("we accept, net/http rejects (%v): %q", serr, data)
		}
		if err != nil && serr == nil && !stricter(data, err) {
			t.Fatalf("we reject (%v), net/http accepts: %q", err, data)
		}
		if err == nil && serr == nil {
			if std.Method != string(req.Method) || std.RequestURI != string(req.Target) || std.ProtoMinor != req.ProtoMinor {
				t.Fatalf("request line differs: %q %q 1.%d vs %q", std.Method, std.RequestURI, std.ProtoMinor, data)
			}
			if std.Host != string(req.Host) && !bytes.Contains(req.Target, []byte("://")) {
				t.Fatalf("host %q vs %q", std.Host, req.Host)
			}
			if cl := req.ContentLength; !req.Chunked && cl >= 0 && std.ContentLength != cl {
				t.Fatalf("content-length %d vs %d", std.ContentLength, cl)
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzChunked compares the decoder with net/http/httputil's chunked reader.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\n"))
	f.Add([]byte("A\r\n0123456789\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d ChunkedDecoder
		d.Reset(nil)
		out, n, done, err := d.Decode(nil, data)
		if n > len(data) {
			t.Fatal("consumed past input")
		}
		if err != nil || !done {
			return
		}
		std, serr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data[:n])))
		if serr == nil && !bytes.Equal(std, out) {
			t.Fatalf("body %q vs httputil %q", out, std)
		}
	})
}

func BenchmarkParseHead(b *testing.B) {
	var req Request
	buf := []byte(browserRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseHead(buf, &req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
