package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// The load generator: a gnet client, one event loop (one OS thread, like
// wrk -t1), that keeps every connection busy: keep-alive connections send
// the next request when a response has been read; pipelined ones send depth
// requests in one write and the next depth when all are answered (what wrk
// does with a pipelining script). It parses only what it checks (status,
// Content-Length, X-Cache) and discards bodies as they arrive, so a 1 MB
// response costs it its read syscalls and nothing else.
//
// Why not wrk: requests here change per request (a new key per miss, Zipf
// keys, an Authorization header), which wrk does only through a Lua
// request() call per request that costs more than the request; wrk reports
// no p99.9 without Lua either, checks no body length and counts no X-Cache.
// BenchmarkLoadgen measures this client against wrk on the same fixed-answer
// server when wrk is installed: the two drive it at the same rate, within
// the run-to-run noise.

// reqFunc appends one request to dst. It runs on the client's loop; rng is
// the connection's own generator state.
type reqFunc func(dst []byte, rng *uint64) []byte

// loadSpec is one run.
type loadSpec struct {
	addrs []string // servers; connections are spread over them round-robin
	conns int
	depth int // requests in flight per connection: 1 = keep-alive, more = pipelined
	n     int // requests to complete
	req   reqFunc
	// wantLen: body length every response must have; -1: any.
	wantLen int
	// at, when set, is called once (on its own goroutine) when atDone
	// responses have completed (the memcached-kill scenario).
	at     func()
	atDone int
	// limit bounds the run; 0 = 2 minutes.
	limit time.Duration
}

// loadResult is what a run measured.
type loadResult struct {
	done     int
	errors   int // broken connections, bad responses, non-2xx, wrong lengths
	firstErr error
	elapsed  time.Duration
	hist     histogram
	xcache   [len(xcacheNames)]int // responses by their X-Cache value
}

// xcacheNames are the X-Cache values counted; the last counts the others,
// and responses without one.
var xcacheNames = [...]string{"HIT", "MISS", "STALE", "BYPASS", "PASS", "REVALIDATED", "other"}

func xcacheIndex(v []byte) int {
	for i, n := range xcacheNames[:len(xcacheNames)-1] {
		if string(v) == n {
			return i
		}
	}
	return len(xcacheNames) - 1
}

// count returns how many responses said X-Cache: name.
func (r *loadResult) count(name string) int {
	for i, n := range xcacheNames {
		if n == name {
			return r.xcache[i]
		}
	}
	return 0
}

func (r *loadResult) rps() float64 { return float64(r.done) / r.elapsed.Seconds() }

// loadgen is the client engine: started once per benchmark binary, its
// connections opened per run.
type loadgen struct {
	gnet.BuiltinEventEngine
	cli *gnet.Client
}

var (
	lgOnce sync.Once
	lg     *loadgen
	lgErr  error
)

func theLoadgen() (*loadgen, error) {
	lgOnce.Do(func() {
		l := &loadgen{}
		l.cli, lgErr = gnet.NewClient(l, gnet.WithNumEventLoop(1), gnet.WithLockOSThread(true),
			gnet.WithLogger(quietLogger{}))
		if lgErr == nil {
			lgErr = l.cli.Start()
		}
		lg = l
	})
	return lg, lgErr
}

// run is one measurement: prepare, then start.
func (l *loadgen) run(spec loadSpec) (*loadResult, error) {
	st, err := l.prepare(spec)
	if err != nil {
		return nil, err
	}
	defer st.close()
	return st.run()
}

