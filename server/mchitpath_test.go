package server

// The memcached hit path, end to end in one process: a real memcached
// (internal/mctest), the server wired the way cmd/mcpage wires -memcached
// (one loop, its mcstore.Store over an mcclient.LoopClient), and a client on
// a real socket. The embedded store's hit path (hitpath_test.go) is driven
// over memory, but a memcached hit is two events on the loop — the request,
// then memcached's reply — so here everything runs on real sockets and
// allocations are those of the whole process (runtime.MemStats), which is
// what testing.B's allocs/op counts too. The client is allocation-free:
// pre-built request bytes written to a net.Conn, and a reader that parses
// nothing but the head's end, X-Cache and Content-Length.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/mcstore"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// mcHit is a running server whose pages live in one memcached, holding one
// page, and a keep-alive client connection to it.
type mcHit struct {
	nc    net.Conn
	req   []byte // depth requests
	depth int
	buf   []byte // the response being read
	body  []byte // the page's body, for checking
}

var (
	errHitShort  = errors.New("response head without Content-Length")
	errHitNotHit = errors.New("response is not X-Cache: HIT")
	errHitExtra  = errors.New("bytes past the response")
	errHitBig    = errors.New("response larger than the read buffer")
)

var (
	crlfcrlf        = []byte("\r\n\r\n")
	contentLengthLn = []byte("\r\nContent-Length: ")
	xCacheHitLn     = []byte("\r\nX-Cache: HIT\r\n")
)

// mcHitFixture starts memcached and a server in front of it (with cmd/mcpage's
// -memcached wiring and defaults), stores a page of size bytes under
// http://example.test/page, and dials the server with a client that sends
// depth requests for it at a time, pipelined.
func mcHitFixture(tb testing.TB, size, depth int) *mcHit {
	tb.Helper()
	mc := mctest.Start(tb)
	ring, err := ketama.New([]ketama.Server{{Addr: mc.Addr}})
	if err != nil {
		tb.Fatal(err)
	}
	// cmd/mcpage's defaults for -mc-* flags, and its memcachedStore.
	mcfg := mcclient.Config{ConnectTimeout: time.Second, OpTimeout: 100 * time.Millisecond,
		ConnsPerServer: 1, FailureLimit: 3, RetryInterval: 2 * time.Second, MaxValueSize: DefaultMaxItem}
	sweep := max(mcfg.OpTimeout/10, 5*time.Millisecond)
	cfg := Config{
		Listen:    "127.0.0.1:0",
		Loops:     1,
		Upstream:  upstreamCfg("127.0.0.1:1"), // never asked: the page is stored
		Policy:    cachepolicy.Rules{DefaultTTL: time.Minute},
		AccessLog: mcHitAccessLog, // accesslog_internal_test.go
		NewStore: func(_ int, el gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(el, ring, mcfg)
			if err != nil {
				panic(err)
			}
			return mcstore.New(lc, mcstore.Config{SweepEvery: sweep, FillTTL: 10, FillWait: time.Second, Keep: MaxStaleKeep})
		},
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	select {
	case <-s.Ready():
	case err := <-done:
		tb.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("server not ready")
	}
	tb.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			tb.Error("Serve did not return after Shutdown")
		}
	})

	// The page, as the embedded fixture's (hitFixture), written straight
	// into memcached with the TTL the store would give it (Store.ttl:
	// freshness left, less a second, plus Keep), so that mg R<Keep> elects
	// no refresher.
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	rec := pagerecord.AppendRecord(nil, &pagerecord.Record{
		Status: 200, StoredAt: time.Now().Unix(), TTL: 3600,
		Header: []byte("Content-Type: text/html\r\nCache-Control: max-age=3600\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"),
		Body:   body,
	})
	key := cachepolicy.AppendKey(nil, s.keyPrefix, []byte("example.test"), []byte("/page"))
	mcSet(tb, mc.Addr, key, rec, 3600-1+int(MaxStaleKeep/time.Second))

	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	h := &mcHit{nc: nc, req: bytes.Repeat([]byte(browserGET), depth), depth: depth,
		buf: make([]byte, depth*(size+1024)+64<<10), body: body}
	// The first hit dials memcached (the loop client connects on demand)
	// and checks the response in full.
	n, err := h.hit()
	if err != nil {
		tb.Fatalf("first request: %v\n%.400s", err, h.buf[:n])
	}
	if !bytes.HasSuffix(h.buf[:n], body) {
		tb.Fatalf("hit with the wrong body:\n%.400s", h.buf[:n])
	}
	return h
}

