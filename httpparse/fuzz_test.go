package httpparse

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Fuzz targets. Seed corpora live in testdata/fuzz/<FuzzName>/ and are run
// by every `go test`; `make fuzz` explores further.

func addHeadSeeds(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range malformedCases {
		if len(tc.raw) < 4096 {
			f.Add([]byte(tc.raw))
		}
	}
}

// FuzzParseHead checks invariants that hold for every input: no panic, n
// within bounds, views inside buf, framing consistent, and the verdict
// stable as the buffer grows.
func FuzzParseHead(f *testing.F) {
	addHeadSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		n, err := ParseHead(data, &req, &testLimits)
		if err != nil {
			if n != 0 {
				t.Fatalf("n=%d with %v", n, err)
			}
			if _, ok := err.(*Error); !ok && err != ErrNeedMore {
				t.Fatalf("error %v is neither ErrNeedMore nor an *Error", err)
			}
			// A shorter prefix needs more or fails the same way.
			for _, k := range []int{len(data) / 3, len(data) / 2, len(data) - 1} {
				if k < 0 {
					continue
				}
				var r2 Request
				if _, e2 := ParseHead(data[:k], &r2, &testLimits); e2 != ErrNeedMore && e2 != err {
					t.Fatalf("prefix %d: %v, whole: %v", k, e2, err)
				}
			}
			return
		}
		if n <= 0 || n > len(data) || n != req.HeadLen || n > testLimits.MaxHeaderBytes {
			t.Fatalf("n=%d HeadLen=%d len=%d", n, req.HeadLen, len(data))
		}
		if !bytes.HasSuffix(data[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head does not end in CRLF CRLF: %q", data[:n])
		}
		if bytes.Contains(bytes.ReplaceAll(data[:n], []byte("\r\n"), nil), []byte("\n")) ||
			bytes.Contains(bytes.ReplaceAll(data[:n], []byte("\r\n"), nil), []byte("\r")) {
			t.Fatalf("accepted a bare CR or LF: %q", data[:n])
		}
		head := data[:n]
		for _, v := range [][]byte{req.Method, req.Target, req.Host, req.AcceptEncoding, req.Authorization,
			req.IfNoneMatch, req.IfModifiedSince, req.Connection, req.Cookie, req.Range, req.IfRange} {
			if v != nil && !within(v, head) {
				t.Fatalf("view %q is not inside the head", v)
			}
		}
		if !within(req.Path, head) && string(req.Path) != "/" && string(req.Path) != "*" {
			t.Fatalf("Path %q is neither a view nor the static / or *", req.Path)
		}
		for _, h := range req.Headers {
			if !within(h.Name, head) || !within(h.Value, head) || !httpbytes.IsToken(h.Name) {
				t.Fatalf("header %q: %q", h.Name, h.Value)
			}
			if v := h.Value; len(v) > 0 && (httpbytes.IsOWS(v[0]) || httpbytes.IsOWS(v[len(v)-1])) {
				t.Fatalf("header value %q not trimmed", v)
			}
		}
		if len(req.Headers) > testLimits.MaxHeaders || (req.ProtoMinor != 0 && req.ProtoMinor != 1) ||
			len(req.Method) == 0 || len(req.Method) > MaxMethodLen || len(req.Path) == 0 {
			t.Fatalf("bad request line or header count: %+v", req)
		}
		if req.Chunked && (req.ContentLength != -1 || req.ProtoMinor == 0) ||
			req.ContentLength > testLimits.MaxBodyBytes || req.ContentLength < -1 {
			t.Fatalf("framing: chunked=%v cl=%d", req.Chunked, req.ContentLength)
		}
		if req.ProtoMinor == 1 && req.Host == nil {
			t.Fatal("HTTP/1.1 without Host accepted")
		}
		// The head alone is complete; one byte less is not.
		var r2 Request
		if n2, e2 := ParseHead(data[:n], &r2, &testLimits); n2 != n || e2 != nil {
			t.Fatalf("head alone: n=%d err=%v", n2, e2)
		}
		if _, e2 := ParseHead(data[:n-1], &r2, &testLimits); e2 != ErrNeedMore {
			t.Fatalf("head minus one byte: %v", e2)
		}
	})
}

