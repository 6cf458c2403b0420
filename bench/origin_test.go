package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// origin is the fast origin every stack forwards to: a gnet server in the
// benchmark process, one event loop, prebuilt answers. Paths:
//
//	/p/<size>/<anything>              a <size>-byte HTML page, Cache-Control: max-age=3600
//	/slow/<ms>/<size>/<anything>      the same, answered <ms> milliseconds later
//
// Every page of one size has the same body: words drawn from a small
// vocabulary with markup, which gzip shrinks about 3× (a real page's ratio,
// not the 100× of a repeated sentence), so compressed and decoded hits both
// move realistic amounts of data.
type origin struct {
	gnet.BuiltinEventEngine
	addr   string
	eng    gnet.Engine
	served atomic.Int64 // requests answered
	slow   atomic.Int64 // /slow/ requests answered

	mu    sync.Mutex
	resps map[int][]byte // size → whole response
}

func startOrigin() (*origin, error) {
	o := &origin{addr: freeAddr(), resps: map[int][]byte{}}
	errc := make(chan error, 1)
	booted := make(chan struct{})
	go func() {
		errc <- gnet.Run(o, "tcp://"+o.addr, gnet.WithNumEventLoop(1), gnet.WithLogger(quietLogger{}),
			gnet.WithReusePort(false))
	}()
	go func() {
		for i := 0; i < 500; i++ {
			if nc, err := dialRetry(o.addr); err == nil {
				nc.Close()
				close(booted)
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return nil, fmt.Errorf("origin: %v", err)
	case <-booted:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("origin did not start")
	}
	return o, nil
}

func (o *origin) stop() { _ = o.eng.Stop(context.Background()) }

func (o *origin) OnBoot(eng gnet.Engine) gnet.Action { o.eng = eng; return gnet.None }

// page returns the body every /p/<size>/ path serves.
func page(size int) []byte {
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if p, ok := pages[size]; ok {
		return p
	}
	words := []string{"cache", "page", "proxy", "the", "a", "of", "memcached", "loop", "request",
		"response", "edge", "fast", "server", "origin", "hit", "miss", "store", "key", "event",
		"connection", "header", "body", "gzip", "latency", "throughput", "and", "is", "to", "in"}
	r := rand.New(rand.NewPCG(uint64(size), 7))
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><title>bench</title></head><body>\n")
	for b.Len() < size {
		b.WriteString("<p class=\"c")
		b.WriteString(strconv.Itoa(r.IntN(100)))
		b.WriteString("\">")
		for i := 0; i < 12; i++ {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(r.IntN(1 << 30)))
		b.WriteString("</p>\n")
	}
	p := b.Bytes()[:size]
	pages[size] = p
	return p
}

var (
	pagesMu sync.Mutex
	pages   = map[int][]byte{}
)

func (o *origin) response(size int) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.resps[size]; ok {
		return r
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: max-age=3600\r\n" +
		"Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	r := append([]byte(head), page(size)...)
	o.resps[size] = r
	return r
}

var notFound = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

// oconn queues the answers of one upstream connection in order (a slow
// answer holds back the ones after it).
type oconn struct {
	queue   []oanswer
	waiting bool
}

type oanswer struct {
	resp  []byte
	delay time.Duration
}

func (o *origin) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&oconn{})
	return nil, gnet.None
}

func (o *origin) OnTraffic(c gnet.Conn) gnet.Action {
	oc := c.Context().(*oconn)
	buf, _ := c.Peek(-1)
	used := 0
	for {
		i := bytes.Index(buf[used:], crlf2)
		if i < 0 {
			break
		}
		head := buf[used : used+i]
		used += i + 4
		// Request bodies (none are sent here) would follow; skip them.
		for rest := head; len(rest) > 0; {
			line, tail, _ := bytes.Cut(rest, []byte("\r\n"))
			rest = tail
			if hasPrefixFold(line, hdrCL) {
				n, _ := strconv.Atoi(string(bytes.TrimSpace(line[len(hdrCL):])))
				used = min(used+n, len(buf)) // (never sent here: no partial bodies)
			}
		}
		oc.queue = append(oc.queue, o.answer(head))
	}
	_, _ = c.Discard(used)
	o.pump(c, oc)
	return gnet.None
}

// answer maps a request head to its response.
func (o *origin) answer(head []byte) oanswer {
	sp := bytes.IndexByte(head, ' ')
	if sp < 0 {
		return oanswer{resp: notFound}
	}
	path := head[sp+1:]
	if e := bytes.IndexByte(path, ' '); e >= 0 {
		path = path[:e]
	}
	var delay time.Duration
	if rest, ok := bytes.CutPrefix(path, []byte("/slow/")); ok {
		ms, tail, _ := bytes.Cut(rest, []byte("/"))
		n, _ := strconv.Atoi(string(ms))
		delay = time.Duration(n) * time.Millisecond
		path = append([]byte("/p/"), tail...)
		o.slow.Add(1)
	}
	rest, ok := bytes.CutPrefix(path, []byte("/p/"))
	if !ok {
		return oanswer{resp: notFound}
	}
	sz, _, _ := bytes.Cut(rest, []byte("/"))
	size, err := strconv.Atoi(string(sz))
	if err != nil || size < 0 || size > 16<<20 {
		return oanswer{resp: notFound}
	}
	o.served.Add(1)
	return oanswer{resp: o.response(size), delay: delay}
}

// pump writes queued answers until one must wait.
func (o *origin) pump(c gnet.Conn, oc *oconn) {
	for len(oc.queue) > 0 && !oc.waiting {
		a := &oc.queue[0]
		if a.delay > 0 {
			d := a.delay
			a.delay = 0
			oc.waiting = true
			el := c.EventLoop()
			time.AfterFunc(d, func() {
				_ = el.Execute(context.Background(), runFunc(func() {
					oc.waiting = false
					o.pump(c, oc)
				}))
			})
			return
		}
		_, _ = c.Write(a.resp)
		oc.queue = oc.queue[1:]
	}
}
