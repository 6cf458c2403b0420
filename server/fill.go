package server

import (
	"bytes"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// fill handles the origin's answer to a cacheable miss: decide, build the
// record (compressed when large), and render the client's response from it so
// a miss and the hits after it look the same. Worker goroutine only.
func (x *exchange) fill(resp *fasthttp.Response, now time.Time) {
	s := x.l.s
	var pr cachepolicy.Response
	pr.Reset(resp.StatusCode())
	var ce, ctype []byte
	hiddenCE := false
	// The store decision sees every field as received: one the origin named
	// in Connection is removed from what is stored and sent, but a Set-Cookie
	// or Cache-Control: private hidden that way still keeps the page out.
	upstream.VisitAllResponse(resp, func(name, value []byte, hop bool) {
		pr.Observe(name, value)
		switch {
		case hop:
			// A coding named in Connection would be dropped from the record:
			// its body would be stored as if it were identity.
			hiddenCE = hiddenCE || asciiEqualFold(name, "content-encoding")
		case asciiEqualFold(name, "content-encoding"):
			ce = value
		case asciiEqualFold(name, "content-type"):
			ctype = value
		}
	})
	d := s.cfg.Policy.Decide(&pr, now)
	enc, encOK := pagerecord.Identity, true
	if len(ce) > 0 {
		enc, encOK = pagerecord.ParseEncoding(ce)
	}
	encOK = encOK && !hiddenCE
	if !d.Store || !encOK {
		if x.kind == kindRevalidate {
			x.drop = true
		}
		reason := d.Reason
		if d.Store {
			reason = "content-encoding"
		}
		x.out = x.passResponse(resp, reason, enc, encOK && !x.f.clientTakes(enc))
		return
	}

	body := resp.Body()
	var block []byte
	upstream.VisitResponse(resp, func(name, value []byte) {
		if storedField(name) {
			block = appendField(block, name, value)
		}
	})
	// Every stored page must decode within MaxDecoded, so that any client
	// can be served from it (decode.go). The body this client gets is
	// settled here too: for a client that cannot take the origin's coding
	// the body is decoded now, under the decode budget, and its size is the
	// check; otherwise the body is only measured.
	var plain *plainBody
	switch {
	case enc == pagerecord.Identity:
		if len(body) > s.cfg.MaxDecoded {
			x.notStored(resp, "decoded too large")
			return
		}
		plain = &plainBody{buf: body} // for a client that cannot take what fill compresses
	case x.f.clientTakes(enc):
		if err := s.checkDecodedSize(body, enc); err != nil {
			x.notStored(resp, decodeReason(err)) // the client takes the origin's bytes as they are
			return
		}
	default:
		room := decodeRoom(block)
		buf, held, err := s.decodeHeld(body, enc, room, -1)
		if err != nil {
			// The proxy asked the origin for gzip on this client's behalf
			// and the client cannot take it. A body that inflates past
			// MaxDecoded (a gzip bomb, or a page too large to decode in
			// memory) or does not inflate at all cannot be relayed as the
			// client needs it: 502, as for an origin answer that cannot
			// be read. It is not stored either.
			x.out = x.decodeFailed(err)
			return
		}
		plain = &plainBody{buf: buf, room: room, held: held}
	}

	r := pagerecord.Record{
		Status:       resp.StatusCode(),
		Encoding:     enc,
		OrigEncoding: enc,
		StoredAt:     now.Unix(),
		TTL:          seconds(d.TTL),
		AgeAtStore:   seconds(d.Age),
		Body:         body,
		Header:       block,
	}
	if d.FromDefault {
		r.Flags |= pagerecord.FlagDefaultTTL
	}
	if enc == pagerecord.Identity && s.cfg.CompressMin > 0 && len(body) >= s.cfg.CompressMin && compressible(ctype) {
		gz := pagerecord.AppendGzip(nil, body)
		if len(gz) < len(body)-len(body)/10 { // keep it only if it saves 10 %
			r.Body = gz
			r.Encoding = pagerecord.Gzip
		}
	}
	rec := pagerecord.AppendRecord(make([]byte, 0, 64+len(block)+len(r.Body)), &r)
	if len(rec) <= s.cfg.MaxItem {
		x.rec, x.ttl = rec, storeTTL(d.TTL, block)
	} else if x.kind == kindRevalidate {
		x.drop = true
	}
	// Render from the record as a hit would be, with the body chosen above
	// when the client can't take the stored encoding.
	var dec pagerecord.Record
	if err := pagerecord.Decode(rec, &dec); err != nil {
		x.rec = nil
		if plain != nil && plain.held > 0 {
			x.out = x.appendPassPlain(resp, "record", plain)
			return
		}
		x.out = x.passResponse(resp, "record", enc, !x.f.clientTakes(enc))
		return
	}
	x.out = x.renderRecord(&dec, plain, now)
}

// plainBody is a body decoded for the client, buf[room:], with room free
// bytes in front for the response head (decodeHeld) and held bytes of the
// decode budget reserved for it; or, with room and held 0, an identity body
// the origin sent, which is copied.
type plainBody struct {
	buf  []byte
	room int
	held int64
}

func (pb *plainBody) body() []byte { return pb.buf[pb.room:] }

// checkDecodedSize reports whether body decodes within MaxDecoded, inflating
// it through a small scratch buffer (memory: the decoder's window). A gzip
// trailer that already claims more is refused without inflating.
func (s *Server) checkDecodedSize(body []byte, enc pagerecord.Encoding) error {
	if enc == pagerecord.Gzip {
		if isize, ok := pagerecord.GzipTrailerSize(body); ok && isize > s.cfg.MaxDecoded {
			return pagerecord.ErrTooLarge
		}
	}
	_, err := pagerecord.DecodedSize(body, enc, s.cfg.MaxDecoded)
	return err
}

// decodeReason is the X-Cache-Detail reason for a page whose body does not
// decode within MaxDecoded.
func decodeReason(err error) string {
	if errors.Is(err, pagerecord.ErrTooLarge) {
		return "decoded too large"
	}
	return "undecodable body"
}

// notStored answers a cacheable page that is not stored for a reason found
// after the store decision, passing the origin's body as it came (the client
// takes its coding). A revalidated page that is not stored is dropped.
func (x *exchange) notStored(resp *fasthttp.Response, reason string) {
	if x.kind == kindRevalidate {
		x.drop = true
	}
	x.out = x.passResponse(resp, reason, pagerecord.Identity, false)
}

// decodeFailed renders the answer for a body that could not be decoded for
// the client: 503 when the decode budget stayed exhausted (the record, if
// any, is still good), else 502 (decodes past MaxDecoded, or corrupt), and
// nothing is stored: a revalidated page is dropped. Worker goroutine only.
func (x *exchange) decodeFailed(err error) []byte {
	x.l.s.stats.Errors.Add(1)
	if err == errDecodeBusy {
		return appendErrorResponse(nil, 503, x.f.keepAlive, x.label())
	}
	x.rec = nil
	x.drop = x.kind == kindRevalidate || x.drop
	return appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
}

// freshen handles a 304 to a revalidation: the stored headers are updated
// with the 304's (RFC 9111 §4.3.4), freshness recomputed, and the stored body
// served again without being refetched. Worker goroutine only.
func (x *exchange) freshen(resp *fasthttp.Response, now time.Time) {
	s := x.l.s
	var old pagerecord.Record
	if err := pagerecord.Decode(x.stale, &old); err != nil {
		x.drop = true
		x.out = appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
		return
	}
	var upd []byte
	upstream.VisitResponse(resp, func(name, value []byte) {
		if storedField(name) && !asciiEqualFold(name, "content-type") {
			upd = appendField(upd, name, value)
		}
	})
	merged := pagerecord.AppendMergedHeader(nil, old.Header, upd)
	var pr cachepolicy.Response
	pr.Reset(old.Status)
	eachField(merged, pr.Observe)
	// Fields the 304 named in Connection are not merged into the record, but
	// a Cache-Control: no-store or private hidden that way still counts.
	upstream.VisitAllResponse(resp, func(name, value []byte, hop bool) {
		if hop {
			pr.Observe(name, value)
		}
	})
	if v := resp.Header.Peek("Age"); len(v) > 0 {
		pr.Observe([]byte("Age"), v)
	}
	d := s.cfg.Policy.Decide(&pr, now)
	r := old
	r.Header = merged
	r.StoredAt = now.Unix()
	r.TTL = seconds(d.TTL)
	r.AgeAtStore = seconds(d.Age)
	r.Flags &^= pagerecord.FlagDefaultTTL
	if d.FromDefault {
		r.Flags |= pagerecord.FlagDefaultTTL
	}
	rec := pagerecord.AppendRecord(make([]byte, 0, 64+len(merged)+len(old.Body)), &r)
	if d.Store && len(rec) <= s.cfg.MaxItem {
		x.rec, x.ttl = rec, storeTTL(d.TTL, merged)
	} else {
		x.drop = true
	}
	var dec pagerecord.Record
	if err := pagerecord.Decode(rec, &dec); err != nil {
		x.drop, x.rec = true, nil
		x.out = appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
		return
	}
	x.out = x.renderRecord(&dec, nil, now)
}

// renderRecord renders a complete response from a record on the worker. A
// client that cannot take the stored encoding gets plain when given (it takes
// over plain's budget reservation), else the record's body decoded here,
// under the decode budget (the per-loop memo is loop-only). A decoded body's
// reservation goes to the loop with the response (holdOnLoop).
func (x *exchange) renderRecord(r *pagerecord.Record, plain *plainBody, now time.Time) []byte {
	if x.f.clientTakes(r.Encoding) {
		if plain != nil {
			x.l.s.releaseDecode(plain.held)
		}
		head, send := appendRecordHead(make([]byte, 0, 256+len(r.Header)+len(r.Body)), r, &x.f, r.Body, r.Encoding, x.label(), now)
		if !send {
			return head
		}
		return append(head, r.Body...)
	}
	if plain == nil {
		room := decodeRoom(r.Header)
		buf, held, err := x.l.s.decodeHeld(r.Body, r.Encoding, room, -1)
		if err != nil {
			return x.decodeFailed(err)
		}
		plain = &plainBody{buf: buf, room: room, held: held}
	}
	body := plain.body()
	head, send := appendRecordHead(make([]byte, 0, 256+len(r.Header)), r, &x.f, body, pagerecord.Identity, x.label(), now)
	if !send {
		x.l.s.releaseDecode(plain.held)
		return head
	}
	out := spliceHead(head, plain.buf, plain.room)
	x.holdOnLoop(plain.held)
	return out
}

// passResponse renders an origin response that is not (or cannot be)
// rendered from a record. With decode, the body (in coding enc, which the
// proxy asked the origin for on the client's behalf and the client cannot
// take) is decoded first, under the decode budget and within MaxDecoded;
// past either it is answered as decodeFailed says. Worker goroutine only.
func (x *exchange) passResponse(resp *fasthttp.Response, notStored string, enc pagerecord.Encoding, decode bool) []byte {
	if !decode {
		return appendPassResponse(nil, resp, &x.f, x.label(), notStored, false, false)
	}
	room := passHeadRoom(resp)
	buf, held, err := x.l.s.decodeHeld(resp.Body(), enc, room, -1)
	if err != nil {
		return x.decodeFailed(err)
	}
	return x.appendPassPlain(resp, notStored, &plainBody{buf: buf, room: room, held: held})
}

// appendPassPlain renders resp with plain, a body decoded for the client,
// taking over plain's budget reservation. Worker goroutine only.
func (x *exchange) appendPassPlain(resp *fasthttp.Response, notStored string, plain *plainBody) []byte {
	body := plain.body()
	head, send := appendPassHead(nil, resp, &x.f, x.label(), notStored, true, len(body), false)
	if !send {
		x.l.s.releaseDecode(plain.held)
		return head
	}
	out := spliceHead(head, plain.buf, plain.room)
	x.holdOnLoop(plain.held)
	return out
}

// passHeadRoom is the room to leave in front of a decoded pass body for its
// head: the origin's fields and what mcpage adds.
func passHeadRoom(resp *fasthttp.Response) int {
	n := 512
	upstream.VisitResponse(resp, func(name, value []byte) {
		n += len(name) + len(value) + 8
	})
	return n
}

// appendPassResponse renders an origin response that is not (or cannot be)
// rendered from a record: every end-to-end field as received, the body
// re-framed with Content-Length. headFromOrigin: a HEAD was forwarded as
// HEAD, so the origin's Content-Length is the one to repeat. A non-empty
// notStored says why a cacheable response was not stored (X-Cache-Detail),
// the question users of caching proxies ask most.
//
// decode must be false: a body the client cannot take is decoded only under
// the server's decode budget, by exchange.passResponse. Asked to decode, it
// answers 502 rather than inflate without that bound.
func appendPassResponse(dst []byte, resp *fasthttp.Response, f *facts, label, notStored string, decode, headFromOrigin bool) []byte {
	if decode {
		return appendErrorResponse(dst, 502, f.keepAlive, label)
	}
	body := resp.Body()
	dst, send := appendPassHead(dst, resp, f, label, notStored, false, len(body), headFromOrigin)
	if send {
		dst = append(dst, body...)
	}
	return dst
}

// appendPassHead appends the head of a pass response whose body (bodyLen
// bytes) follows when send. With decoded, the body is not the origin's
// bytes: Content-Encoding is left out and a strong ETag weakened.
func appendPassHead(dst []byte, resp *fasthttp.Response, f *facts, label, notStored string, decoded bool, bodyLen int, headFromOrigin bool) ([]byte, bool) {
	status := resp.StatusCode()
	dst = appendOriginHead(dst, resp, label, notStored, decoded)
	send := bodyAllowed(status) && !f.isHead
	if bodyAllowed(status) {
		cl := bodyLen
		if f.isHead && headFromOrigin {
			cl = resp.Header.ContentLength()
		}
		if cl >= 0 {
			dst = append(dst, "Content-Length: "...)
			dst = appendInt(dst, cl)
			dst = append(dst, "\r\n"...)
		}
	}
	if !f.keepAlive {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return dst, send
}

// storedField reports whether a response field goes into a stored record:
// what pagerecord allows (no Set-Cookie, hop-by-hop, framing or Age fields),
// less those recomputed per response: Vary (only Vary: Accept-Encoding is
// ever stored, and the store re-adds it) and X-Cache from another layer.
func storedField(name []byte) bool {
	return pagerecord.StorableField(name) &&
		!asciiEqualFold(name, "vary") && !asciiEqualFold(name, "x-cache")
}

func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// eachField calls fn for every "Name: value\r\n" line of a header block.
func eachField(block []byte, fn func(name, value []byte)) {
	for len(block) > 0 {
		end := indexCRLF(block)
		if end < 0 {
			return
		}
		line := block[:end]
		block = block[end+2:]
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			fn(line[:colon], trimOWS(line[colon+1:]))
		}
	}
}

// compressible reports whether a body of this Content-Type is worth gzipping:
// not media formats that are compressed already.
func compressible(ctype []byte) bool {
	ct := bytes.ToLower(bytes.TrimSpace(ctype))
	for _, p := range [...]string{"image/", "video/", "audio/", "font/woff", "application/zip",
		"application/gzip", "application/x-gzip", "application/zstd", "application/x-7z", "application/x-rar"} {
		if bytes.HasPrefix(ct, []byte(p)) {
			return bytes.HasPrefix(ct, []byte("image/svg"))
		}
	}
	return true
}

// storeTTL is how long the store keeps a page that is fresh for ttl. A page
// with a validator is kept past its freshness, so that once stale it can be
// revalidated with a conditional request (a 304 costs the origin no body)
// instead of being fetched again: as long again as it was fresh, at least a
// minute, at most a day.
func storeTTL(ttl time.Duration, block []byte) time.Duration {
	hasValidator := false
	eachField(block, func(name, _ []byte) {
		if asciiEqualFold(name, "etag") || asciiEqualFold(name, "last-modified") {
			hasValidator = true
		}
	})
	if !hasValidator {
		return ttl
	}
	return ttl + min(max(ttl, time.Minute), 24*time.Hour)
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	switch {
	case s < 0:
		return 0
	case s > 1<<31:
		return 1 << 31
	}
	return uint32(s)
}

func appendInt(dst []byte, v int) []byte {
	var b [20]byte
	i := len(b)
	if v == 0 {
		return append(dst, '0')
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[i:]...)
}
