package upstream

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
)

// fuzzHeaders turns "name:value" lines into fields the way the request parser
// could have produced them: token names, values without CR, LF, NUL or
// surrounding whitespace. ok is false when raw holds something else.
func fuzzHeaders(raw string) (hs []httpparse.Header, ok bool) {
	if raw == "" {
		return nil, true
	}
	for _, line := range strings.Split(raw, "\n") {
		name, value, found := strings.Cut(line, ":")
		value = strings.Trim(value, " \t")
		if !found || !httpbytes.IsToken([]byte(name)) || strings.ContainsAny(value, "\r\n\x00") {
			return nil, false
		}
		hs = append(hs, httpparse.Header{Name: []byte(name), Value: []byte(value)})
	}
	return hs, true
}

// FuzzBuildRequest checks BuildRequest's promises on arbitrary field lists:
// what reaches the wire holds no hop-by-hop or Connection-named field and no
// field name with '_', one Host (the argument, first), at most one
// X-Forwarded-Host (the argument), an origin-form target, framing that
// matches the body, and every other received field in order and unchanged.
func FuzzBuildRequest(f *testing.F) {
	f.Add("GET", "/", "Host: a\nX-A: 1", []byte(nil), uint8(0))
	f.Add("POST", "/p?q", "Host: a\nConnection: X-A, te\nX-A: 1\nTE: trailers\nContent-Length: 3", []byte("abc"), uint8(0xff))
	f.Add("HEAD", "*", "x-forwarded-for: 1.1.1.1\nVia: 1.0 x\nAccept-Encoding: br\nIf-Match: *", []byte(nil), uint8(0x3f))
	f.Fuzz(func(t *testing.T, method, target, rawHeaders string, body []byte, flags uint8) {
		headers, ok := fuzzHeaders(rawHeaders)
		// Targets as the parser hands them over: not empty, no whitespace or
		// controls, and not starting with '?' (fasthttp would write "/?").
		if !ok || !httpbytes.IsToken([]byte(method)) || target == "" || target[0] == '?' ||
			strings.ContainsAny(target, " \t\r\n\x00") {
			return
		}
		fw := &Forward{
			StripConditional: flags&1 != 0,
			ForceGET:         flags&2 != 0,
		}
		if flags&4 != 0 {
			fw.ClientIP = []byte("10.0.0.1")
		}
		if flags&8 != 0 {
			fw.Proto = "http"
		}
		if flags&16 != 0 {
			fw.Via = "1.1 mcpage"
		}
		if flags&32 != 0 {
			fw.AcceptEncoding = []byte("gzip")
		}
		fw.ForwardedHost = flags&64 != 0
		var req fasthttp.Request
		BuildRequest(&req, []byte(method), []byte(target), []byte("host.test"), headers, body, fw)
		head := req.Header.AppendBytes(nil)
		if !bytes.Equal(req.Body(), body) {
			t.Fatalf("body changed")
		}

		lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
		sent := string(originForm([]byte(method), []byte(target)))
		if sent != target && (sent == "" || (sent[0] != '/' && sent != "*")) {
			t.Fatalf("target %q sent as %q", target, sent)
		}
		wantLine := method + " " + sent + " HTTP/1.1"
		if fw.ForceGET && method == "HEAD" {
			wantLine = "GET " + sent + " HTTP/1.1"
		}
		if lines[0] != wantLine {
			t.Fatalf("request line %q, want %q", lines[0], wantLine)
		}
		var tokens [][]byte
		for _, h := range headers {
			if httpbytes.EqualFold(h.Name, "connection") {
				tokens = connTokens(tokens, h.Value)
			}
		}
		var out []httpparse.Header
		hosts, lengths, xfhs := 0, 0, 0
		for i, l := range lines[1:] {
			name, value, _ := strings.Cut(l, ": ")
			out = append(out, httpparse.Header{Name: []byte(name), Value: []byte(value)})
			switch {
			case httpbytes.IsHopByHop([]byte(name)), httpbytes.EqualFold([]byte(name), "expect"), strings.Contains(name, "_"):
				t.Fatalf("%q forwarded", l)
			case httpbytes.EqualFold([]byte(name), "host"):
				hosts++
				if i != 0 || value != "host.test" {
					t.Fatalf("Host line %d is %q", i, l)
				}
			case fw.ForwardedHost && httpbytes.EqualFold([]byte(name), "x-forwarded-host"):
				xfhs++
				if value != "host.test" {
					t.Fatalf("%q forwarded", l)
				}
			case httpbytes.EqualFold([]byte(name), "content-length"):
				lengths++
				if value != strconv.Itoa(len(body)) {
					t.Fatalf("Content-Length %s for a %d-byte body", value, len(body))
				}
			}
		}
		if hosts != 1 || (fw.ForwardedHost && xfhs != 1) {
			t.Fatalf("%d Host and %d X-Forwarded-Host fields in %q", hosts, xfhs, head)
		}
		if lengths > 1 || (len(body) > 0 && lengths == 0) {
			t.Fatalf("%d Content-Length fields for a %d-byte body", lengths, len(body))
		}
		// Received fields that must pass unchanged, in order: a subsequence
		// of what was sent.
		k := 0
		for _, h := range headers {
			if dropRequestField(h.Name, fw) || namedIn(tokens, h.Name) ||
				httpbytes.EqualFold(h.Name, "x-forwarded-for") || httpbytes.EqualFold(h.Name, "via") {
				continue
			}
			for k < len(out) && !(bytes.Equal(out[k].Name, h.Name) && bytes.Equal(out[k].Value, h.Value)) {
				k++
			}
			if k == len(out) {
				t.Fatalf("field %q: %q lost or reordered in %q", h.Name, h.Value, head)
			}
			k++
		}
		for _, o := range out {
			if namedIn(tokens, o.Name) && !ownField(o.Name) {
				t.Fatalf("Connection-named %q forwarded", o.Name)
			}
		}
	})
}