// within reports whether v lies inside buf's memory.
func within(v, buf []byte) bool {
	if len(v) == 0 {
		return true
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	v0 := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	return v0 >= b0 && v0+uintptr(len(v)) <= b0+uintptr(len(buf))
}

// headDeviations are the places where ParseHead deliberately differs from
// net/http.ReadRequest. FuzzDifferential skips an input when it disagrees
// with net/http and one of these predicates, which look at the input (and
// at net/http's reading of it, never at ours beyond the error), holds.
var headDeviations = []struct {
	name, why string
	applies   func(c *diffCase) bool
}{
	// We refuse, net/http accepts.
	{"bare-lf", "a bare LF ends lines for net/http; we refuse it (RFC 9112 §2.2 allows either)",
		func(c *diffCase) bool { return c.err == ErrLineEnding && hasBareLF(c.data) }},
	{"obs-fold-or-space-in-name", "net/http unfolds obs-fold and takes \"Name :\"; we refuse both (RFC 9112 §5.1, §5.2)",
		func(c *diffCase) bool {
			return c.err == ErrHeaderSyntax && c.anyLine(func(l string) bool {
				name, _, ok := strings.Cut(l, ":")
				return l != "" && (l[0] == ' ' || l[0] == '\t') || ok && strings.Contains(name, " ")
			})
		}},
	{"host-rules", "ReadRequest leaves Host checks to http.Server; we apply RFC 9112 §3.2 and the RFC 3986 grammar",
		func(c *diffCase) bool {
			if c.err != ErrHost {
				return false
			}
			hosts := c.fieldValues("Host")
			return len(hosts) == 0 && c.std.ProtoMinor == 1 || len(hosts) == 1 && !oracleHost(hosts[0])
		}},
	{"te-with-cl-or-http10", "net/http lets chunked override Content-Length and ignores TE in HTTP/1.0; we refuse both",
		func(c *diffCase) bool { return c.err == ErrSmuggling && c.hasField("Transfer-Encoding") }},
	{"expect", "ReadRequest leaves Expect to http.Server",
		func(c *diffCase) bool { return c.err == ErrExpectation }},
	{"version", "net/http reads any HTTP/d.d; we answer 505 to all but 1.0 and 1.1",
		func(c *diffCase) bool { return c.err == ErrVersion }},
	{"empty-target", "net/http takes an empty request-target (\"CONNECT  HTTP/1.1\"); RFC 9112 §3 needs one",
		func(c *diffCase) bool { return c.err == ErrRequestLine && c.std.RequestURI == "" }},
	{"method-length", "we bound methods to MaxMethodLen",
		func(c *diffCase) bool { return c.err == ErrRequestLine && len(c.std.Method) > MaxMethodLen }},
	{"target-forms", "we take only origin-form, http(s) absolute-form with a plain authority, and * for OPTIONS; no bytes > 0x7E",
		func(c *diffCase) bool { return c.err == ErrTarget && targetDeviates(c.std.Method, c.std.RequestURI) }},
	{"limits", "net/http.ReadRequest has no head or body limits of its own",
		func(c *diffCase) bool {
			return c.err == ErrHeaderTooLarge || c.err == ErrTooManyHeaders || c.err == ErrBodyTooLarge
		}},
	// We accept, net/http refuses.
	{"leading-empty-lines", "RFC 9112 §2.2: a server SHOULD skip empty lines before the request line",
		func(c *diffCase) bool { return c.err == nil && bytes.HasPrefix(c.data, []byte("\r\n")) }},
	{"cl-identical-list", "RFC 9110 §8.6: \"5, 5\" may be taken as 5",
		func(c *diffCase) bool {
			return c.err == nil && c.anyLine(func(l string) bool {
				name, v, _ := strings.Cut(l, ":")
				return strings.EqualFold(name, "Content-Length") && strings.Contains(v, ",")
			})
		}},
}

type diffCase struct {
	data []byte
	err  error         // ours
	std  *http.Request // net/http's, when it accepted
}

// anyLine reports whether pred holds for a line of the head as net/http
// reads it (lines end in LF, a CR before it dropped).
func (c *diffCase) anyLine(pred func(string) bool) bool {
	for i, l := range strings.Split(string(c.data), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if i > 0 && l == "" {
			return false
		}
		if pred(l) {
			return true
		}
	}
	return false
}

func (c *diffCase) hasField(name string) bool { return len(c.fieldValues(name)) > 0 }

// fieldValues returns the values of the fields called name, OWS trimmed,
// reading the head line by line (the request line never has a colon
// before its first space, so it is not mistaken for a field).
func (c *diffCase) fieldValues(name string) (vals []string) {
	c.anyLine(func(l string) bool {
		n, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			vals = append(vals, strings.Trim(v, " \t"))
		}
		return false
	})
	return vals
}

func hasBareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// hostRE and oracleHost are the test's own reading of uri-host [":" port]
// as validHost documents it, built from the RFC 3986 grammar and netip.
var hostRE = regexp.MustCompile(`^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-._~!$&'()*+,;=]+))(?::[0-9]*)?$`)

func oracleHost(s string) bool {
	if s == "" {
		return true
	}
	m := hostRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if m[1] != "" {
		a, err := netip.ParseAddr(m[1])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	return true
}

// targetDeviates reports whether target is one net/http takes but the
// documented target rules refuse.
func targetDeviates(method, target string) bool {
	if strings.IndexFunc(target, func(r rune) bool { return r >= 0x7f }) >= 0 {
		return true
	}
	if target == "*" {
		return method != "OPTIONS"
	}
	if strings.HasPrefix(target, "/") {
		return false
	}
	lower := strings.ToLower(target)
	rest, ok := strings.CutPrefix(lower, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(lower, "https://"); !ok {
			return true // another scheme, or authority-form
		}
	}
	auth, _, _ := strings.Cut(rest, "/")
	return auth == "" || !oracleHost(auth)
}

// FuzzDifferential compares ParseHead with net/http.ReadRequest: they must
// agree on accepting, and then on the request line, Host, every header
// value, framing and persistence, except where headDeviations says why not.
func FuzzDifferential(f *testing.F) {
	addHeadSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		n, err := ParseHead(data, &req, nil)
		if err == ErrNeedMore {
			return
		}
		std, serr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		c := &diffCase{data: data, err: err, std: std}
		if (err == nil) != (serr == nil) {
			for _, d := range headDeviations {
				if d.applies(c) {
					return
				}
			}
			t.Fatalf("ours: %v, net/http: %v, for %q", err, serr, data)
		}
		if err != nil {
			return
		}
		if std.Method != string(req.Method) || std.RequestURI != string(req.Target) ||
			std.ProtoMajor != 1 || std.ProtoMinor != req.ProtoMinor {
			t.Fatalf("request line: net/http %q %q 1.%d, ours %q %q 1.%d", std.Method, std.RequestURI,
				std.ProtoMinor, req.Method, req.Target, req.ProtoMinor)
		}
		if std.Host != string(req.Host) {
			t.Fatalf("host: net/http %q, ours %q", std.Host, req.Host)
		}
		if std.URL.Host != "" {
			want := std.RequestURI[strings.Index(std.RequestURI, "://")+3+len(std.URL.Host):]
			if want == "" {
				want = map[bool]string{true: "*", false: "/"}[std.Method == "OPTIONS"]
			}
			if string(req.Path) != want {
				t.Fatalf("absolute-form path: ours %q, want %q", req.Path, want)
			}
		}
		ours := map[string][]string{}
		for _, h := range req.Headers {
			k := textproto.CanonicalMIMEHeaderKey(string(h.Name))
			ours[k] = append(ours[k], string(h.Value))
		}
		for k, v := range ours {
			switch k {
			case "Transfer-Encoding", "Content-Length": // net/http consumes or dedups them; compared below
				continue
			case "Host": // net/http moves it to Request.Host; compared above
				continue
			case "Cache-Control":
				if len(ours["Pragma"]) > 0 {
					continue // net/http adds "no-cache" for Pragma: no-cache
				}
			}
			if strings.Join(std.Header[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("%s: net/http %q, ours %q", k, std.Header[k], v)
			}
		}
		switch {
		case req.Chunked:
			if std.ContentLength != -1 || len(std.TransferEncoding) != 1 || std.TransferEncoding[0] != "chunked" {
				t.Fatalf("chunked: net/http %d %q", std.ContentLength, std.TransferEncoding)
			}
		case req.ContentLength >= 0:
			if std.ContentLength != req.ContentLength {
				t.Fatalf("content-length: net/http %d, ours %d", std.ContentLength, req.ContentLength)
			}
		default:
			if std.ContentLength != 0 || len(std.TransferEncoding) != 0 {
				t.Fatalf("no body: net/http %d %q", std.ContentLength, std.TransferEncoding)
			}
		}
		if std.Close == req.KeepAlive {
			t.Fatalf("net/http Close=%v, ours KeepAlive=%v", std.Close, req.KeepAlive)
		}
		_ = n
	})
}

