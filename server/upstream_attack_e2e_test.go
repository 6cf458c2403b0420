package server_test

// End-to-end reproductions of attacks on the exchange with the origin, through
// the proxy, against an origin that shows (or sends) raw bytes: each test fails
// on a proxy without the defence it names.

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// uaMode is what a uaOrigin connection does after writing a response.
type uaMode int

const (
	uaKeepAlive uaMode = iota // read the next request
	uaHold                    // read nothing more, keep the connection open until the proxy closes it
	uaClose                   // close the connection
)

// uaOrigin is a loopback origin that speaks raw bytes: it hands every request
// head it receives to heads and writes whatever respond returns, where net/http
// would rewrite or refuse to send it.
type uaOrigin struct {
	ln      net.Listener
	respond func(head string) (string, uaMode)
	heads   chan string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startUAOrigin(t *testing.T, respond func(head string) (string, uaMode)) *uaOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &uaOrigin{ln: ln, respond: respond, heads: make(chan string, 64), conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go o.serve()
	t.Cleanup(o.close)
	return o
}

func (o *uaOrigin) addr() string { return o.ln.Addr().String() }

func (o *uaOrigin) serve() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		o.conns[c] = struct{}{}
		o.mu.Unlock()
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.handle(c)
			c.Close()
			o.mu.Lock()
			delete(o.conns, c)
			o.mu.Unlock()
		}()
	}
}

func (o *uaOrigin) handle(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		head, err := uaReadRequest(br)
		if err != nil {
			return
		}
		select {
		case o.heads <- head:
		default: // nobody is looking
		}
		resp, mode := o.respond(head)
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
		switch mode {
		case uaHold:
			io.Copy(io.Discard, br)
			return
		case uaClose:
			return
		}
	}
}

func (o *uaOrigin) close() {
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

// next returns the next request head the origin received.
func (o *uaOrigin) next(t *testing.T) string {
	t.Helper()
	select {
	case h := <-o.heads:
		return h
	case <-time.After(15 * time.Second):
		t.Fatal("the origin received no request")
		return ""
	}
}

// uaReadRequest reads one request head (returned) and its Content-Length body.
func uaReadRequest(br *bufio.Reader) (string, error) {
	var head strings.Builder
	cl := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		head.WriteString(line)
		if line == "\r\n" || line == "\n" {
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "content-length") {
			if cl, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
				return "", err
			}
		}
	}
	if _, err := io.CopyN(io.Discard, br, int64(cl)); err != nil {
		return "", err
	}
	return head.String(), nil
}