// ownField reports whether the proxy itself may add a field with this name.
func ownField(name []byte) bool {
	for _, n := range []string{"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", "accept-encoding", "content-length"} {
		if httpbytes.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// FuzzVisitResponse checks, on any response fasthttp accepts, that
// VisitResponse never hands out a hop-by-hop, Connection-named or
// Content-Length field, and that Set-Cookie fields all survive.
func FuzzVisitResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nConnection: X-A\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 299 Odd\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nContent-Length: 1\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp := &fasthttp.Response{}
		clearResponse(resp)
		if err := resp.ReadLimitBody(bufio.NewReader(bytes.NewReader(raw)), 1<<16); err != nil {
			return
		}
		var tokens [][]byte
		cookies := 0
		for name, value := range resp.Header.All() {
			switch {
			case httpbytes.EqualFold(name, "connection"):
				tokens = connTokens(tokens, value)
			case httpbytes.EqualFold(name, "set-cookie"):
				cookies++
			}
		}
		visited := 0
		visitResponse(resp, func(name, value []byte) {
			if httpbytes.IsHopByHop(name) || httpbytes.EqualFold(name, "content-length") || namedIn(tokens, name) {
				t.Fatalf("visited %q: %q", name, value)
			}
			if httpbytes.EqualFold(name, "set-cookie") {
				visited++
			}
		})
		if !namedIn(tokens, []byte("set-cookie")) && visited != cookies {
			t.Fatalf("%d of %d Set-Cookie fields visited", visited, cookies)
		}
	})
}

// FuzzCheckHead checks that a head checkHead lets through ends, for fasthttp,
// exactly where a strict reader ends it (at the first CRLFCRLF after any
// leading empty lines): the two never disagree on where the body starts.
func FuzzCheckHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("\r\nHTTP/1.1 204\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if checkHead(bufio.NewReaderSize(bytes.NewReader(raw), 4096)) != nil {
			return
		}
		k := 0
		for bytes.HasPrefix(raw[k:], []byte("\r\n")) {
			k += 2
		}
		i := bytes.Index(raw[k:], []byte("\r\n\r\n"))
		if i < 0 {
			t.Fatalf("accepted %q without a CRLFCRLF", raw)
		}
		end := k + i + 4
		if bytes.IndexByte(raw[:end], '\n') >= 0 && bytes.Contains(bytes.ReplaceAll(raw[:end], []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("accepted a bare LF in %q", raw[:end])
		}
		var h fasthttp.ResponseHeader
		h.DisableNormalizing()
		r := bytes.NewReader(raw)
		br := bufio.NewReaderSize(r, 4096)
		if err := h.Read(br); err != nil {
			return // refused by fasthttp: ErrBadResponse
		}
		if used := len(raw) - br.Buffered() - r.Len(); used != end {
			t.Fatalf("fasthttp ends the head at %d, checkHead at %d: %q", used, end, raw)
		}
	})
}
