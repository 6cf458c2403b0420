package server

// Streaming large upstream bodies. A response body longer than the job's
// StreamAbove is not buffered by the upstream pool: the worker that ran the
// exchange relays it to the connection's loop one slice at a time, and waits
// for the loop to acknowledge each slice (handed to gnet within the output
// bound) before reading the next. Memory per streamed response is one slice
// plus what the output bound lets gnet hold, whatever the body's size; a
// client that reads slowly slows the upstream read down instead.
//
// Worked interleaving for "GET /big (streamed), GET /small" pipelined:
//
//	worker: head+slice 1 → post(relay) ............... waits for ack
//	loop:   slot 1 ready with slice 1 → written → ack(true); slot 1 stays
//	        at the head of the queue, not ready (slot 2 answered and waiting)
//	worker: slice 2 → post(relay) → ... → last slice → ack → return
//	loop:   last slice written → slot 1 popped → slot 2 written
//
// If the client goes away, the slot's relay is acknowledged with false (by
// release, or by the next relay finding no slot) and the worker abandons the
// upstream connection. If the upstream fails mid-body, the worker sends an
// abort: nothing more is written and the client connection is closed, so the
// client sees a truncated message rather than a wrong one.

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// streamSlice is how many body bytes one relay carries.
const streamSlice = 64 << 10

// passStreamAbove is the StreamAbove of requests whose answer is never
// stored: small bodies are still buffered whole (one hop to the loop), larger
// ones are streamed.
const passStreamAbove = 256 << 10

// relay carries one slice of a streamed response from the worker to the loop.
// The worker owns it between acks; data is borrowed by the loop until it acks.
type relay struct {
	x     *exchange
	data  []byte
	last  bool // data ends the response
	abort bool // the upstream failed: close the client connection
	ack   chan bool
}

// Run hands the slice to the connection's slot, on the loop.
func (r *relay) Run(context.Context) error {
	x := r.x
	c := x.c
	x.l.now = time.Now()
	if c.released {
		r.done(false)
		return nil
	}
	p := c.find(x.token)
	if p == nil {
		r.done(false)
		return nil
	}
	c.relayTo(p, r)
	return nil
}

// done acknowledges r's slice. It never blocks: the worker may have given up
// waiting (and then nobody reads the ack).
func (r *relay) done(ok bool) {
	select {
	case r.ack <- ok:
	default:
	}
}

// relayTo makes slot p ready with r's slice. flush acknowledges r once the
// slice has been handed to gnet (see flush's relay branch).
func (c *conn) relayTo(p *pending, r *relay) {
	if r.abort {
		p.out, p.body, p.relay = p.out[:0], nil, nil
		p.keepAlive = false
		p.ready = true
		r.done(false)
		c.flush()
		return
	}
	p.out = p.out[:0]
	p.body = r.data
	if c.l.alog != nil {
		p.lg.relayed += int64(p.sent) // the previous slice, handed over whole
	}
	p.sent = 0
	p.relay = r
	p.ready = true
	c.l.account(p, r.data) // the first slice is the response's head; later ones are not counted again
	c.flush()
}

// streamed reports whether job carries a body to stream (upstream.Job.Body).
func streamed(job *upstream.Job) bool { return job.Err == nil && job.Body != nil }

