package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// syncBuffer is an io.Writer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// logHitFixture is hitFixture with the access log writing to w.
func logHitFixture(t testing.TB, w io.Writer) *conn { return logHitFixtureWith(t, w, nil) }

// logHitFixtureWith is logHitFixture with mod applied to the Config.
func logHitFixtureWith(t testing.TB, w io.Writer, mod func(*Config)) *conn {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", Upstream: upstreamCfg("127.0.0.1:1"),
		Policy: cachepolicy.Rules{DefaultTTL: time.Minute}, AccessLog: w}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeResources)
	l := newLoop(s, nil, 0)
	mc := &memConn{remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}}
	c := l.newConn(mc)
	rec := pagerecord.AppendRecord(nil, &pagerecord.Record{
		Status: 200, StoredAt: time.Now().Unix(), TTL: 3600,
		Header: []byte("Content-Type: text/html\r\n"),
		Body:   bytes.Repeat([]byte("x"), 10<<10),
	})
	l.store.Set(cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/page")), rec, time.Hour)
	return c
}

// TestAccessLogHitLine: a hit's line over memory, field by field, written
// by the flush that the loop's timer would run.
func TestAccessLogHitLine(t *testing.T) {
	w := &syncBuffer{}
	c := logHitFixture(t, w)
	mc := c.gc.(*memConn)
	mc.in = []byte("GET /page HTTP/1.1\r\nHost: example.test\r\nReferer: http://a.example/\"q\"\r\n" +
		"User-Agent: t\\x\té\r\n\r\n" +
		"HEAD /page HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n")
	c.onTraffic()
	(*logFlusher)(c.l.alog).Run(context.Background())
	c.l.s.closeAccessLog()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines:\n%s", w.String())
	}
	re := regexp.MustCompile(`^192\.0\.2\.7 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ` +
		`"GET /page HTTP/1\.1" 200 10240 "http://a\.example/\\x22q\\x22" "t\\x5Cx\\x09\\xC3\\xA9" HIT - \d+\.\d{3}$`)
	if !re.MatchString(lines[0]) {
		t.Errorf("GET line %q", lines[0])
	}
	re = regexp.MustCompile(`^192\.0\.2\.7 - - \[[^]]+\] "HEAD /page HTTP/1\.0" 200 0 "-" "-" HIT - \d+\.\d{3}$`)
	if !re.MatchString(lines[1]) {
		t.Errorf("HEAD line %q", lines[1])
	}
}

// TestAccessLogHitAllocs: with the access log on, a hit (parse, lookup,
// render, write, log line) still allocates nothing on the loop; buffers
// handed to the writer come back through the free list.
func TestAccessLogHitAllocs(t *testing.T) {
	c := logHitFixture(t, io.Discard)
	mc := c.gc.(*memConn)
	req := []byte(browserGET)
	run := func() {
		mc.in = req
		mc.out = mc.out[:0]
		c.onTraffic()
	}
	for range 2000 { // fills several buffers: the free list is stocked
		run()
	}
	// AllocsPerRun counts the whole process: a burst from elsewhere (the
	// writer goroutine's scheduling, the runtime) can land in one
	// measurement on a loaded machine, while an allocation of the hit path
	// shows in every one. So the least of three counts.
	allocs := testing.AllocsPerRun(2000, run)
	for range 2 {
		allocs = min(allocs, testing.AllocsPerRun(2000, run))
	}
	t.Logf("allocs per hit with the access log on: %.3f", allocs)
	if allocs != 0 && !raceEnabled {
		t.Fatalf("hit path with access log allocates %.3f times per request", allocs)
	}
	if d := c.l.s.stats.AccessLogDropped.Load(); d != 0 {
		t.Errorf("dropped %d lines writing to io.Discard", d)
	}
}

func BenchmarkHitPath10KBAccessLog(b *testing.B) {
	c := logHitFixture(b, io.Discard)
	mc := c.gc.(*memConn)
	req := []byte(browserGET)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		mc.in = req
		mc.out = mc.out[:0]
		c.onTraffic()
	}
}

func TestAppendSecondsAndEscape(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0.000", 499 * time.Microsecond: "0.000", 1500 * time.Microsecond: "0.002",
		12*time.Millisecond + 400*time.Microsecond: "0.012", 61 * time.Second: "61.000", 2*time.Second + 999600*time.Microsecond: "3.000"} {
		if got := string(appendSeconds(nil, int64(d))); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
	if got := string(appendLogField(nil, []byte("a\"b\\c\x00\x1f\x7f\xff z"), true)); got != `"a\x22b\x5Cc\x00\x1F\x7F\xFF z"` {
		t.Errorf("escaped %s", got)
	}
	if got := string(appendLogField(nil, nil, false)); got != `"-"` {
		t.Errorf("absent %s", got)
	}
	if got := string(appendLogField(nil, []byte{}, true)); got != `""` {
		t.Errorf("empty %s", got)
	}
	if got := string(appendCapped([]byte("ab"), []byte("cdef"), 4)); got != "abcd" {
		t.Errorf("capped %q", got)
	}
}

// mcHitAccessLog is the access log of mcHitFixture's server (nil: off).
var mcHitAccessLog io.Writer

// TestMemcachedHitPathAccessLogAllocates: TestMemcachedHitPathAllocatesNothing
// with the access log on (to io.Discard): a memcached hit, through a real
// server and memcached, still allocates nothing per request; the periodic
// flush's timer is counted apart, as the store's sweep timer is.
func TestMemcachedHitPathAccessLogAllocates(t *testing.T) {
	mcHitAccessLog = io.Discard
	// The flush timer hands the loop's buffer over with EventLoop.Execute
	// every accessLogFlush, as the store's sweep timer does its sweep.
	saved := backgroundAllocators
	backgroundAllocators = append(backgroundAllocators[:len(saved):len(saved)], "github.com/mcpage/mcpage/server.(*loopLog).schedule.func1")
	defer func() { mcHitAccessLog, backgroundAllocators = nil, saved }()
	for _, depth := range []int{1, 16} {
		t.Run(strconv.Itoa(depth), func(t *testing.T) {
			h := mcHitFixture(t, 10<<10, depth)
			h.hits(t, 400) // warm: buffers reach their steady size, the free list is stocked
			n := 2000 / depth
			hits := n * depth
			checkHitAllocs(t, "memcached hit path with access log", hits, func() { h.hits(t, n) })
		})
	}
}