// mcSet stores value under key with a plain ms, on a connection of its own.
func mcSet(tb testing.TB, addr string, key, value []byte, ttl int) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	cmd := fmt.Appendf(nil, "ms %s %d T%d\r\n", key, len(value), ttl)
	cmd = append(append(cmd, value...), "\r\n"...)
	if _, err := c.Write(cmd); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "HD\r\n" {
		tb.Fatalf("ms %s: %q %v", key, line, err)
	}
}

// hit sends the request (depth of them, pipelined in one write) and reads
// the responses, each into the start of h.buf; it returns the length of the
// last one read. It allocates nothing.
func (h *mcHit) hit() (int, error) {
	if _, err := h.nc.Write(h.req); err != nil {
		return 0, err
	}
	n := 0 // bytes read into h.buf and not yet consumed
	for left := h.depth; left > 0; left-- {
		total := -1
		for {
			if total < 0 {
				if end := bytes.Index(h.buf[:n], crlfcrlf); end >= 0 {
					head := h.buf[:end+2]
					if !bytes.Contains(head, xCacheHitLn) {
						return n, errHitNotHit
					}
					i := bytes.Index(head, contentLengthLn)
					if i < 0 {
						return n, errHitShort
					}
					cl := 0
					for _, c := range head[i+len(contentLengthLn):] {
						if c < '0' || c > '9' {
							break
						}
						cl = cl*10 + int(c-'0')
					}
					total = end + 4 + cl
				}
			}
			if total >= 0 && n >= total {
				break
			}
			if n == len(h.buf) {
				return n, errHitBig
			}
			m, err := h.nc.Read(h.buf[n:])
			n += m
			if err != nil {
				return n, err
			}
		}
		if left == 1 {
			if n != total {
				return n, errHitExtra
			}
			return n, nil
		}
		n = copy(h.buf, h.buf[total:n])
	}
	return 0, nil
}

// hits makes n hits, failing tb at the first that fails.
func (h *mcHit) hits(tb testing.TB, n int) {
	for i := 0; i < n; i++ {
		if m, err := h.hit(); err != nil {
			tb.Fatalf("hit %d: %v\n%.400s", i, err, h.buf[:m])
		}
	}
}

// mallocsPer returns the heap allocations of the whole process while f made
// n hits, per hit.
func mallocsPer(n int, f func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// allocSite is a call stack that allocated, and how many objects.
type allocSite struct {
	n     int64
	stack string
}

// profiledAllocs runs f with every allocation of the process recorded
// (MemProfileRate 1) and returns the stacks that allocated meanwhile, split
// into those a timer explains and the rest.
//
// The whole process allocates a little while hits run, none of it per hit:
// the loop's store sweep (every SweepEvery) and the engine's tick hand their
// work to the loop with gnet's EventLoop.Execute, which wraps the Runnable
// in a closure and a lock-free queue node (2 objects per call); the event
// loop puts the finished task back into a sync.Pool, which allocates a pool
// chain after a GC has emptied it; each time.AfterFunc firing starts a
// goroutine (time.goFunc); gnet's worker pool (ants) runs a purge ticker;
// the garbage collector's mark workers, should a cycle run, take sudogs;
// the scheduler may start an OS thread when the machine is loaded.
// The runtime also builds each type switch's and interface assertion's
// cache at a random moment (1 in 1024 calls: runtime.interfaceSwitch,
// runtime.typeAssert), once per call site and type. Those are "background";
// anything else that allocates while only hits run is the hit path's.
func profiledAllocs(f func()) (hit, background []allocSite) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	before := allocsByStack()
	f()
	after := allocsByStack()
	for st, n := range after {
		d := n - before[st]
		if d <= 0 {
			continue
		}
		var sb strings.Builder
		bg, ours := false, false
		frames := runtime.CallersFrames(st[:])
		for {
			fr, more := frames.Next()
			if fr.Function != "" {
				fmt.Fprintf(&sb, "\n\t%s (%s:%d)", fr.Function, filepath.Base(fr.File), fr.Line)
				for _, b := range backgroundAllocators {
					bg = bg || fr.Function == b
				}
				ours = ours || fr.Function == "github.com/mcpage/mcpage/server.allocsByStack"
			}
			if !more {
				break
			}
		}
		site := allocSite{n: d, stack: sb.String()}
		switch {
		case ours: // the "before" snapshot
		case bg:
			background = append(background, site)
		default:
			hit = append(hit, site)
		}
	}
	return hit, background
}

