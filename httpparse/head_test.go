package httpparse

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testLimits are small enough that the limit cases stay short.
var testLimits = Limits{MaxHeaderBytes: 1024, MaxHeaders: 8, MaxBodyBytes: 1000}

type validCase struct {
	name string
	raw  string  // one complete head
	lim  *Limits // nil: testLimits
	// Expected request line and framing.
	method, target, path string
	host                 string // "" with noHost: Host must be nil
	noHost               bool
	minor                int
	cl                   int64
	chunked, keepAlive   bool
	expect100            bool
	// headers is every field as "Name: value" with the value as parsed
	// (OWS removed). The shortcut fields (Cookie, AcceptEncoding, ...) are
	// checked against the first field of their name listed here.
	headers []string
}

const browserHead = "GET /articles/2024/caching?utm_source=x HTTP/1.1\r\nHost: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\n" +
	"If-None-Match: \"33a64df5\"\r\nPriority: u=0, i\r\n\r\n"

var validCases = []validCase{
	{name: "minimal", raw: "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a.test", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a.test"}},
	{name: "browser", raw: browserHead, lim: &Limits{},
		method: "GET", target: "/articles/2024/caching?utm_source=x", path: "/articles/2024/caching?utm_source=x",
		host: "www.example.com", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: www.example.com",
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
			"Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br, zstd",
			"Connection: keep-alive", "Cookie: session=abc123; theme=dark", "Upgrade-Insecure-Requests: 1",
			"Sec-Fetch-Dest: document", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Site: none",
			`If-None-Match: "33a64df5"`, "Priority: u=0, i"}},
	{name: "query-and-escapes", raw: "GET /a%20b/%7E?q=1&r=%zz#frag HTTP/1.1\r\nHost: a.test:8080\r\n\r\n",
		method: "GET", target: "/a%20b/%7E?q=1&r=%zz#frag", path: "/a%20b/%7E?q=1&r=%zz#frag", host: "a.test:8080",
		minor: 1, cl: -1, keepAlive: true, headers: []string{"Host: a.test:8080"}},
	{name: "double-slash-origin", raw: "GET //x/y HTTP/1.1\r\nHost: a\r\n\r\n",
		method: "GET", target: "//x/y", path: "//x/y", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a"}},
	{name: "absolute-form", raw: "GET http://b.test:81/x?y HTTP/1.1\r\nHost: other.test\r\n\r\n",
		method: "GET", target: "http://b.test:81/x?y", path: "/x?y", host: "b.test:81", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: other.test"}},
	{name: "absolute-form-https-upper", raw: "GET HTTPS://B.test/x HTTP/1.1\r\nHost: B.test\r\n\r\n",
		method: "GET", target: "HTTPS://B.test/x", path: "/x", host: "B.test", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: B.test"}},
	{name: "absolute-form-empty-path", raw: "GET http://b.test HTTP/1.1\r\nHost: b.test\r\n\r\n",
		method: "GET", target: "http://b.test", path: "/", host: "b.test", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: b.test"}},
	{name: "absolute-form-options-empty-path", raw: "OPTIONS http://b.test:8000 HTTP/1.1\r\nHost: b.test\r\n\r\n",
		method: "OPTIONS", target: "http://b.test:8000", path: "*", host: "b.test:8000", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: b.test"}},
	{name: "absolute-form-ipv6", raw: "GET http://[2001:db8::7]:8080/p HTTP/1.1\r\nHost: x\r\n\r\n",
		method: "GET", target: "http://[2001:db8::7]:8080/p", path: "/p", host: "[2001:db8::7]:8080", minor: 1, cl: -1,
		keepAlive: true, headers: []string{"Host: x"}},
	{name: "asterisk-form", raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		method: "OPTIONS", target: "*", path: "*", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a"}},
	{name: "http10-no-host", raw: "GET /old HTTP/1.0\r\n\r\n",
		method: "GET", target: "/old", path: "/old", noHost: true, minor: 0, cl: -1, keepAlive: false},
	{name: "http10-keep-alive", raw: "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		method: "GET", target: "/old", path: "/old", noHost: true, minor: 0, cl: -1, keepAlive: true,
		headers: []string{"Connection: Keep-Alive"}},
	{name: "http10-keep-alive-then-close", raw: "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
		method: "GET", target: "/", path: "/", noHost: true, minor: 0, cl: -1, keepAlive: false,
		headers: []string{"Connection: keep-alive", "Connection: close"}},
	{name: "close-in-second-connection-field", raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nConnection: foo, CLOSE\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: false,
		headers: []string{"Host: a", "Connection: Upgrade", "Connection: foo, CLOSE"}},
	{name: "close-as-list-member-only", raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, x-close\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a", "Connection: closed, x-close"}},
	{name: "content-length", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 5, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 5"}},
	{name: "content-length-zero", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 0, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 0"}},
	{name: "content-length-leading-zeros", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 7, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 007"}},
	{name: "content-length-at-body-limit", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 1000, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 1000"}},
	{name: "content-length-identical-fields", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length:  5 \r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 5, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 5", "content-length: 5"}},
	{name: "content-length-identical-list", raw: "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5,5\r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: 5, keepAlive: true,
		headers: []string{"Host: a", "Content-Length: 5, 5,5"}},
	{name: "chunked", raw: "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n",
		method: "POST", target: "/f", path: "/f", host: "a", minor: 1, cl: -1, chunked: true, keepAlive: true,
		headers: []string{"Host: a", "Transfer-Encoding: Chunked"}},
	{name: "leading-empty-lines", raw: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a"}},
	{name: "extension-method", raw: "M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n",
		method: "M-SEARCH", target: "/x", path: "/x", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a"}},
	{name: "method-at-max-length", raw: strings.Repeat("M", MaxMethodLen) + " / HTTP/1.1\r\nHost: a\r\n\r\n",
		method: strings.Repeat("M", MaxMethodLen), target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a"}},
	{name: "empty-and-padded-values", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Pad: \t v  w \t\r\nX-Sp:   \r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a", "X-Empty: ", "X-Pad: v  w", "X-Sp: "}},
	{name: "obs-text-value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\xff\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a", "X-Name: caf\xc3\xa9\xff"}},
	{name: "expect-100-continue", raw: "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n",
		method: "PUT", target: "/u", path: "/u", host: "a", minor: 1, cl: 10, keepAlive: true, expect100: true,
		headers: []string{"Host: a", "Expect: 100-Continue", "Content-Length: 10"}},
	{name: "expect-100-continue-http10-ignored", raw: "PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
		method: "PUT", target: "/u", path: "/u", noHost: true, minor: 0, cl: 10,
		headers: []string{"Expect: 100-continue", "Content-Length: 10"}},
	{name: "expect-empty", raw: "GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a", "Expect: "}},
	{name: "shortcut-fields-first-wins", raw: "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nAuthorization: Basic x\r\n" +
		"IF-NONE-MATCH: \"e1\"\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\ncookie: b=2\r\nAccept-Encoding: br\r\n" +
		"Authorization: Bearer y\r\nIf-None-Match: \"e2\"\r\nCOOKIE: c=3\r\naccept-encoding: gzip\r\n" +
		"RANGE: bytes=0-1\r\nIf-Range: \"r1\"\r\nRange: bytes=2-3\r\nif-range: \"r2\"\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true, lim: &Limits{},
		headers: []string{"Host: a", "Cookie: a=1", "Authorization: Basic x", `IF-NONE-MATCH: "e1"`,
			"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", "cookie: b=2", "Accept-Encoding: br",
			"Authorization: Bearer y", `If-None-Match: "e2"`, "COOKIE: c=3", "accept-encoding: gzip",
			"RANGE: bytes=0-1", `If-Range: "r1"`, "Range: bytes=2-3", `if-range: "r2"`}},
	{name: "host-ipv6-literal", raw: "GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]:443\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "[::ffff:192.0.2.1]:443", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: [::ffff:192.0.2.1]:443"}},
	{name: "host-empty", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: "}},
	{name: "host-empty-port", raw: "GET / HTTP/1.1\r\nHost: a.test:\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a.test:", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a.test:"}},
	{name: "host-sub-delims", raw: "GET / HTTP/1.1\r\nHost: a_b-c~d!$&'()*+,;=\r\n\r\n",
		method: "GET", target: "/", path: "/", host: "a_b-c~d!$&'()*+,;=", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a_b-c~d!$&'()*+,;="}},
	{name: "max-headers-clamped-to-cap", raw: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", MaxHeadersCap-1) + "\r\n",
		lim: &Limits{MaxHeaders: 10 * MaxHeadersCap}, method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1,
		keepAlive: true, headers: append([]string{"Host: a"}, repeat("X: 1", MaxHeadersCap-1)...)},
	{name: "head-exactly-at-byte-limit", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 64-32) + "\r\n\r\n",
		lim: &Limits{MaxHeaderBytes: 64}, method: "GET", target: "/", path: "/", host: "a", minor: 1, cl: -1, keepAlive: true,
		headers: []string{"Host: a", "X: " + strings.Repeat("v", 32)}},
}

func findValid(name string) *validCase {
	for i := range validCases {
		if validCases[i].name == name {
			return &validCases[i]
		}
	}
	panic("no valid case " + name)
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func (tc *validCase) limits() *Limits {
	if tc.lim != nil {
		return tc.lim
	}
	return &testLimits
}

// firstField is the test's own reading of tc.headers: the first value of a
// field named name, and how many fields have that name.
func (tc *validCase) firstField(name string) (value string, found bool, count int) {
	for _, h := range tc.headers {
		n, v, _ := strings.Cut(h, ": ")
		if strings.EqualFold(n, name) {
			if count == 0 {
				value, found = v, true
			}
			count++
		}
	}
	return
}

func checkView(t *testing.T, what string, got []byte, want string, present bool) {
	t.Helper()
	if present != (got != nil) || string(got) != want {
		t.Errorf("%s = %q (nil %v), want %q (present %v)", what, got, got == nil, want, present)
	}
}

func TestParseHeadValid(t *testing.T) {
	var req Request
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			// Whatever follows the head (a body, the next request) is not read.
			buf := []byte(tc.raw + "POST /next HTTP/1.1\r\n")
			n, err := ParseHead(buf, &req, tc.limits())
			if err != nil || n != len(tc.raw) || req.HeadLen != n {
				t.Fatalf("n=%d HeadLen=%d err=%v, want %d", n, req.HeadLen, err, len(tc.raw))
			}
			checkView(t, "Method", req.Method, tc.method, true)
			checkView(t, "Target", req.Target, tc.target, true)
			checkView(t, "Path", req.Path, tc.path, true)
			checkView(t, "Host", req.Host, tc.host, !tc.noHost)
			if req.ProtoMinor != tc.minor || req.ContentLength != tc.cl || req.Chunked != tc.chunked ||
				req.KeepAlive != tc.keepAlive || req.Expect100 != tc.expect100 {
				t.Errorf("minor=%d cl=%d chunked=%v keepAlive=%v expect100=%v, want %d %d %v %v %v",
					req.ProtoMinor, req.ContentLength, req.Chunked, req.KeepAlive, req.Expect100,
					tc.minor, tc.cl, tc.chunked, tc.keepAlive, tc.expect100)
			}
			if req.HasBody() != (tc.cl > 0 || tc.chunked) {
				t.Errorf("HasBody = %v", req.HasBody())
			}
			if want := tc.method == "GET" || tc.method == "HEAD"; req.IsGetOrHead() != want {
				t.Errorf("IsGetOrHead = %v", req.IsGetOrHead())
			}
			var got []string
			for _, h := range req.Headers {
				got = append(got, string(h.Name)+": "+string(h.Value))
			}
			if !reflect.DeepEqual(got, tc.headers) {
				t.Errorf("headers\n got %q\nwant %q", got, tc.headers)
			}
			for _, f := range []struct {
				name string
				got  []byte
			}{
				{"Accept-Encoding", req.AcceptEncoding}, {"Authorization", req.Authorization},
				{"If-None-Match", req.IfNoneMatch}, {"If-Modified-Since", req.IfModifiedSince},
				{"Connection", req.Connection}, {"Cookie", req.Cookie},
				{"Range", req.Range}, {"If-Range", req.IfRange},
			} {
				v, found, _ := tc.firstField(f.name)
				checkView(t, f.name, f.got, v, found)
				checkView(t, "Header("+f.name+")", req.Header(strings.ToUpper(f.name)), v, found)
			}
			if _, _, count := tc.firstField("cookie"); req.CookieCount != count {
				t.Errorf("CookieCount = %d, want %d", req.CookieCount, count)
			}
			if req.Header("X-Absent") != nil {
				t.Error("Header of an absent field is not nil")
			}
		})
	}
}

type malformedCase struct {
	name string
	raw  string
	lim  *Limits // nil: testLimits
	want *Error
}

func (tc *malformedCase) limits() *Limits {
	if tc.lim != nil {
		return tc.lim
	}
	return &testLimits
}

const h11 = " HTTP/1.1\r\nHost: a\r\n"

var malformedCases = []malformedCase{
	// Request line.
	{"double-space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"trailing-space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"no-version", "GET /\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"leading-space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"tab-separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"method-not-token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"method-too-long", strings.Repeat("M", MaxMethodLen+1) + " / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"version-lower-case", "GET / http/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"version-httx", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"version-two-digit-minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"version-letter", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	{"version-1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", nil, ErrVersion},
	{"version-2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", nil, ErrVersion},
	{"version-0.9", "GET / HTTP/0.9\r\n\r\n", nil, ErrVersion},
	{"h2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", nil, ErrVersion},
	{"space-in-target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrRequestLine},
	// Request-target.
	{"target-del", "GET /\x7f" + h11 + "\r\n", nil, ErrTarget},
	{"target-8bit", "GET /caf\xc3\xa9" + h11 + "\r\n", nil, ErrTarget},
	{"target-ctl", "GET /\x01" + h11 + "\r\n", nil, ErrTarget},
	{"target-nul", "GET /\x00" + h11 + "\r\n", nil, ErrTarget},
	{"target-relative", "GET a/b" + h11 + "\r\n", nil, ErrTarget},
	{"target-authority-form", "CONNECT a.test:443" + h11 + "\r\n", nil, ErrTarget},
	{"target-star-not-options", "GET *" + h11 + "\r\n", nil, ErrTarget},
	{"target-other-scheme", "GET ftp://a/x" + h11 + "\r\n", nil, ErrTarget},
	{"target-scheme-no-slashes", "GET http:/x" + h11 + "\r\n", nil, ErrTarget},
	{"target-empty-authority", "GET http:///x" + h11 + "\r\n", nil, ErrTarget},
	{"target-bare-scheme", "GET http://" + h11 + "\r\n", nil, ErrTarget},
	{"target-userinfo", "GET http://u:p@a/x" + h11 + "\r\n", nil, ErrTarget},
	{"target-query-after-authority", "GET http://a?x" + h11 + "\r\n", nil, ErrTarget},
	{"target-bad-port", "GET http://a:8o/x" + h11 + "\r\n", nil, ErrTarget},
	{"target-unclosed-ipv6", "GET http://[::1/x" + h11 + "\r\n", nil, ErrTarget},
	{"target-bad-pct", "GET /a%zz" + h11 + "\r\n", nil, ErrTarget},
	{"target-short-pct", "GET /a%4" + h11 + "\r\n", nil, ErrTarget},
	{"target-absolute-bad-pct", "GET http://a/%g0" + h11 + "\r\n", nil, ErrTarget},
	// Line endings.
	{"bare-lf-request-line", "GET / HTTP/1.1\nHost: a\r\n\r\n", nil, ErrLineEnding},
	{"bare-lf-field", "GET / HTTP/1.1\r\nHost: a\n\r\n", nil, ErrLineEnding},
	{"bare-lf-blank-line", "GET / HTTP/1.1\r\nHost: a\r\n\n", nil, ErrLineEnding},
	{"bare-lf-leading", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrLineEnding},
	{"bare-cr-value", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", nil, ErrLineEnding},
	{"bare-cr-name", "GET / HTTP/1.1\r\nHost: a\r\nX\r: 1\r\n\r\n", nil, ErrLineEnding},
	{"bare-cr-request-line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrLineEnding},
	{"cr-cr-lf", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", nil, ErrLineEnding},
	{"bare-cr-line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", nil, ErrLineEnding},
	// Field syntax.
	{"space-before-colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", nil, ErrHeaderSyntax},
	{"tab-before-colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", nil, ErrHeaderSyntax},
	{"obs-fold-space", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", nil, ErrHeaderSyntax},
	{"obs-fold-tab", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", nil, ErrHeaderSyntax},
	{"space-before-first-field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", nil, ErrHeaderSyntax},
	{"no-colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", nil, ErrHeaderSyntax},
	{"empty-name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", nil, ErrHeaderSyntax},
	{"name-not-token", "GET / HTTP/1.1\r\nHost: a\r\nX(Y): 1\r\n\r\n", nil, ErrHeaderSyntax},
	{"name-nul", "GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: 1\r\n\r\n", nil, ErrHeaderSyntax},
	{"value-nul", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", nil, ErrHeaderSyntax},
	{"value-ctl", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", nil, ErrHeaderSyntax},
	{"value-del", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", nil, ErrHeaderSyntax},
	// Size limits.
	{"head-one-over-limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 64-32+1) + "\r\n\r\n",
		&Limits{MaxHeaderBytes: 64}, ErrHeaderTooLarge},
	{"head-too-large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 2000) + "\r\n\r\n", nil, ErrHeaderTooLarge},
	{"request-line-too-large", "GET /" + strings.Repeat("p", 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrHeaderTooLarge},
	{"leading-crlf-too-large", strings.Repeat("\r\n", 600) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", nil, ErrHeaderTooLarge},
	{"too-many-fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 8) + "\r\n", nil, ErrTooManyHeaders},
	{"too-many-fields-default", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 100) + "\r\n", &Limits{}, ErrTooManyHeaders},
	{"too-many-fields-over-cap", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", MaxHeadersCap) + "\r\n",
		&Limits{MaxHeaders: 1 << 20}, ErrTooManyHeaders},
	{"body-too-large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", nil, ErrBodyTooLarge},
	{"body-too-large-default", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(10<<20+1) + "\r\n\r\n",
		&Limits{}, ErrBodyTooLarge},
	// Host.
	{"no-host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", nil, ErrHost},
	{"absolute-form-no-host", "GET http://a/ HTTP/1.1\r\n\r\n", nil, ErrHost},
	{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", nil, ErrHost},
	{"two-hosts-http10", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", nil, ErrHost},
	{"host-space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", nil, ErrHost},
	{"host-userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", nil, ErrHost},
	{"host-slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", nil, ErrHost},
	{"host-two-colons", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", nil, ErrHost},
	{"host-port-not-digits", "GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", nil, ErrHost},
	{"host-port-only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", nil, ErrHost},
	{"host-pct", "GET / HTTP/1.1\r\nHost: a%2eb\r\n\r\n", nil, ErrHost},
	{"host-ipv4-literal", "GET / HTTP/1.1\r\nHost: [192.0.2.1]\r\n\r\n", nil, ErrHost},
	{"host-ipv6-zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", nil, ErrHost},
	{"host-ipv6-bad", "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", nil, ErrHost},
	{"host-ipv6-two-elisions", "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", nil, ErrHost},
	{"host-ipv6-unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", nil, ErrHost},
	{"host-after-bracket", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", nil, ErrHost},
	{"absolute-form-bad-host-field", "GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n", nil, ErrHost},
	// Content-Length.
	{"cl-plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", nil, ErrContentLength},
	{"cl-negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", nil, ErrContentLength},
	{"cl-hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", nil, ErrContentLength},
	{"cl-empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", nil, ErrContentLength},
	{"cl-inner-space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", nil, ErrContentLength},
	{"cl-overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", nil, ErrContentLength},
	{"cl-differing-fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", nil, ErrContentLength},
	{"cl-differing-list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", nil, ErrContentLength},
	{"cl-same-number-other-spelling", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", nil, ErrContentLength},
	{"cl-list-empty-member", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", nil, ErrContentLength},
	// Smuggling.
	{"cl-then-te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", nil, ErrSmuggling},
	{"te-then-cl", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", nil, ErrSmuggling},
	{"cl-then-te-gzip", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\n", nil, ErrSmuggling},
	{"te-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", nil, ErrSmuggling},
	{"te-http10-with-cl", "POST / HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", nil, ErrSmuggling},
	// Transfer codings.
	{"te-gzip-chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", nil, ErrTransferCoding},
	{"te-chunked-chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", nil, ErrTransferCoding},
	{"te-two-fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", nil, ErrTransferCoding},
	{"te-identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", nil, ErrTransferCoding},
	{"te-empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", nil, ErrTransferCoding},
	{"te-with-params", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", nil, ErrTransferCoding},
	{"te-prefix", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", nil, ErrTransferCoding},
	// Expect.
	{"expect-other", "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", nil, ErrExpectation},
	{"expect-list", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, magic\r\n\r\n", nil, ErrExpectation},
	{"expect-other-http10", "GET / HTTP/1.0\r\nExpect: 100-continue-x\r\n\r\n", nil, ErrExpectation},
	// Order: the first bad line decides.
	{"first-bad-line-wins", "GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\nContent-Length: x\r\n\r\n", nil, ErrHeaderSyntax},
}

func TestParseHeadMalformed(t *testing.T) {
	var req Request
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseHead([]byte(tc.raw), &req, tc.limits())
			if err != tc.want || n != 0 {
				t.Fatalf("n=%d err=%v, want 0, %v", n, err, tc.want)
			}
		})
	}
}

// TestParseHeadTooLargeEarly: 431 comes as soon as MaxHeaderBytes bytes are
// buffered without a complete head, not when the head finally ends, and
// not one byte earlier.
func TestParseHeadTooLargeEarly(t *testing.T) {
	lim := &Limits{MaxHeaderBytes: 100}
	var req Request
	for _, prefix := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ", // a field that never ends
		"GET /",                                 // a request line that never ends
		"\r\n\r\n",                              // empty lines that never end
		"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n", // fields that never end
	} {
		buf := []byte(prefix)
		for len(buf) < 99 {
			switch {
			case strings.HasSuffix(prefix, "\r\n\r\n"):
				buf = append(buf, "\r\n"...)
			case strings.HasSuffix(prefix, "X: 1\r\n"):
				buf = append(buf, "Z: 3\r\n"...)
			default:
				buf = append(buf, 'v')
			}
		}
		buf = buf[:99]
		if _, err := ParseHead(buf, &req, lim); err != ErrNeedMore {
			t.Errorf("%q: 99 bytes give %v, want ErrNeedMore", prefix, err)
		}
		buf = append(buf, 'v')
		if _, err := ParseHead(buf, &req, lim); err != ErrHeaderTooLarge {
			t.Errorf("%q: 100 bytes give %v, want ErrHeaderTooLarge", prefix, err)
		}
	}
}

// TestParseHeadViews: every view points into the parsed buffer.
func TestParseHeadViews(t *testing.T) {
	buf := []byte(findValid("browser").raw)
	var req Request
	if _, err := ParseHead(buf, &req, nil); err != nil {
		t.Fatal(err)
	}
	// Overwrite the buffer: views must change with it (they are not copies).
	copy(buf[5:], "XRTICLES")
	if !bytes.HasPrefix(req.Target, []byte("/XRTICLES")) || !bytes.HasPrefix(req.Path, []byte("/XRTICLES")) {
		t.Errorf("Target %q / Path %q are not views of the buffer", req.Target, req.Path)
	}
}

// TestResetClearsEverything fills every exported field and checks that
// ParseHead of a minimal request leaves none of it behind.
func TestResetClearsEverything(t *testing.T) {
	var req Request
	if _, err := ParseHead([]byte(findValid("shortcut-fields-first-wins").raw), &req, nil); err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(&req).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint8 {
				f.SetBytes([]byte("junk"))
			}
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(77)
		}
	}
	req.Reset()
	want := Request{ContentLength: -1}
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		if !v.Field(i).CanSet() || name == "Headers" {
			continue
		}
		if !reflect.DeepEqual(v.Field(i).Interface(), reflect.ValueOf(want).Field(i).Interface()) {
			t.Errorf("after Reset %s = %v", name, v.Field(i).Interface())
		}
	}
	if len(req.Headers) != 0 || cap(req.Headers) != MaxHeadersCap {
		t.Errorf("Headers len %d cap %d", len(req.Headers), cap(req.Headers))
	}
	for i, h := range req.hdrs {
		if h.Name != nil || h.Value != nil {
			t.Fatalf("header slot %d still holds %q", i, h.Name)
		}
	}
}

func TestErrorText(t *testing.T) {
	if got := ErrHost.Error(); got != "httpparse: 400 missing, repeated or invalid host" {
		t.Errorf("Error() = %q", got)
	}
	if ErrNeedMore.Error() != "httpparse: need more data" {
		t.Errorf("ErrNeedMore = %q", ErrNeedMore)
	}
}

func TestAppendErrorResponse(t *testing.T) {
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{ErrRequestLine, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\n" +
			"Connection: close\r\n\r\nmalformed request line\n"},
		{ErrHeaderTooLarge, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: 32\r\nConnection: close\r\n\r\nrequest header fields too large\n"},
		{ErrVersion, "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: 27\r\nConnection: close\r\n\r\nhttp version not supported\n"},
		{&Error{Status: 599, Reason: "x"}, "HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: 2\r\nConnection: close\r\n\r\nx\n"},
		{&Error{Status: 42, Reason: "x"}, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: 2\r\nConnection: close\r\n\r\nx\n"},
	} {
		got := AppendErrorResponse([]byte("prev"), tc.e)
		if string(got) != "prev"+tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.e, got, tc.want)
		}
	}
	// Every sentinel gets a reason-phrase of its own.
	for _, e := range allErrors {
		if statusText(e.Status) == "" || strings.ContainsAny(e.Reason, "\r\n") {
			t.Errorf("%v: status text %q", e, statusText(e.Status))
		}
	}
}

var allErrors = []*Error{ErrRequestLine, ErrTarget, ErrVersion, ErrLineEnding, ErrHeaderSyntax, ErrHeaderTooLarge,
	ErrTooManyHeaders, ErrHost, ErrContentLength, ErrSmuggling, ErrTransferCoding, ErrExpectation, ErrBodyTooLarge, ErrChunk}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"", true}, {"a", true}, {"a.b-c_d~e", true}, {"a:80", true}, {"a:", true}, {"1.2.3.4:5", true},
		{"[::]", true}, {"[::1]", true}, {"[1:2:3:4:5:6:7:8]", true}, {"[1::8]:443", true}, {"[1:2:3:4:5:6:7::]", true},
		{"[::2:3:4:5:6:7:8]", true}, {"[::ffff:1.2.3.4]", true}, {"[1:2:3:4:5:6:1.2.3.4]", true}, {"[abcd:EF01::]", true},
		{":80", false}, {"a:b", false}, {"a b", false}, {"a@b", false}, {"a/b", false}, {"a?b", false}, {"a#b", false},
		{"a%41", false}, {"[]", false}, {"[::1", false}, {"::1", false}, {"[1:2:3:4:5:6:7:8:9]", false},
		{"[1:2:3:4:5:6:7]", false}, {"[1::2::3]", false}, {":::", false}, {"[:::]", false}, {"[1:]", false},
		{"[:1]", false}, {"[12345::]", false}, {"[::g]", false}, {"[1.2.3.4]", false}, {"[::1.2.3]", false},
		{"[::1.2.3.256]", false}, {"[::1.2.3.04]", false}, {"[::1.2.3.4:5]", false}, {"[1:2:3:4:5:6:7:1.2.3.4]", false},
		{"[::1]:x", false}, {"[::1]]", false}, {"[v1.x]", false}, {"[fe80::1%25en0]", false},
	} {
		if got := validHost([]byte(tc.host)); got != tc.ok {
			t.Errorf("validHost(%q) = %v, want %v", tc.host, got, tc.ok)
		}
	}
}