// chunk grammar oracle: RFC 9112 §7.1.1 with trailing padding, as
// validChunkExt documents, written independently as a regular expression.
const (
	reToken = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
	reQS    = `"(?:[^\x00-\x08\x0a-\x1f\x7f"\\]|\\[^\x00-\x08\x0a-\x1f\x7f])*"`
)

var sizeLineRE = regexp.MustCompile(`^[0-9A-Fa-f]+(?:[ \t]*;[ \t]*` + reToken + `(?:[ \t]*=[ \t]*(?:` + reToken + `|` + reQS + `))?)*[ \t]*$`)

// chunkDeviations: where ChunkedDecoder deliberately differs from
// net/http's chunked reader plus textproto for the trailer section.
var chunkDeviations = []struct {
	name, why string
	applies   func(data []byte, err error) bool
}{
	{"ext-grammar", "net/http ignores everything after ';'; we check the chunk-ext grammar",
		func(data []byte, err error) bool {
			return err == ErrChunk && anySizeLine(data, func(l string) bool { return !sizeLineRE.MatchString(l) })
		}},
	{"size-line-length", "net/http takes a size line of up to 4095 bytes before CRLF; ours must fit MaxChunkLine with it",
		func(data []byte, err error) bool {
			return err == ErrChunk && anySizeLine(data, func(l string) bool { return len(l)+2 > MaxChunkLine })
		}},
	{"size-digits", "net/http refuses more than 16 hex digits even when they are leading zeros",
		func(data []byte, err error) bool {
			return err == nil && anySizeLine(data, func(l string) bool {
				return len(l)-len(strings.TrimLeft(l, "0123456789abcdefABCDEF")) > 16
			})
		}},
	{"trailer-syntax", "textproto takes bare LF, obs-fold and \"Name :\" in trailers; we check them like header fields",
		func(data []byte, err error) bool {
			if err != ErrHeaderSyntax && err != ErrLineEnding {
				return false
			}
			tr := trailerSection(data)
			return hasBareLF(tr) || bytes.Contains(tr, []byte("\n ")) || bytes.Contains(tr, []byte("\n\t")) ||
				bytes.HasPrefix(tr, []byte(" ")) || bytes.HasPrefix(tr, []byte("\t")) ||
				regexp.MustCompile(`(?m)^[^:\n]* [^:\n]*:`).Match(tr)
		}},
	{"bws-before-semicolon", "RFC 9112 §7.1.1 allows BWS before ';'; net/http does not",
		func(data []byte, err error) bool {
			return err == nil && anySizeLine(data, func(l string) bool {
				hex, _, ok := strings.Cut(l, ";")
				return ok && strings.TrimRight(hex, " \t") != hex
			})
		}},
	{"limits", "textproto has no trailer limits and the reader no body limit",
		func(data []byte, err error) bool {
			return err == ErrHeaderTooLarge || err == ErrTooManyHeaders || err == ErrBodyTooLarge
		}},
}