// backgroundAllocators are the functions whose allocations profiledAllocs
// does not count against hits.
var backgroundAllocators = []string{
	"github.com/mcpage/mcpage/server.(*loop).startStoreSweep.func1",
	"github.com/mcpage/mcpage/server.(*engineHandler).OnTick",
	"github.com/panjf2000/gnet/v2/pkg/queue.PutTask",
	"github.com/panjf2000/ants/v2.(*poolCommon).ticktock",
	"time.goFunc",
	"runtime.gcBgMarkWorker",
	"runtime.allocm",            // the scheduler starting an OS thread (seen under load)
	"runtime.bgscavenge",        // the runtime's memory scavenger re-arming its timer
	"runtime.(*timers).addHeap", // any timer heap growing (the runtime's own timers included)
	"runtime.interfaceSwitch",
	"runtime.typeAssert",
}

// allocsByStack returns the objects allocated so far by each stack, as of a
// garbage collection run now.
func allocsByStack() map[[32]uintptr]int64 {
	runtime.GC() // the profile is published at the end of a cycle
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			break
		}
	}
	m := make(map[[32]uintptr]int64, n)
	for _, r := range recs[:n] {
		m[r.Stack0] += r.AllocObjects
	}
	return m
}

var mcHitSizes = []int{1 << 10, 10 << 10, 100 << 10}

// TestMemcachedHitPathAllocatesNothing pins a memcached hit at zero
// allocations: the request read and parsed, the mg written, memcached's
// reply read and parsed, the response written straight from the reply
// buffer; also for pipelined requests, whose lookups are in flight together
// (the store's table of them, the connection's response queue). Counted
// twice: the whole process (runtime.MemStats, as a benchmark's allocs/op),
// where timers add a few hundredths per hit, and every allocation's stack
// (profiledAllocs), where nothing but those timers may show up.
func TestMemcachedHitPathAllocatesNothing(t *testing.T) {
	cases := []struct{ size, depth int }{{1 << 10, 1}, {10 << 10, 1}, {100 << 10, 1}, {10 << 10, 16}}
	for _, tc := range cases {
		name := sizeName(tc.size)
		if tc.depth > 1 {
			name += "x" + strconv.Itoa(tc.depth)
		}
		t.Run(name, func(t *testing.T) {
			h := mcHitFixture(t, tc.size, tc.depth)
			h.hits(t, 200) // warm: buffers reach their steady size
			n := 2000 / tc.depth
			hits := n * tc.depth
			checkHitAllocs(t, "memcached hit path", hits, func() { h.hits(t, n) })
		})
	}
}

// checkHitAllocs runs run (which serves hits) twice: once counting the
// whole process's allocations, which must stay under one per 8 hits (a
// timer's few, not one per hit), and once profiling them by stack, where
// any allocation outside backgroundAllocators fails the test. Without
// assertions under the race detector, which allocates.
func checkHitAllocs(t *testing.T, what string, hits int, run func()) {
	t.Helper()
	per := mallocsPer(hits, run)
	t.Logf("%s, whole process: %.4f allocations per hit (%d hits)", what, per, hits)
	if raceEnabled {
		return // `make test` checks without it
	}
	if per > 1.0/8 {
		t.Errorf("%s: %.4f allocations per request, whole process", what, per)
	}
	hit, bg := profiledAllocs(run)
	var nbg int64
	for _, s := range bg {
		nbg += s.n
	}
	t.Logf("%d allocations from timers while %d hits ran (not per hit)", nbg, hits)
	for _, s := range hit {
		t.Errorf("%d allocations in %d hits at:%s", s.n, hits, s.stack)
	}
}

func BenchmarkMemcachedHitPath(b *testing.B) {
	for _, size := range mcHitSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			h := mcHitFixture(b, size, 1)
			h.hits(b, 200)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			h.hits(b, b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func sizeName(n int) string { return strconv.Itoa(n>>10) + "KB" }
