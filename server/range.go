package server

// Range requests (RFC 9110 §14) are answered from stored pages, as Varnish
// does: a GET or HEAD with Range for a stored 200 gets 206 with the bytes
// asked for, or 416 (Content-Range: bytes */length) when none of them exists.
// On a miss the whole page is fetched (Range and If-Range are not forwarded:
// forwardFacts), stored, and the range answered from it; a page that is not
// stored after all is sent whole (a server may ignore Range). Requests that
// pass the cache (PASS, BYPASS) forward Range, and the origin's 206 is passed
// through. A 206 is never stored as the page (cachepolicy's status rules).
//
// The range is over the representation this client gets: the stored bytes
// with their Content-Encoding when it takes that coding, else the decoded
// body (which the client gets with a weak ETag, decode.go). If-Range (RFC
// 9110 §13.1.5, cachepolicy.IfRange) compares with that representation's
// validators: a strong ETag only when the client gets the origin's own bytes;
// otherwise a Last-Modified at least a second older than the stored Date.
// A condition that does not hold, a Range that does not parse, one in
// another unit than bytes, more than httpparse.MaxRanges ranges, a Range on
// anything but a 200, and an empty page all get the whole page (200);
// If-None-Match and If-Modified-Since come first (304).
//
// Several ranges become a multipart/byteranges body (overlapping ones are
// coalesced by httpparse.ParseRange, so it is never much larger than the
// page), built in new memory: range requests are not the hit path. Several
// ranges of a content-coded body are answered with the whole page instead:
// a Content-Encoding on a multipart response would say that the multipart
// body, not its parts, is coded. One range is a view into the stored (or
// decoded) body, sent without a copy like any hit. A HEAD gets the head a
// GET would (206 with its Content-Range and Content-Length), no body.
//
// Stored 200s are sent with Accept-Ranges: bytes unless the origin sent an
// Accept-Ranges of its own (appendAcceptRanges).

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// rangeOutcome is what a request with Range gets from a stored page.
type rangeOutcome uint8

const (
	rangeWhole         rangeOutcome = iota // no Range, or it is ignored: the whole page
	rangePartial                           // 206 with the ranges
	rangeUnsatisfiable                     // 416
)

// noteRange copies req's Range and If-Range into slot p: the page is rendered
// for them when the store answers, after the connection buffer may be gone. A
// present but empty If-Range is kept as one space, so that it still counts
// (as a condition that never holds). On the loop, from lookup.
func (c *conn) noteRange(p *pending, req *httpparse.Request) {
	p.rng = append(p.rng[:0], req.Range...)
	p.ifRange = append(p.ifRange[:0], req.IfRange...)
	if req.IfRange != nil && len(req.IfRange) == 0 {
		p.ifRange = append(p.ifRange, ' ')
	}
}

// judgeRange decides what a request with Range rng and If-Range ifRange (empty
// when absent) gets from stored page r, whose representation for this client
// (f) is body in encoding enc; for rangePartial the ranges are in rs. Any
// goroutine; no allocation.
func judgeRange(rng, ifRange []byte, f *facts, r *pagerecord.Record, body []byte, enc pagerecord.Encoding, rs *httpparse.Ranges) rangeOutcome {
	if len(rng) == 0 || r.Status != http.StatusOK {
		return rangeWhole
	}
	if (len(f.inm) > 0 || len(f.ims) > 0) && cachepolicy.NotModified(f.inm, f.ims, r.Lookup("ETag"), r.Lookup("Last-Modified")) {
		return rangeWhole // 304 (appendRecordHead)
	}
	if len(ifRange) > 0 {
		etag := r.Lookup("ETag")
		if enc != r.OrigEncoding {
			etag = nil // sent weakened: never a strong match
		}
		if !cachepolicy.IfRange(ifRange, etag, r.Lookup("Last-Modified"), r.Lookup("Date")) {
			return rangeWhole
		}
	}
	switch err := httpparse.ParseRange(rng, int64(len(body)), rs); {
	case err == nil:
		if len(rs.List()) > 1 && enc != pagerecord.Identity {
			return rangeWhole
		}
		return rangePartial
	case err == httpparse.ErrRangeUnsatisfiable && len(body) > 0:
		return rangeUnsatisfiable
	}
	return rangeWhole
}