// stream relays a streamed upstream response to the client: worker goroutine
// only; it returns when the whole body has been handed to the loop or the
// exchange was abandoned. The response is never stored (it is larger than
// StreamAbove, which for cache fills is MaxItem); a revalidated page that
// came back this large is dropped from the store.
func (x *exchange) stream(job *upstream.Job) {
	s := x.l.s
	resp := &job.Resp
	body := job.Body
	defer body.Close()

	if x.kind == kindUnsafe && resp.Status() < 400 {
		x.invalidations(resp)
	}
	decode := false
	notStored := ""
	if x.kind == kindFill || x.kind == kindRevalidate {
		// StreamAbove was min(MaxItem, MaxDecoded): say which bound it passed.
		notStored = "too large"
		if s.cfg.MaxDecoded < s.cfg.MaxItem && job.BodyLen <= int64(s.cfg.MaxItem) {
			notStored = "decoded too large" // an unknown length (-1) passed MaxDecoded
		}
		x.drop = x.kind == kindRevalidate
		enc, ok := pagerecord.ParseEncoding(resp.Peek("Content-Encoding"))
		// The proxy asked for gzip on the client's behalf: undo it.
		decode = ok && !x.f.clientTakes(enc) && enc == pagerecord.Gzip
	}
	length := job.BodyLen
	var src io.Reader = body
	if decode {
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.stats.Errors.Add(1)
			x.out = appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
			x.send()
			return
		}
		defer zr.Close()
		src, length = zr, -1
	}
	chunked := length < 0 && x.http11
	if length < 0 && !chunked {
		x.f.keepAlive = false // HTTP/1.0 client: the end of the body is the close
	}
	x.out = appendStreamHead(nil, resp, &x.f, x.label(), notStored, decode, length, chunked)
	if x.f.isHead {
		x.send() // HEAD forwarded as GET for a fill: the head is the answer
		return
	}
	r := &relay{x: x, ack: make(chan bool, 1)}
	x.relay = r
	if !x.send() {
		return
	}
	if !r.wait(s.cfg.Upstream.Timeout) {
		x.abort()
		return
	}
	buf := make([]byte, streamSlice+32)
	for {
		frame := buf[:0]
		if chunked {
			frame = buf[:16] // room for the chunk-size line, filled in below
		}
		n, err := io.ReadAtLeast(src, frame[len(frame):cap(frame)-2], 1)
		if err == io.ErrUnexpectedEOF {
			err = nil
		}
		data := frame[:len(frame)+n]
		if n == 0 {
			data = buf[:0]
		} else if chunked {
			line := strconv.AppendInt(make([]byte, 0, 16), int64(n), 16)
			line = append(line, '\r', '\n')
			start := 16 - len(line)
			copy(data[start:], line)
			data = append(data[start:], '\r', '\n')
		}
		last := false
		switch {
		case err == io.EOF:
			last = true
			if chunked {
				data = append(data, "0\r\n\r\n"...)
			}
		case err != nil:
			s.stats.Errors.Add(1)
			x.l.s.cfg.Logger.Debug("upstream body failed mid-stream", "err", err)
			x.abort()
			return
		}
		r.data, r.last = data, last
		if !x.runOnLoop(r) {
			return
		}
		if !r.wait(s.cfg.Upstream.Timeout) {
			x.abort() // a no-op when the client is gone already
			return
		}
		if last {
			return
		}
	}
}

// abort tells the loop that the response cannot be completed. A fresh relay:
// the loop may still hold the previous one.
func (x *exchange) abort() {
	x.runOnLoop(&relay{x: x, abort: true, ack: make(chan bool, 1)})
}

// send hands the exchange's first part (x.out, and the store and
// invalidation work) to the loop; it reports false when the loop is gone.
func (x *exchange) send() bool {
	if err := x.l.post(x); err != nil {
		x.l.s.cfg.Logger.Debug("dropping upstream result: loop is gone", "err", err)
		return false
	}
	return true
}

func (x *exchange) runOnLoop(r *relay) bool {
	return x.l.post(r) == nil
}

// wait blocks until the loop acknowledges the relay's slice; false means the
// client is gone or did not read for timeout.
func (r *relay) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ok := <-r.ack:
		return ok
	case <-t.C:
		return false
	}
}

// appendStreamHead renders the head of a streamed response: the origin's
// end-to-end fields (less Content-Encoding and with a weakened ETag when
// decoding), then the framing: Content-Length when the length is known,
// chunked for HTTP/1.1 clients otherwise, and for HTTP/1.0 clients none (the
// body ends with the connection).
func appendStreamHead(dst []byte, resp *upstream.Response, f *facts, label, notStored string, decode bool, length int64, chunked bool) []byte {
	dst = appendOriginHead(dst, resp, f, label, notStored, decode)
	switch {
	case length >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, "\r\n"...)
	case chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if length < 0 && !chunked {
		return append(dst, "Connection: close\r\n\r\n"...) // the body ends with the connection
	}
	dst = appendConnection(dst, f)
	return append(dst, "\r\n"...)
}

// appendOriginHead appends the status line and end-to-end fields of an origin
// response, X-Cache with label, and X-Cache-Detail when notStored says why a
// cacheable response was not stored. With decode, Content-Encoding is left
// out and a strong ETag weakened (the body is not the origin's bytes).
func appendOriginHead(dst []byte, resp *upstream.Response, f *facts, label, notStored string, decode bool) []byte {
	dst = appendStatusLine(dst, resp.Status(), string(resp.StatusText()))
	resp.Visit(func(name, value []byte) {
		switch {
		case httpbytes.EqualFold(name, "x-cache"):
			return
		case decode && httpbytes.EqualFold(name, "content-encoding"):
			return
		case decode && httpbytes.EqualFold(name, "etag") && cachepolicy.IsStrongETag(value):
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = cachepolicy.AppendWeakETag(dst, value)
			dst = append(dst, "\r\n"...)
			return
		}
		dst = appendField(dst, name, value)
	})
	dst = append(dst, "X-Cache: "...)
	dst = append(dst, label...)
	dst = append(dst, "\r\n"...)
	if notStored != "" { // right after X-Cache: metrics.go reads it there
		dst = append(dst, "X-Cache-Detail: not stored: "...)
		dst = append(dst, notStored...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendCacheStatus(dst, label, f, resp.Status(), 0, false, notStored)
	return dst
}