// prepare dials every connection of a run; nothing is sent until run.
func (l *loadgen) prepare(spec loadSpec) (*runState, error) {
	if spec.depth < 1 {
		spec.depth = 1
	}
	if spec.limit == 0 {
		spec.limit = 2 * time.Minute
	}
	st := &runState{spec: spec, done: make(chan struct{}), res: &loadResult{}}
	conns, err := l.dial(spec.addrs, spec.conns, st)
	st.conns = conns
	if err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// close closes the run's connections.
func (st *runState) close() {
	for _, c := range st.conns {
		c.closing.Store(true)
		_ = c.gc.Close()
	}
}

// run starts every prepared connection at once, from the loop, and waits
// until spec.n responses have come (or spec.limit has passed).
func (st *runState) run() (*loadResult, error) {
	conns, spec := st.conns, st.spec
	st.start = time.Now()
	if err := conns[0].gc.EventLoop().Execute(context.Background(), runFunc(st.kick)); err != nil {
		return nil, err
	}
	select {
	case <-st.done:
	case <-time.After(spec.limit):
		// Stop it on the loop, then read what it got.
		stopped := make(chan struct{})
		_ = conns[0].gc.EventLoop().Execute(context.Background(), runFunc(func() {
			if !st.finished {
				st.fail(fmt.Errorf("run not finished after %v: %d of %d responses", spec.limit, st.res.done, spec.n))
				st.finish()
			}
			close(stopped)
		}))
		<-stopped
	}
	return st.res, nil
}

// idle opens n connections, each sending one request (req) and reading its
// response, and leaves them open and idle: the caller measures what they
// cost the server, then calls the returned close function.
func (l *loadgen) idle(addrs []string, n int, req reqFunc) (func(), error) {
	st := &runState{spec: loadSpec{addrs: addrs, conns: n, depth: 1, n: n, req: req, wantLen: -1, limit: time.Minute},
		done: make(chan struct{}), res: &loadResult{}}
	conns, err := l.dial(addrs, n, st)
	closeAll := func() {
		for _, c := range conns {
			c.closing.Store(true)
			_ = c.gc.Close()
		}
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	st.conns = conns
	st.start = time.Now()
	_ = conns[0].gc.EventLoop().Execute(context.Background(), runFunc(st.kick))
	select {
	case <-st.done:
	case <-time.After(time.Minute):
		closeAll()
		return nil, errors.New("idle connections: no answers within a minute")
	}
	if st.res.errors > 0 {
		closeAll()
		return nil, st.res.firstErr
	}
	return closeAll, nil
}

func (l *loadgen) dial(addrs []string, n int, st *runState) ([]*cconn, error) {
	conns := make([]*cconn, 0, n)
	for i := 0; i < n; i++ {
		nc, err := dialRetry(addrs[i%len(addrs)])
		if err != nil {
			return conns, err
		}
		cc := &cconn{st: st, rng: uint64(i)*0x9E3779B97F4A7C15 + 1, sent: make([]int64, st.spec.depth)}
		gc, err := l.cli.EnrollContext(nc, cc)
		if err != nil {
			return conns, err
		}
		cc.gc = gc
		conns = append(conns, cc)
	}
	return conns, nil
}

// dialRetry dials, retrying briefly when the listen backlog is full (10 000
// connections opened in a burst).
func dialRetry(addr string) (net.Conn, error) {
	var err error
	for i := 0; i < 50; i++ {
		var nc net.Conn
		if nc, err = net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
			return nc, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

type runFunc func()

func (f runFunc) Run(context.Context) error { f(); return nil }

// runState is one run's shared state, touched only on the client loop.
type runState struct {
	spec     loadSpec
	conns    []*cconn
	issued   int
	start    time.Time
	res      *loadResult
	done     chan struct{}
	finished bool
	atFired  bool
}

func (st *runState) kick() {
	for _, c := range st.conns {
		c.send(st.spec.depth)
	}
}

func (st *runState) fail(err error) {
	st.res.errors++
	if st.res.firstErr == nil {
		st.res.firstErr = err
	}
}

func (st *runState) finish() {
	if st.finished {
		return
	}
	st.finished = true
	st.res.elapsed = time.Since(st.start)
	close(st.done)
}

// completed records one response.
func (st *runState) completed(lat int64, status int, xc []byte, bodyLen int) {
	r := st.res
	r.done++
	r.hist.add(lat)
	if status < 200 || status > 299 {
		st.fail(fmt.Errorf("status %d", status))
	} else if st.spec.wantLen >= 0 && bodyLen != st.spec.wantLen {
		st.fail(fmt.Errorf("body of %d bytes, want %d", bodyLen, st.spec.wantLen))
	}
	r.xcache[xcacheIndex(xc)]++
	if st.spec.at != nil && !st.atFired && r.done >= st.spec.atDone {
		st.atFired = true
		go st.spec.at()
	}
	if r.done >= st.spec.n {
		st.finish()
	}
}

// cconn is one client connection.
type cconn struct {
	st      *runState
	gc      gnet.Conn
	rng     uint64
	out     []byte
	sent    []int64 // send times of the requests in flight, a ring
	head    int     // ring index of the oldest request in flight
	flight  int
	closing atomic.Bool

	// response parser state
	inBody   bool
	bodyLeft int
	bodyLen  int
	status   int
	xc       [16]byte
	xcLen    int
}

// send issues up to k requests (fewer when the run's budget is spent), in
// one write.
func (c *cconn) send(k int) {
	st := c.st
	if st.finished {
		return
	}
	now := nanotime()
	c.out = c.out[:0]
	for ; k > 0 && st.issued < st.spec.n; k-- {
		st.issued++
		c.out = st.spec.req(c.out, &c.rng)
		c.sent[(c.head+c.flight)%len(c.sent)] = now
		c.flight++
	}
	if len(c.out) > 0 {
		if _, err := c.gc.Write(c.out); err != nil {
			st.fail(err)
		}
	}
}

var (
	crlf2  = []byte("\r\n\r\n")
	hdrCL  = []byte("content-length:")
	hdrXC  = []byte("x-cache:")
	hdrTE  = []byte("transfer-encoding:")
	epoch  = time.Now()
	errBad = errors.New("malformed response")
)

func nanotime() int64 { return int64(time.Since(epoch)) }

func (l *loadgen) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*cconn)
	if c == nil {
		return gnet.Close
	}
	buf, _ := gc.Peek(-1)
	used, k := 0, 0
	for used < len(buf) {
		if !c.inBody {
			i := bytes.Index(buf[used:], crlf2)
			if i < 0 {
				if len(buf)-used > 64<<10 {
					c.st.fail(errBad)
					return gnet.Close
				}
				break
			}
			if err := c.parseHead(buf[used : used+i+2]); err != nil {
				c.st.fail(err)
				return gnet.Close
			}
			used += i + 4
			c.inBody = true
		}
		take := min(c.bodyLeft, len(buf)-used)
		used += take
		c.bodyLeft -= take
		if c.bodyLeft > 0 {
			break
		}
		c.inBody = false
		if c.flight == 0 {
			c.st.fail(errors.New("response without a request"))
			return gnet.Close
		}
		lat := nanotime() - c.sent[c.head]
		c.head = (c.head + 1) % len(c.sent)
		c.flight--
		k++
		c.st.completed(lat, c.status, c.xc[:c.xcLen], c.bodyLen)
	}
	_, _ = gc.Discard(used)
	// Keep-alive: the next request. Pipelined: the next batch of depth
	// requests once the whole batch is answered, as wrk's pipeline script
	// does. (Refilling each answered slot at once keeps every connection's
	// socket full for mcpage, which then buffers each new large response
	// in gnet: 100 KB pages ran at a third of the rate.)
	if k > 0 && c.flight == 0 {
		c.send(len(c.sent))
	}
	return gnet.None
}

func (l *loadgen) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*cconn)
	if c == nil || c.closing.Load() || c.st.finished {
		return gnet.None
	}
	if err == nil {
		err = errors.New("connection closed by the server")
	}
	c.st.fail(err)
	// The requests it had in flight will never complete: count them done so
	// the run ends.
	for ; c.flight > 0; c.flight-- {
		c.st.res.done++
	}
	if c.st.res.done >= c.st.spec.n {
		c.st.finish()
	}
	return gnet.None
}