// serveRange answers slot p from stored page r for its Range, when the range
// applies (judgeRange), and reports whether it did; with done false nothing
// was touched and the caller renders the whole page. body and enc are the
// representation hitBody chose, f and label as for appendRecordHead.
// borrowed reports whether the slot keeps a view of body (one range of an
// embedded store's record or of a loop-owned decoded body), as
// completeDecoded must tell its caller. On the loop.
func (c *conn) serveRange(p *pending, r *pagerecord.Record, f *facts, body []byte, enc pagerecord.Encoding, label string) (done, borrowed bool) {
	var rs httpparse.Ranges
	out := judgeRange(p.rng, p.ifRange, f, r, body, enc, &rs)
	if out == rangeWhole {
		return false, false
	}
	head, payload, send := appendRangeResponse(p.out[:0], out, &rs, r, f, body, enc, label, c.l.now)
	if !send {
		payload = nil
	}
	c.completeBorrowed(p, head, payload)
	return true, len(payload) > 0 && out == rangePartial && len(rs.List()) == 1 && c.l.syncStore
}

// renderRange is renderRecord for a fill, revalidation or stale answer whose
// client sent Range: it reports false, with the whole page to render, when
// the range does not apply. For a client that cannot take the stored coding
// the body is decoded here, under the decode budget, into *plain when the
// caller had not (renderRecord then uses it for the whole page); a range
// answer copies what it sends and gives the reservation back at once. Worker
// goroutine only.
func (x *exchange) renderRange(r *pagerecord.Record, plain **plainBody, now time.Time) ([]byte, bool) {
	if r.Status != http.StatusOK {
		return nil, false
	}
	body, enc := r.Body, r.Encoding
	if !x.f.clientTakes(r.Encoding) {
		if *plain == nil {
			room := decodeRoom(r.Header)
			buf, held, err := x.l.s.decodeHeld(r.Body, r.Encoding, room, -1)
			if err != nil {
				return x.decodeFailed(err), true
			}
			*plain = &plainBody{buf: buf, room: room, held: held}
		}
		body, enc = (*plain).body(), pagerecord.Identity
	}
	var rs httpparse.Ranges
	out := judgeRange(x.rng, x.ifRange, &x.f, r, body, enc, &rs)
	if out == rangeWhole {
		return nil, false
	}
	head, payload, send := appendRangeResponse(make([]byte, 0, 256+len(r.Header)), out, &rs, r, &x.f, body, enc, x.label(), now)
	if send {
		head = append(head, payload...)
	}
	if *plain != nil {
		x.l.s.releaseDecode((*plain).held)
	}
	return head, true
}

