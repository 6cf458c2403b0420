package server

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// memConn is the part of gnet.Conn the request path uses, over memory: the
// inbound bytes are what a test "received", writes are collected. Methods the
// request path must not call are left to the embedded nil interface (they
// would panic, failing the test).
type memConn struct {
	gnet.Conn
	in     []byte
	out    []byte
	writes int
	ctx    any
	closed bool
	remote net.Addr
}

func (m *memConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(m.in) {
		return m.in, nil
	}
	return m.in[:n], nil
}
func (m *memConn) Discard(n int) (int, error) { m.in = m.in[n:]; return n, nil }
func (m *memConn) Write(b []byte) (int, error) {
	m.writes++
	m.out = append(m.out, b...)
	return len(b), nil
}
func (m *memConn) Writev(bs [][]byte) (int, error) {
	m.writes++
	n := 0
	for _, b := range bs {
		m.out = append(m.out, b...)
		n += len(b)
	}
	return n, nil
}
func (m *memConn) OutboundBuffered() int         { return 0 }
func (m *memConn) Context() any                  { return m.ctx }
func (m *memConn) SetContext(v any)              { m.ctx = v }
func (m *memConn) Close() error                  { m.closed = true; return nil }
func (m *memConn) RemoteAddr() net.Addr          { return m.remote }
func (m *memConn) Wake(gnet.AsyncCallback) error { return nil }

// hitFixture is a server whose embedded store holds one 10 KB page, and a
// connection over memory.
func hitFixture(t testing.TB) (*conn, *memConn, []byte) {
	t.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0", Upstream: upstreamCfg("127.0.0.1:1"),
		Policy: cachepolicy.Rules{DefaultTTL: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeResources) // the upstream pool's workers and the store's goroutines
	l := newLoop(s, nil, 0)
	mc := &memConn{remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}}
	c := l.newConn(mc)
	body := make([]byte, 10<<10)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	rec := pagerecord.AppendRecord(nil, &pagerecord.Record{
		Status: 200, StoredAt: time.Now().Unix(), TTL: 3600,
		Header: []byte("Content-Type: text/html\r\nCache-Control: max-age=3600\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"),
		Body:   body,
	})
	key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/page"))
	l.store.Set(key, rec, time.Hour)
	return c, mc, body
}

const browserGET = "GET /page HTTP/1.1\r\nHost: example.test\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nSec-Fetch-User: ?1\r\nPriority: u=0, i\r\n\r\n"

func TestHitPathServesAndAllocatesNothing(t *testing.T) {
	c, mc, body := hitFixture(t)
	req := []byte(browserGET)
	mc.in = req
	c.onTraffic()
	if !bytes.Contains(mc.out, []byte("X-Cache: HIT\r\n")) || !bytes.HasSuffix(mc.out, body) {
		t.Fatalf("not a hit:\n%.300s", mc.out)
	}
	allocs := testing.AllocsPerRun(200, func() {
		mc.in = req
		mc.out = mc.out[:0]
		c.onTraffic()
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("hit path allocates %.1f times per request", allocs)
	}
	if len(c.q) != 0 || mc.closed {
		t.Fatalf("queue %d closed %v after hits", len(c.q), mc.closed)
	}
}

func BenchmarkHitPath10KB(b *testing.B) {
	c, mc, body := hitFixture(b)
	req := []byte(browserGET)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		mc.in = req
		mc.out = mc.out[:0]
		c.onTraffic()
	}
}

func upstreamCfg(addr string) (c upstream.Config) {
	c.Addrs = []string{addr}
	return c
}

// The loop's Accept-Encoding memo answers as AcceptsEncoding does, whatever
// the sequence of values (same, different, empty, longer than the memo).
func TestAcceptsGzipMemo(t *testing.T) {
	l := &loop{aeMemoN: -1}
	long := "identity;q=1, br;q=0.9, zstd;q=0.8, deflate;q=0.7, compress;q=0.6, gzip;q=0.5"
	for _, ae := range []string{"", "gzip", "gzip", "", "br", "gzip;q=0", "gzip;q=0", long, long, "GZIP", "", "*", "identity"} {
		want := cachepolicy.AcceptsEncoding([]byte(ae), "gzip")
		if got := l.acceptsGzip([]byte(ae)); got != want {
			t.Fatalf("%q: memo says %v, AcceptsEncoding %v", ae, got, want)
		}
	}
}