// uaFields returns the values of every field named name (any case) in head.
func uaFields(head, name string) []string {
	var out []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if n, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(n, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// uaPath is the request-target of head.
func uaPath(head string) string {
	f := strings.Fields(strings.SplitN(head, "\r\n", 2)[0])
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// An absolute-form request whose Host field names another host: the cache key
// is built from the target's authority (RFC 9112 §3.2.2), so the origin must
// get that authority as its only Host (and as X-Forwarded-Host), and the
// origin-form path; otherwise it renders evil.test's page, which is then
// served to everyone who asks victim.test.
func TestUpstreamAttackAbsoluteFormHost(t *testing.T) {
	o := startUAOrigin(t, func(head string) (string, uaMode) {
		body := "page for " + strings.Join(uaFields(head, "Host"), ",") +
			" xfh " + strings.Join(uaFields(head, "X-Forwarded-Host"), ",")
		return "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body, uaKeepAlive
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.send("GET http://victim.test/p HTTP/1.1\r\nHost: evil.test\r\nX-Forwarded-Host: evil.test\r\n\r\n")
	r := c.read("GET")
	head := o.next(t)
	if got := uaPath(head); got != "/p" {
		t.Errorf("origin got target %q, want the origin-form /p", got)
	}
	if got := uaFields(head, "Host"); len(got) != 1 || got[0] != "victim.test" {
		t.Errorf("origin got Host %q, want exactly [victim.test]", got)
	}
	if got := uaFields(head, "X-Forwarded-Host"); len(got) != 1 || got[0] != "victim.test" {
		t.Errorf("origin got X-Forwarded-Host %q, want exactly [victim.test]", got)
	}
	const want = "page for victim.test xfh victim.test"
	if string(r.body) != want {
		t.Errorf("first answer %q, want %q", r.body, want)
	}
	// What everyone asking victim.test now gets.
	c2 := dial(t, p.addr)
	c2.send("GET /p HTTP/1.1\r\nHost: victim.test\r\n\r\n")
	r2 := c2.read("GET")
	if r2.xcache() != "HIT" || string(r2.body) != want {
		t.Fatalf("victim.test/p: X-Cache %q, body %q; want a HIT with %q", r2.xcache(), r2.body, want)
	}
}

// Request fields whose names hold '_' are dropped: CGI-style origins read
// "X_Forwarded_Host" and "X-Forwarded-Host" (or "Content_Length" and
// "Content-Length") as one variable. And a client's X-Forwarded-Host never
// reaches the origin: the proxy sends its own, the cache key's host.
func TestUpstreamAttackForwardedHostAndUnderscores(t *testing.T) {
	o := startUAOrigin(t, func(head string) (string, uaMode) {
		return "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok", uaKeepAlive
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	r := c.get("/u", "X-Forwarded-Host: evil.test", "X_Forwarded_Host: evil2.test", "x_forwarded_for: 6.6.6.6",
		"Content_Length: 100", "Transfer_Encoding: chunked", "X-Fine: 1")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	head := o.next(t)
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.Contains(name, "_") {
			t.Errorf("origin got %q", line)
		}
	}
	if got := uaFields(head, "X-Forwarded-Host"); len(got) != 1 || got[0] != "example.test" {
		t.Errorf("origin got X-Forwarded-Host %q, want exactly [example.test]", got)
	}
	if got := uaFields(head, "X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("origin got X-Forwarded-For %q, want exactly [127.0.0.1]", got)
	}
	if got := uaFields(head, "X-Fine"); len(got) != 1 {
		t.Errorf("X-Fine lost: %q", head)
	}
}

// A response whose Connection field names Set-Cookie or Cache-Control: the
// proxy removes those fields before passing the response on, but must judge
// the response on them first, or a per-user page (Set-Cookie, private,
// no-store) is stored and served to everyone.
func TestUpstreamAttackConnectionHidesCacheControl(t *testing.T) {
	tests := []struct{ name, fields string }{
		{"Set-Cookie and private", "Cache-Control: private\r\nSet-Cookie: sid=secret\r\nConnection: Set-Cookie, Cache-Control\r\n"},
		{"Set-Cookie", "Set-Cookie: sid=secret\r\nConnection: set-cookie\r\n"},
		{"no-store", "Cache-Control: no-store\r\nconnection: keep-alive\r\nConnection: CACHE-CONTROL\r\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			o := startUAOrigin(t, func(head string) (string, uaMode) {
				mu.Lock()
				n++
				body := "user page " + strconv.Itoa(n)
				mu.Unlock()
				return "HTTP/1.1 200 OK\r\n" + tt.fields + "Content-Type: text/plain\r\nContent-Length: " +
					strconv.Itoa(len(body)) + "\r\n\r\n" + body, uaKeepAlive
			})
			p := startProxy(t, o.addr(), nil)
			path := "/private/" + strconv.Itoa(i)
			r1 := dial(t, p.addr).get(path)
			if string(r1.body) != "user page 1" {
				t.Fatalf("first answer %q", r1.body)
			}
			if v := r1.Header.Values("Set-Cookie"); len(v) != 0 {
				t.Errorf("a field the origin named in Connection was passed on: Set-Cookie %q", v)
			}
			o.next(t)
			r2 := dial(t, p.addr).get(path)
			if r2.xcache() == "HIT" || string(r2.body) != "user page 2" {
				t.Fatalf("second client got X-Cache %q, body %q: the first client's page was stored",
					r2.xcache(), r2.body)
			}
			o.next(t)
		})
	}
}

// Responses that a strict and a lenient reader frame differently, or that
// leave the proxy waiting for bytes that never come: the client gets a 502
// well before the upstream timeout (a minute here; the client gives up after
// 15 s, see client.read), with the default ResponseIdleTimeout.
func TestUpstreamAttackPrompt502(t *testing.T) {
	tests := []struct{ name, resp string }{
		{"LF-only head", "HTTP/1.1 200 OK\nCache-Control: max-age=60\nContent-Length: 2\n\nok"},
		{"1xx with a body", "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello"},
		{"1xx whose body is a response", "HTTP/1.1 103 Early Hints\r\nContent-Length: 42\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil" +
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 4\r\n\r\nreal"},
		{"body shorter than Content-Length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nhello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startUAOrigin(t, func(string) (string, uaMode) { return tt.resp, uaHold })
			p := startProxy(t, o.addr(), func(c *server.Config) { c.Upstream.Timeout = time.Minute })
			r := dial(t, p.addr).get("/broken")
			if r.StatusCode != 502 {
				t.Fatalf("status %d, body %q; want 502", r.StatusCode, r.body)
			}
			if bytes.Contains(r.body, []byte("evil")) {
				t.Fatalf("the body of an interim response was served: %q", r.body)
			}
		})
	}
}

// A Content-Encoding the origin names in Connection is dropped on the way,
// so its body must not be stored as if it were identity: every later visitor
// would get gzip bytes labelled as plain text.
func TestUpstreamAttackConnectionHidesContentEncoding(t *testing.T) {
	var gz bytes.Buffer
	zw := gzipWriter(&gz)
	zw.Write([]byte("hello, compressed"))
	zw.Close()
	o := startUAOrigin(t, func(head string) (string, uaMode) {
		return "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Encoding: gzip\r\nConnection: Content-Encoding\r\n" +
			"Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(gz.Len()) + "\r\n\r\n" + gz.String(), uaKeepAlive
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	c.get("/ce", "Accept-Encoding: gzip")
	o.next(t)
	if r := c.get("/ce", "Accept-Encoding: gzip"); r.xcache() == "HIT" {
		t.Fatalf("a body whose coding was hidden in Connection was stored (%q)", r.Header.Get("X-Cache-Detail"))
	}
}

// An unusual but valid Transfer-Encoding (a final coding other than
// chunked: the body runs until the origin closes, RFC 9112 §6.3) is read
// and stored, without the field; beside a Content-Length it is refused,
// since another hop could frame it by the length instead.
func TestUpstreamUnusualTransferCoding(t *testing.T) {
	o := startUAOrigin(t, func(head string) (string, uaMode) {
		switch {
		case strings.Contains(head, "/odd"):
			return "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: x-odd\r\n\r\nbody until close", uaClose
		case strings.Contains(head, "/two"):
			return "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\ntransfer-encoding: chunked\r\nTransfer-Encoding: , x-odd\r\n\r\nstill until close", uaClose
		case strings.Contains(head, "/length"):
			return "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: x-odd\r\nContent-Length: 4\r\n\r\nbodyGET /smuggled HTTP/1.1\r\n\r\n", uaClose
		}
		return "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: x-odd, chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", uaKeepAlive
	})
	p := startProxy(t, o.addr(), nil)
	c := dial(t, p.addr)
	for path, body := range map[string]string{"/odd": "body until close", "/two": "still until close"} {
		r := c.get(path)
		if r.StatusCode != 200 || string(r.body) != body || r.Header.Get("Transfer-Encoding") != "" || len(r.TransferEncoding) != 0 {
			t.Fatalf("%s: %d %q TE %q", path, r.StatusCode, r.body, r.TransferEncoding)
		}
		for k := range r.Header {
			if strings.Contains(strings.ToLower(k), "te-ignored") {
				t.Fatalf("%s: relayed %s", path, k)
			}
		}
		if r := c.get(path); r.xcache() != "HIT" || string(r.body) != body {
			t.Fatalf("%s second: %s %q", path, r.xcache(), r.body)
		}
	}
	if r := c.get("/length"); r.StatusCode != 502 {
		t.Fatalf("coding with Content-Length: %d %q", r.StatusCode, r.body)
	}
}
