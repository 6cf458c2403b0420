package server

// Access log (Config.AccessLog). One line per request, in the combined log
// format followed by mcpage's own fields:
//
//	127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /p HTTP/1.1" 200 2326 "http://a.example/" "curl/8.5.0" HIT - 0.000
//
// remote address, ident and user ("-"), the time the response was done,
// the request line, the status, the body bytes handed to the socket
// (nginx's $body_bytes_sent: the head is not counted), Referer and
// User-Agent, then the X-Cache label (HIT, MISS, STALE, REVALIDATED, BYPASS,
// PASS, PURGE; "-" for an answer without one: a request the parser
// rejected, or a client gone before its answer), the upstream exchange time
// and the total time, in seconds with millisecond precision. The upstream
// time is the pool's exchange for this request (from a worker taking the
// job to the response read whole, or to its head for a streamed body: what
// mcpage_upstream_duration_seconds observes); "-" when the request did not
// go upstream (hits, coalesced misses, stale pages served at once, purges).
// The total time runs from the event in which the request head was parsed
// to the response's last byte handed to gnet. A client that goes away
// before its response was handed over is logged with the status it was
// getting (with the bytes handed over so far), or 499 when it had none yet.
// The request line, Referer and User-Agent are escaped as nginx does
// ('"', '\', control bytes and bytes above 0x7E as \xHH); an absent field
// is "-".
//
// Cost. Nothing is done for a request while the log is off (every hook is
// one nil check on the loop). When it is on, dispatch copies the few request
// bytes the line needs into the response slot (at most maxLogLine of the
// request line, maxLogField of Referer and of User-Agent: the head itself is
// gone by the time a miss is answered), and the line is appended, without
// allocating, to its loop's buffer when the response has been handed to the
// socket. A buffer (accessLogBufSize) that is nearly full, or that has waited
// accessLogFlush, is handed to the one writer goroutine through a channel of
// accessLogQueue buffers, and the loop takes an empty one back from a free
// list. The loop never waits for the writer: when the channel is full the
// buffer's lines are dropped and counted (Stats.AccessLogDropped,
// mcpage_access_log_dropped_total), as are lines the writer failed to write.
// Shutdown hands every loop's partial buffer to the writer and waits for it
// (within ShutdownTimeout), so every line logged before it returns is
// written.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/httpparse"
)

// Access log sizes. Tests change them through Config's unexported fields.
const (
	accessLogBufSize = 64 << 10               // bytes of one loop buffer
	accessLogQueue   = 16                     // buffers waiting for the writer, at most
	accessLogFlush   = 200 * time.Millisecond // longest a line waits in a loop buffer
	maxLogLine       = 1024                   // request line bytes kept
	maxLogField      = 512                    // Referer / User-Agent bytes kept
	// maxLogEntry bounds one formatted line: escaping makes a byte at most
	// four, and the rest (address, date, numbers, label) is far below 256.
	maxLogEntry = 4*(maxLogLine+2*maxLogField) + 256
)

// accessLog is the server's writer: one goroutine writing the buffers the
// loops hand it, in the order they arrive.
type accessLog struct {
	w       io.Writer
	logger  *slog.Logger
	dropped *atomic.Int64 // Stats.AccessLogDropped

	bufSize  int // capacity of a buffer
	flushAt  int // a loop hands its buffer over once it holds this much
	interval time.Duration

	mu     sync.RWMutex // hand-offs (shared) against close (exclusive)
	closed bool
	full   chan logBuf
	free   chan []byte
	done   chan struct{} // closed when the writer goroutine returns
	once   sync.Once

	lastWarn time.Time // writer goroutine only
}

// logBuf is a buffer of whole lines.
type logBuf struct {
	b     []byte
	lines int64
}

// newAccessLog starts the writer goroutine for cfg.AccessLog.
func newAccessLog(cfg *Config, dropped *atomic.Int64) *accessLog {
	size, queue, every := cfg.accessLogBuf, cfg.accessLogQueue, cfg.accessLogEvery
	if size <= 0 {
		size = accessLogBufSize
	}
	if queue <= 0 {
		queue = accessLogQueue
	}
	if every <= 0 {
		every = accessLogFlush
	}
	a := &accessLog{
		w: cfg.AccessLog, logger: cfg.Logger, dropped: dropped,
		bufSize: size, flushAt: max(size-maxLogEntry, 0), interval: every,
		full: make(chan logBuf, queue),
		free: make(chan []byte, queue+1),
		done: make(chan struct{}),
	}
	go a.run()
	return a
}