// anySizeLine walks data as net/http frames it and reports whether pred
// holds for a chunk-size line (without CRLF).
func anySizeLine(data []byte, pred func(string) bool) bool {
	_, found := netHTTPChunks(data, pred)
	return found
}

// trailerSection returns what follows the last-chunk line as net/http frames it.
func trailerSection(data []byte) []byte {
	trailer, _ := netHTTPChunks(data, nil)
	return trailer
}

// netHTTPChunks walks data as net/http frames a chunked body. It stops at the
// first chunk-size line (without CRLF) for which pred, when not nil, holds,
// and reports found; otherwise it returns what follows the last-chunk line,
// or nil when data is not framed that far.
func netHTTPChunks(data []byte, pred func(string) bool) (trailer []byte, found bool) {
	for len(data) > 0 {
		i := bytes.Index(data, []byte("\r\n"))
		if i < 0 {
			return nil, false
		}
		line := string(data[:i])
		if pred != nil && pred(line) {
			return nil, true
		}
		hex := strings.TrimRight(strings.SplitN(line, ";", 2)[0], " \t")
		var size int
		for _, c := range hex {
			v := strings.IndexRune("0123456789abcdef", c|0x20)
			if v < 0 || size > 1<<30 {
				return nil, false
			}
			size = size*16 + v
		}
		if size == 0 {
			return data[i+2:], false
		}
		if i+2+size+2 > len(data) {
			return nil, false
		}
		data = data[i+2+size+2:]
	}
	return nil, false
}

// FuzzChunked compares ChunkedDecoder with net/http/httputil's chunked
// reader (and textproto for the trailer section) on body and consumed
// length, and checks that feeding the input in pieces changes nothing.
func FuzzChunked(f *testing.F) {
	for _, tc := range chunkedValid {
		f.Add([]byte(tc.raw + next))
	}
	for _, tc := range chunkedBad {
		if tc.lim == nil || *tc.lim == (Limits{}) {
			f.Add([]byte(tc.raw))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d ChunkedDecoder
		d.Reset(nil)
		out, n, done, err := d.Decode(nil, data)
		if n < 0 || n > len(data) || done && err != nil {
			t.Fatalf("n=%d done=%v err=%v", n, done, err)
		}
		for _, step := range []int{1 + len(data)/3, 1 + len(data)/7} {
			body, n2, done2, err2 := decodeFeeding(string(data), nil, step)
			if err2 != err || done2 != done || err == nil && (n2 != n && done || body != string(out) && done) {
				t.Fatalf("in pieces of %d: n=%d done=%v err=%v, at once: n=%d done=%v err=%v",
					step, n2, done2, err2, n, done, err)
			}
		}
		if err == nil && !done {
			return // incomplete: nothing to compare yet
		}
		src := bytes.NewReader(data)
		br := bufio.NewReader(src)
		std, serr := io.ReadAll(httputil.NewChunkedReader(br))
		if serr == nil {
			_, serr = textproto.NewReader(br).ReadMIMEHeader()
		}
		consumed := len(data) - src.Len() - br.Buffered()
		if (err == nil) != (serr == nil) {
			for _, dev := range chunkDeviations {
				if dev.applies(data, err) {
					return
				}
			}
			t.Fatalf("ours: %v, net/http: %v, for %q", err, serr, data)
		}
		if err == nil && (!bytes.Equal(std, out) || consumed != n) {
			t.Fatalf("ours: %q n=%d, net/http: %q n=%d", out, n, std, consumed)
		}
	})
}