// appendRangeResponse renders the answer judgeRange decided (rangePartial or
// rangeUnsatisfiable) for stored page r whose representation for this client
// is body in encoding enc: the head is appended to dst, and payload is the
// body to send after it: one range is a view into body, several a
// multipart/byteranges body in new memory, 416 none. send is false for a
// HEAD. The head is appendRecordHead's for a copy of r with the status and
// header block of the partial answer: the stored fields less Content-Range
// (an origin's own would contradict ours), then ours; for several ranges or a
// 416 less Content-Type too (the parts carry it; a 416 has no body). Any
// goroutine: it touches only its arguments.
func appendRangeResponse(dst []byte, out rangeOutcome, rs *httpparse.Ranges, r *pagerecord.Record, f *facts, body []byte, enc pagerecord.Encoding, label string, now time.Time) (head, payload []byte, send bool) {
	blk := getBlock()
	defer blk.release()
	rr := *r
	ff := *f
	ff.inm, ff.ims = nil, nil // judged already: no 304 from here
	size := int64(len(body))
	list := rs.List()
	if out == rangeUnsatisfiable {
		rr.Status = http.StatusRequestedRangeNotSatisfiable
		b := appendRangeFields(blk.b[:0], r.Header, true)
		b = append(b, "Content-Range: bytes */"...)
		b = strconv.AppendInt(b, size, 10)
		blk.b = append(b, "\r\n"...)
		rr.Header = blk.b
		head, send = appendRecordHead(dst, &rr, &ff, nil, pagerecord.Identity, label, now)
		return head, nil, send
	}
	rr.Status = http.StatusPartialContent
	if len(list) == 1 {
		br := list[0]
		b := appendRangeFields(blk.b[:0], r.Header, false)
		b = appendContentRange(b, "Content-Range: ", br, size)
		blk.b = append(b, "\r\n"...)
		rr.Header = blk.b
		payload = body[br.First : br.Last+1]
		head, send = appendRecordHead(dst, &rr, &ff, payload, enc, label, now)
		return head, payload, send
	}
	var boundary [len("mcpage-") + 16]byte
	copy(boundary[:], "mcpage-")
	hex := strconv.AppendUint(make([]byte, 0, 16), rand.Uint64()|1<<63, 16)
	copy(boundary[len("mcpage-"):], hex)
	ctype := r.Lookup("Content-Type")
	payload = make([]byte, 0, int(rs.Total())+len(list)*(96+len(ctype))+64)
	for i, br := range list {
		if i > 0 {
			payload = append(payload, "\r\n"...)
		}
		payload = append(payload, "--"...)
		payload = append(payload, boundary[:]...)
		payload = append(payload, "\r\n"...)
		if len(ctype) > 0 {
			payload = append(payload, "Content-Type: "...)
			payload = append(payload, ctype...)
			payload = append(payload, "\r\n"...)
		}
		payload = appendContentRange(payload, "Content-Range: ", br, size)
		payload = append(payload, "\r\n\r\n"...)
		payload = append(payload, body[br.First:br.Last+1]...)
	}
	payload = append(payload, "\r\n--"...)
	payload = append(payload, boundary[:]...)
	payload = append(payload, "--\r\n"...)
	b := appendRangeFields(blk.b[:0], r.Header, true)
	b = append(b, "Content-Type: multipart/byteranges; boundary="...)
	b = append(b, boundary[:]...)
	blk.b = append(b, "\r\n"...)
	rr.Header = blk.b
	head, send = appendRecordHead(dst, &rr, &ff, payload, enc, label, now)
	return head, payload, send
}

// appendContentRange appends prefix and "bytes first-last/size" (no CRLF).
func appendContentRange(dst []byte, prefix string, br httpparse.ByteRange, size int64) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, br.First, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, br.Last, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// appendRangeFields copies the lines of a stored header block except
// Content-Range, and Content-Type when dropType.
func appendRangeFields(dst, block []byte, dropType bool) []byte {
	for len(block) > 0 {
		end := indexCRLF(block)
		if end < 0 {
			break
		}
		line := block[:end+2]
		block = block[end+2:]
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			name := line[:colon]
			if httpbytes.EqualFold(name, "content-range") || (dropType && httpbytes.EqualFold(name, "content-type")) {
				continue
			}
		}
		dst = append(dst, line...)
	}
	return dst
}

// appendAcceptRanges appends "Accept-Ranges: bytes" for a stored 200 whose
// origin sent no Accept-Ranges: range requests for it are answered from the
// store (RFC 9110 §14.3). Any goroutine; the hit path's cost is one scan of
// the stored header block.
func appendAcceptRanges(dst []byte, r *pagerecord.Record) []byte {
	if r.Status != http.StatusOK || r.Lookup("Accept-Ranges") != nil {
		return dst
	}
	return append(dst, "Accept-Ranges: bytes\r\n"...)
}