// run is the writer goroutine: it writes each buffer and gives it back to
// the free list.
func (a *accessLog) run() {
	defer close(a.done)
	for lb := range a.full {
		if _, err := a.w.Write(lb.b); err != nil {
			a.dropped.Add(lb.lines)
			if now := time.Now(); now.Sub(a.lastWarn) >= time.Minute {
				a.lastWarn = now
				a.logger.Warn("access log: write failed; lines dropped", "err", err)
			}
		}
		select {
		case a.free <- lb.b[:0]:
		default:
		}
	}
}

// send hands lb to the writer unless the writer is behind (or closed). It
// never blocks. Any goroutine.
func (a *accessLog) send(lb logBuf) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return false
	}
	select {
	case a.full <- lb:
		return true
	default:
		return false
	}
}

// take returns an empty buffer: one the writer is done with, or a new one
// (only while buffers are still being added to the circulation: their
// number is bounded by the loops, the queue and the free list).
func (a *accessLog) take() []byte {
	select {
	case b := <-a.free:
		return b
	default:
		return make([]byte, 0, a.bufSize)
	}
}

// loopLog is one loop's access log buffer. Loop only.
type loopLog struct {
	a     *accessLog
	el    gnet.EventLoop // nil in tests that drive a loop by hand: no timer
	buf   []byte
	lines int64
	// date is the bracketed time of day for the unix second sec.
	sec  int64
	date []byte
	// timer hands the buffer over accessLogFlush after its first line.
	timer     *time.Timer
	scheduled bool
}

func (a *accessLog) newLoopLog(el gnet.EventLoop) *loopLog {
	return &loopLog{a: a, el: el, buf: a.take(), sec: -1, date: make([]byte, 0, 32)}
}

// handoff gives the buffer to the writer, or drops its lines when the
// writer is behind. Loop only.
func (g *loopLog) handoff() {
	if len(g.buf) == 0 {
		return
	}
	if !g.a.send(logBuf{g.buf, g.lines}) {
		g.a.dropped.Add(g.lines)
		g.buf, g.lines = g.buf[:0], 0
		return
	}
	g.buf, g.lines = g.a.take(), 0
}

// schedule arranges for the buffer to be handed over after the flush
// interval. Loop only.
func (g *loopLog) schedule() {
	if g.scheduled || g.el == nil {
		return
	}
	g.scheduled = true
	if g.timer == nil {
		el, run := g.el, (*logFlusher)(g)
		g.timer = time.AfterFunc(g.a.interval, func() {
			// Fails only when the engine is stopping: Shutdown then hands the
			// buffer over itself.
			_ = el.Execute(context.Background(), run)
		})
		return
	}
	g.timer.Reset(g.a.interval)
}

// logFlusher is a loop's periodic hand-off as a gnet Runnable.
type logFlusher loopLog

func (f *logFlusher) Run(context.Context) error {
	g := (*loopLog)(f)
	g.scheduled = false
	g.handoff()
	return nil
}

// closeAccessLog hands every loop's partial buffer to the writer, waits
// until it has written everything (at most ShutdownTimeout), and stops it.
// Only once the event loops have stopped: it reads their buffers. The
// writer itself (Config.AccessLog) is not closed.
func (s *Server) closeAccessLog() {
	a := s.alog
	if a == nil {
		return
	}
	a.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		s.mu.Lock()
		loops := make([]*loop, 0, len(s.loops))
		for _, l := range s.loops {
			loops = append(loops, l)
		}
		s.mu.Unlock()
		for _, l := range loops {
			g := l.alog
			if g.timer != nil {
				g.timer.Stop()
			}
			if len(g.buf) == 0 {
				continue
			}
			select {
			case a.full <- logBuf{g.buf, g.lines}:
			case <-ctx.Done():
				a.dropped.Add(g.lines)
			}
			g.buf, g.lines = nil, 0
		}
		a.mu.Lock()
		a.closed = true
		close(a.full)
		a.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			s.cfg.Logger.Warn("shutdown: access log writer still busy; not waiting for it")
		}
	})
}

// slotLog is what a response slot keeps for its access log line (set only
// while the log is on).
type slotLog struct {
	start   int64         // unix nanos of the event that parsed the head
	up      time.Duration // upstream exchange time; 0: did not go upstream
	relayed int64         // bytes of a streamed response's earlier slices handed to gnet
	headLen int32         // bytes of the response head (the rest is body)
	status  uint16        // 0: no response yet
	out     outcome
	hasRef  bool
	hasUA   bool
	line    []byte // request line, at most maxLogLine bytes; empty: unknown
	referer []byte
	ua      []byte
}

var (
	fieldReferer   = "Referer"
	fieldUserAgent = "User-Agent"
)

