package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// logBuffer collects the access log; Write blocks while gate is open (not
// closed), so a test can make the writer fall behind.
type logBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	gate chan struct{} // nil: never blocks
}

func (w *logBuffer) Write(p []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSuffix(w.b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

const logQuoted = `"((?:[^"\\]|\\x[0-9A-F]{2})*)"`

// accessLine is the combined log format plus outcome, upstream and total time.
var accessLine = mustRegexp(`^(\S+) - - \[([^\]]+)\] ` + logQuoted + ` (\d{3}) (\d+) ` + logQuoted + ` ` + logQuoted +
	` (HIT|MISS|STALE|REVALIDATED|BYPASS|PASS|PURGE|-) (\d+\.\d{3}|-) (\d+\.\d{3})$`)

type logEntry struct {
	remote, date, line string
	status, bytes      int
	referer, ua        string
	outcome            string
	upstream           string // "-" or seconds
	total              float64
}

func parseLogLine(t *testing.T, s string) logEntry {
	t.Helper()
	m := accessLine.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("malformed access log line %q", s)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
		t.Fatalf("date in %q: %v", s, err)
	}
	status, _ := strconv.Atoi(m[4])
	n, _ := strconv.Atoi(m[5])
	total, err := strconv.ParseFloat(m[10], 64)
	if err != nil {
		t.Fatalf("total in %q: %v", s, err)
	}
	if m[9] != "-" {
		up, err := strconv.ParseFloat(m[9], 64)
		if err != nil || up > total+0.0015 {
			t.Errorf("upstream %s against total %s in %q", m[9], m[10], s)
		}
	}
	return logEntry{remote: m[1], date: m[2], line: m[3], status: status, bytes: n, referer: m[6], ua: m[7],
		outcome: m[8], upstream: m[9], total: total}
}

// TestAccessLogOneLinePerRequest: 8 clients × 50 requests through a real
// server (hits, misses, bypasses, passes, unsafe methods, purges, origin
// errors, and a request the parser rejects), then Shutdown: every request
// has exactly one well-formed line whose fields match what its client got.
func TestAccessLogOneLinePerRequest(t *testing.T) {
	o := newOrigin(t)
	o.handle("/c/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "page %s", r.URL.Path)
	})
	o.handle("/e", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, "origin failed")
	})
	o.handle("/p", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "posted %s", r.Method)
	})
	w := &logBuffer{}
	p := startProxy(t, o.addr(), func(c *server.Config) { c.AccessLog = w })

	const clients, perClient = 8, 50
	type want struct {
		line, outcome, referer string
		status, bytes          int
	}
	wants := make([]map[string]want, clients) // by User-Agent
	var wg sync.WaitGroup
	for i := range clients {
		wants[i] = map[string]want{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, p.addr)
			for j := range perClient - 1 {
				ua := fmt.Sprintf("client %d \"req\" %d", i, j)
				path := fmt.Sprintf("/c/%d", j%5)
				method := "GET"
				extra := []string{"User-Agent: " + ua}
				referer := "-"
				switch j % 8 {
				case 1:
					extra = append(extra, "Authorization: Basic eDp5") // BYPASS
				case 2:
					method, path = "POST", "/p"
					extra = append(extra, "Content-Length: 3")
				case 3:
					method = "PURGE"
				case 4:
					path = "/e"
				case 5:
					method = "HEAD"
				case 6:
					referer = fmt.Sprintf("http://ref.example/%d\\%d", i, j)
					extra = append(extra, "Referer: "+referer)
				case 7:
					extra = append(extra, "X-HTTP-Method-Override: PUT") // PASS
				}
				raw := request(method, path, extra...)
				if method == "POST" {
					raw += "a=b"
				}
				c.send(raw)
				r := c.read(method)
				got := r.xcache()
				if got == "" {
					got = "-"
				}
				wants[i][strings.ReplaceAll(ua, `"`, `\x22`)] = want{
					line: method + " " + path + " HTTP/1.1", outcome: got, status: r.StatusCode, bytes: len(r.body),
					referer: strings.ReplaceAll(referer, `\`, `\x5C`),
				}
			}
			// The last request is one the parser rejects (a field line without
			// a colon): 400, and the connection is closed.
			c.send("GET /c/0 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: bad\r\nno colon here\r\n\r\n")
			r := c.read("GET")
			if r.StatusCode != 400 {
				t.Errorf("malformed request: %d", r.StatusCode)
			}
			wants[i][""] = want{status: 400, bytes: len(r.body), outcome: "-"}
		}()
	}
	wg.Wait()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	lines := w.lines()
	if len(lines) != clients*perClient {
		t.Fatalf("%d lines for %d requests", len(lines), clients*perClient)
	}
	seen := map[string]bool{}
	rejects := 0
	outcomes := map[string]int{}
	for _, s := range lines {
		e := parseLogLine(t, s)
		outcomes[e.outcome]++
		if e.remote != "127.0.0.1" {
			t.Errorf("remote %q in %q", e.remote, s)
		}
		if e.ua == "-" && e.line == "-" {
			rejects++
			if e.status != 400 || e.outcome != "-" || e.upstream != "-" || e.bytes != wants[0][""].bytes {
				t.Errorf("reject line %q", s)
			}
			continue
		}
		if seen[e.ua] {
			t.Errorf("two lines for %q", e.ua)
		}
		seen[e.ua] = true
		var i, j int
		if _, err := fmt.Sscanf(e.ua, `client %d \x22req\x22 %d`, &i, &j); err != nil || i >= clients {
			t.Errorf("user agent %q in %q", e.ua, s)
			continue
		}
		wt, ok := wants[i][e.ua]
		if !ok {
			t.Errorf("no request for line %q", s)
			continue
		}
		if e.line != wt.line || e.status != wt.status || e.bytes != wt.bytes || e.outcome != wt.outcome || e.referer != wt.referer {
			t.Errorf("line %q\nwant %+v", s, wt)
		}
		switch e.outcome {
		case "HIT", "PURGE":
			if e.upstream != "-" {
				t.Errorf("%s with upstream time: %q", e.outcome, s)
			}
		case "PASS", "BYPASS":
			if e.upstream == "-" {
				t.Errorf("%s without upstream time: %q", e.outcome, s)
			}
		}
	}
	if rejects != clients || len(seen) != clients*(perClient-1) {
		t.Errorf("%d reject lines, %d distinct requests", rejects, len(seen))
	}
	for _, oc := range []string{"HIT", "MISS", "BYPASS", "PASS", "PURGE", "-"} {
		if outcomes[oc] == 0 {
			t.Errorf("no %s line: %v", oc, outcomes)
		}
	}
	t.Logf("outcomes %v; e.g. %s", outcomes, lines[0])
	if d := p.Stats().AccessLogDropped.Load(); d != 0 {
		t.Errorf("%d lines dropped", d)
	}
}

// TestAccessLogFlushedWhileIdle: a line reaches the writer within the flush
// interval, without Shutdown or a full buffer.
func TestAccessLogFlushedWhileIdle(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") })
	w := &logBuffer{}
	p := startProxy(t, o.addr(), func(c *server.Config) { c.AccessLog = w })
	c := dial(t, p.addr)
	c.get("/a")
	deadline := time.Now().Add(5 * time.Second)
	for len(w.lines()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no line written within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e := parseLogLine(t, w.lines()[0])
	if e.line != "GET /a HTTP/1.1" || e.status != 200 || e.bytes != 1 || e.outcome != "MISS" || e.upstream == "-" {
		t.Errorf("line %+v", e)
	}
}

// TestAccessLogDropsWhenWriterBlocks: with the writer stuck in Write, the
// loops keep answering at full speed; lines that find the writer's queue
// full are dropped and counted (Stats and /metrics); once the writer moves
// again, every line is either written or counted as dropped.
func TestAccessLogDropsWhenWriterBlocks(t *testing.T) {
	o := newOrigin(t)
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "page")
	})
	w := &logBuffer{gate: make(chan struct{})}
	p := startProxy(t, o.addr(), func(c *server.Config) {
		c.AccessLog = w
		server.SetAccessLogSizes(c, 1, 1, time.Hour) // every line is its own buffer; one waits
	})
	c := dial(t, p.addr)
	const n = 200
	start := time.Now()
	for range n {
		if r := c.get("/page"); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	t.Logf("%d requests in %v with the access log writer blocked", n, time.Since(start))
	// The last line is logged just after its response was handed to the
	// socket: give the loop a moment.
	dropped := p.Stats().AccessLogDropped.Load()
	for deadline := time.Now().Add(2 * time.Second); dropped < n-2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		dropped = p.Stats().AccessLogDropped.Load()
	}
	if dropped < n-2 {
		t.Errorf("dropped %d of %d lines; the writer holds one, the queue one", dropped, n)
	}
	var m bytes.Buffer
	p.WritePrometheus(&m)
	if want := fmt.Sprintf("mcpage_access_log_dropped_total %d\n", dropped); !strings.Contains(m.String(), want) {
		t.Errorf("metrics lack %q", want)
	}
	close(w.gate)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	written := len(w.lines())
	if int64(written)+p.Stats().AccessLogDropped.Load() != n || written == 0 {
		t.Errorf("%d lines written, %d dropped, for %d requests", written, p.Stats().AccessLogDropped.Load(), n)
	}
}

// TestAccessLogStreamedAndAbandoned: a streamed response's line counts
// every slice's bytes; a client that goes away before its answer is logged
// 499 with no outcome.
func TestAccessLogStreamedAndAbandoned(t *testing.T) {
	o := newOrigin(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 600<<10/16)
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big))) // not chunked: the body bytes are the page's
		w.Write(big)
	})
	release := make(chan struct{})
	o.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "late")
	})
	w := &logBuffer{}
	p := startProxy(t, o.addr(), func(c *server.Config) { c.AccessLog = w })

	c := dial(t, p.addr)
	if r := c.get("/big", "Authorization: Basic eDp5"); len(r.body) != len(big) || r.xcache() != "BYPASS" {
		t.Fatalf("big: %d bytes, %q", len(r.body), r.xcache())
	}
	gone := dial(t, p.addr)
	gone.send(request("GET", "/slow", "User-Agent: impatient"))
	for o.hits("/slow") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	gone.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := w.lines()
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	e := parseLogLine(t, lines[0])
	if e.line != "GET /big HTTP/1.1" || e.status != 200 || e.bytes != len(big) || e.outcome != "BYPASS" || e.upstream == "-" {
		t.Errorf("streamed: %q", lines[0])
	}
	e = parseLogLine(t, lines[1])
	if e.line != "GET /slow HTTP/1.1" || e.status != 499 || e.bytes != 0 || e.outcome != "-" || e.upstream != "-" || e.ua != "impatient" {
		t.Errorf("abandoned: %q", lines[1])
	}
}