// parseHead reads the status line and the fields the client checks; head
// ends with the last field line's CRLF.
func (c *cconn) parseHead(head []byte) error {
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("HTTP/1.")) {
		return errBad
	}
	c.status = int(head[9]-'0')*100 + int(head[10]-'0')*10 + int(head[11]-'0')
	c.bodyLeft, c.xcLen = -1, 0
	for rest := head; ; {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := rest[:i]
		rest = rest[i+2:]
		switch {
		case hasPrefixFold(line, hdrCL):
			n := 0
			for _, b := range bytes.TrimSpace(line[len(hdrCL):]) {
				if b < '0' || b > '9' {
					return errBad
				}
				n = n*10 + int(b-'0')
			}
			c.bodyLeft = n
		case hasPrefixFold(line, hdrXC):
			c.xcLen = copy(c.xc[:], bytes.TrimSpace(line[len(hdrXC):]))
		case hasPrefixFold(line, hdrTE):
			return errors.New("chunked response: the load generator reads Content-Length bodies only")
		}
	}
	if c.bodyLeft < 0 {
		if c.status == 204 || c.status == 304 {
			c.bodyLeft = 0
		} else {
			return errors.New("response without Content-Length")
		}
	}
	c.bodyLen = c.bodyLeft
	return nil
}

func hasPrefixFold(s, lowerPrefix []byte) bool {
	if len(s) < len(lowerPrefix) {
		return false
	}
	for i, b := range lowerPrefix {
		x := s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != b {
			return false
		}
	}
	return true
}

// histogram is log-linear: 64 sub-buckets per power of two of nanoseconds
// (about 1.1 % resolution), enough for percentiles of millions of samples in
// a fixed 30 KB.
type histogram struct {
	counts [64 * 64]uint64
	n      uint64
	max    int64
}

func (h *histogram) add(ns int64) {
	if ns < 1 {
		ns = 1
	}
	h.counts[histIndex(ns)]++
	h.n++
	h.max = max(h.max, ns)
}

func histIndex(ns int64) int {
	u := uint64(ns)
	if u < 64 {
		return int(u)
	}
	e := 63 - leadingZeros(u) // position of the top bit, ≥ 6
	sub := (u >> (e - 6)) & 63
	return (e-5)*64 + int(sub)
}

func histLow(i int) int64 {
	if i < 64 {
		return int64(i)
	}
	e := i/64 + 5
	sub := uint64(i % 64)
	return int64((64 | sub) << (e - 6))
}

func leadingZeros(u uint64) int {
	n := 0
	for u&(1<<63) == 0 {
		u <<= 1
		n++
	}
	return n
}

// quantile returns the q-quantile in nanoseconds (the bucket's low edge).
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= want && c > 0 {
			return histLow(i)
		}
	}
	return h.max
}

// quietLogger drops gnet's chatter.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