// logStamp starts slot p's log entry at dispatch; req is nil for a request
// the parser rejected. Only while the log is on.
func (c *conn) logStamp(p *pending, req *httpparse.Request) {
	g := &p.lg
	g.start = c.l.now.UnixNano()
	if c.rb != nil {
		g.start = c.rb.start // a body followed the head: time from the head
	}
	g.up, g.relayed, g.headLen, g.status, g.out = 0, 0, 0, 0, outNone
	g.line, g.referer, g.ua = g.line[:0], g.referer[:0], g.ua[:0]
	g.hasRef, g.hasUA = false, false
	if req == nil {
		return
	}
	g.line = appendCapped(g.line, req.Method, maxLogLine)
	g.line = appendCapped(g.line, space, maxLogLine)
	g.line = appendCapped(g.line, req.Target, maxLogLine)
	if req.ProtoMinor == 0 {
		g.line = appendCapped(g.line, proto10, maxLogLine)
	} else {
		g.line = appendCapped(g.line, proto11, maxLogLine)
	}
	if v := req.Header(fieldReferer); v != nil {
		g.hasRef, g.referer = true, appendCapped(g.referer, v, maxLogField)
	}
	if v := req.Header(fieldUserAgent); v != nil {
		g.hasUA, g.ua = true, appendCapped(g.ua, v, maxLogField)
	}
}

var (
	space   = []byte(" ")
	proto10 = []byte(" HTTP/1.0")
	proto11 = []byte(" HTTP/1.1")
	crlf2   = []byte("\r\n\r\n")
)

// logAccount notes, when a slot's response is counted (account), its status,
// outcome and head length.
func (p *pending) logAccount(status int, o outcome, out []byte) {
	p.lg.status, p.lg.out = uint16(status), o
	if i := bytes.Index(out, crlf2); i >= 0 {
		p.lg.headLen = int32(i + len(crlf2))
	} else {
		p.lg.headLen = int32(len(out))
	}
}

// appendCapped appends as much of src as keeps dst within limit bytes.
func appendCapped(dst, src []byte, limit int) []byte {
	if room := limit - len(dst); room < len(src) {
		src = src[:max(room, 0)]
	}
	return append(dst, src...)
}

// logDone appends slot p's line to the loop's buffer: its response has been
// handed to gnet whole, or its client went away first. Loop only
// (or after the loops have stopped, from gnet closing connections).
func (l *loop) logDone(c *conn, p *pending) {
	g := l.alog
	e := &p.lg
	now := l.s.clock()
	status, out := int(e.status), e.out
	if status == 0 {
		status, out = 499, outNone // nginx's "client closed request"
	}
	sent := e.relayed + int64(p.sent)
	body := max(sent-int64(e.headLen), 0)

	b := g.buf
	b = appendRemote(b, c.remote)
	b = append(b, " - - "...)
	if s := now.Unix(); s != g.sec {
		g.sec = s
		g.date = now.AppendFormat(g.date[:0], "[02/Jan/2006:15:04:05 -0700]")
	}
	b = append(b, g.date...)
	b = append(b, ' ')
	b = appendLogField(b, e.line, len(e.line) > 0)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, body, 10)
	b = append(b, ' ')
	b = appendLogField(b, e.referer, e.hasRef)
	b = append(b, ' ')
	b = appendLogField(b, e.ua, e.hasUA)
	b = append(b, ' ')
	if out == outNone {
		b = append(b, '-')
	} else {
		b = append(b, outcomeNames[out]...)
	}
	b = append(b, ' ')
	if e.up > 0 {
		b = appendSeconds(b, int64(e.up))
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = appendSeconds(b, max(now.UnixNano()-e.start, 0))
	b = append(b, '\n')
	g.buf = b
	g.lines++
	if len(b) >= g.a.flushAt {
		g.handoff()
	} else {
		g.schedule()
	}
}

// appendRemote appends the client's IP address (proxy.go), "-" when unknown.
func appendRemote(b []byte, a netip.AddrPort) []byte {
	if a.IsValid() {
		return a.Addr().AppendTo(b)
	}
	return append(b, '-')
}

// appendSeconds appends d nanoseconds as seconds with millisecond
// precision ("0.012").
func appendSeconds(b []byte, d int64) []byte {
	ms := (d + 500_000) / 1_000_000
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

const hexDigits = "0123456789ABCDEF"

// appendLogField appends v in double quotes, escaped as nginx escapes log
// variables: '"', '\', control bytes and bytes from 0x7F as \xHH. A field
// that was absent is "-" (quoted, as nginx writes it).
func appendLogField(b, v []byte, present bool) []byte {
	b = append(b, '"')
	if !present {
		b = append(b, '-')
	}
	for len(v) > 0 {
		i := 0
		for i < len(v) && logSafe[v[i]] {
			i++
		}
		b = append(b, v[:i]...)
		if i == len(v) {
			break
		}
		c := v[i]
		b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		v = v[i+1:]
	}
	return append(b, '"')
}

// logSafe says which bytes a log field holds as they are.
var logSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()
