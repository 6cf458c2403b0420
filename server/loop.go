package server

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
)

// loop is the state one event loop owns: its page store handle, its
// connections (for the timeout sweep) and scratch buffers. Every field is
// touched only on that loop's goroutine.
type loop struct {
	s     *Server
	el    gnet.EventLoop
	idx   int
	store pagestore.Store
	// syncStore: the store answers Get before it returns (the embedded one), so
	// a miss can be forwarded from the live request without copying it.
	syncStore bool
	// req is the parser's scratch: the request onTraffic is parsing and
	// dispatching, on whichever connection (a request is parsed and
	// dispatched within one OnTraffic, so one per loop suffices). A request
	// whose body spans reads keeps its head in its connection's bodyState.
	req     httpparse.Request
	reparse httpparse.Request // scratch for re-parsing a slot's copy (PageLookup)
	live    liveLookup        // the lookup running inside store.Get (dispatch.go)
	conns   map[*conn]struct{}

	hdr  []byte    // response head being built for a hit
	iov  [2][]byte // Writev vector: head, body
	keyb []byte    // cache key being built
	// Variant lookups (vary.go): a request's selecting values, and the
	// bytes a variant's digest is computed over.
	selecting   cachepolicy.Selecting
	varyScratch []byte
	// aeMemo: the last Accept-Encoding value this loop judged and whether
	// it takes gzip (acceptsGzip). Clients send the same few values on
	// every request; parsing the list was an eighth of a hit's CPU.
	aeMemo   [64]byte
	aeMemoN  int // -1: empty
	aeMemoOK bool
	now      time.Time   // clock read once per event
	dec      *decodedLRU // identity bodies of compressed records, for clients that can't take gzip

	// Recycled per-request state, shared by the loop's connections so that an
	// idle connection holds none of it (idle.go): response slots, one body
	// state, one request-body buffer and deep pipelines' response queues.
	slots     []*pending
	spare     *bodyState
	spareBody []byte
	spareQ    [][]*pending

	// blocked lists connections whose output is above Config.MaxOutbound,
	// for the drain pass (output.go); blockedSpare is its recycled twin.
	// The store's optional hooks (pagestore.Corker, ...), nil when absent.
	corker  pagestore.Corker
	awaiter pagestore.Awaiter // corker, when its answers come on its own connections
	pender  pagestore.Pender
	closer  pagestore.Closer
	sweep   *storeSweep // the store's own sweep timer (pagestore.Sweeper)
	// batch: the store is held corked until its next connection event or
	// Sweep (batch.go).
	batch bool
	// elects: the store elects one refresher per stale page among every
	// process sharing it (pagestore.Elector), so a stale page this loop was
	// not elected for is left to the elected reader (stale.go).
	elects bool

	inbox inbox // results from upstream workers (inbox.go)

	blocked, blockedSpare []*conn
	drainTimer            *time.Timer // runs the drain pass (created on first use)
	drainScheduled        bool

	m loopCounters // what this loop answered, for metrics (metrics.go); atomics read by scrapes

	alog *loopLog // the access log's buffer (accesslog.go); nil when it is off

	ipText [48]byte // clientIP's scratch: an address as text (forward.go)
}

func newLoop(s *Server, el gnet.EventLoop, idx int) *loop {
	l := &loop{
		aeMemoN: -1,
		s:       s,
		el:      el,
		idx:     idx,
		conns:   make(map[*conn]struct{}),
		hdr:     make([]byte, 0, 4096),
		keyb:    make([]byte, 0, 512),
	}
	if s.cfg.NewStore != nil {
		l.store = s.cfg.NewStore(idx, el)
		l.corker, _ = l.store.(pagestore.Corker)
		l.awaiter, _ = l.store.(pagestore.Awaiter)
		l.pender, _ = l.store.(pagestore.Pender)
		l.closer, _ = l.store.(pagestore.Closer)
		if e, ok := l.store.(pagestore.Elector); ok {
			l.elects = e.ElectsRefresher()
		}
		if sw, ok := l.store.(pagestore.Sweeper); ok {
			l.startStoreSweep(sw)
		}
	} else {
		l.store = s.embedded
		l.syncStore = true
	}
	l.inbox.l = l
	l.dec = newDecodedLRU(decodedBudget(s.cfg.StoreSize))
	if s.alog != nil {
		l.alog = s.alog.newLoopLog(el)
	}
	return l
}

// Run is the timeout sweep, executed on the loop (OnTick hands it over with
// EventLoop.Execute). ReadTimeout is a deadline, not an idle timer:
//   - a request head must be complete within ReadTimeout of the moment the
//     connection went idle (its last response written, or it opened); bytes
//     trickling in do not extend it (nginx's client_header_timeout);
//   - a request body must not stall for ReadTimeout, where only bodyStep
//     bytes or more count as progress (client_body_timeout);
//   - a response the client does not read must make progress within
//     ReadTimeout (send_timeout).
//
// A connection whose responses are still being fetched is left to the
// upstream timeout. Connections told to close after their last response are
// closed once gnet's outbound buffer has drained.
func (l *loop) Run(context.Context) error {
	now := l.s.clock()
	l.now = now
	deadline := now.Add(-l.s.cfg.ReadTimeout).UnixNano()
	draining := l.s.draining.Load()
	for c := range l.conns {
		switch {
		case c.outBlocked:
			if c.outSince < deadline {
				c.close()
			}
		case c.inBody:
			if c.bodySince < deadline {
				c.close()
			}
		case c.waiting() > 0:
			// A response is still being produced; the upstream timeout bounds it.
		case c.closing:
			// Told to close after its last response: close once gnet has sent it
			// (Close would drop what the socket did not take), or at the deadline.
			if c.gc.OutboundBuffered() == 0 || c.since < deadline {
				c.close()
			}
		case c.since < deadline || draining && l.drainClose(c):
			// Idle, or a partial request that has not completed since the
			// connection went idle: sending bytes slowly does not extend it.
			// Draining, idle connections go (drain.go).
			c.close()
		}
	}
	return nil
}

// decodedBudget is how many bytes each loop may spend keeping decompressed
// copies of hot compressed pages: a sixteenth of the store, at least 4 MiB.
func decodedBudget(storeSize int64) int {
	b := storeSize / 16
	if b < 4<<20 {
		b = 4 << 20
	}
	return int(b)
}

// acceptsGzip reports whether an Accept-Encoding value takes gzip
// (cachepolicy.AcceptsEncoding), remembering the last value judged: the
// same value (byte for byte, up to 64 bytes) is not parsed again. Loop-only.
func (l *loop) acceptsGzip(ae []byte) bool {
	if l.aeMemoN == len(ae) && l.aeMemoN >= 0 && string(l.aeMemo[:l.aeMemoN]) == string(ae) {
		return l.aeMemoOK
	}
	ok := cachepolicy.AcceptsEncoding(ae, "gzip")
	if len(ae) <= len(l.aeMemo) {
		l.aeMemoN = copy(l.aeMemo[:], ae)
		l.aeMemoOK = ok
	}
	return ok
}
