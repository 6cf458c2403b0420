package server

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// fill handles the origin's answer to a cacheable miss. It is one pipeline
// with freshen: read the origin's fields in one walk and decide, build the
// record (its body compressed when large), then keep it: store it and render
// the client's response from it, so a miss and the hits after it look the
// same. Worker goroutine only.
func (x *exchange) fill(resp *upstream.Response, now time.Time) {
	s := x.l.s
	var o originFields
	var inline [32]fieldView
	fields := o.read(resp, inline[:0])
	if x.authorized {
		o.pr.MarkAuthorized()
	}
	d := s.cfg.Policy.Decide(&o.pr, now)
	enc, encOK := pagerecord.Identity, true
	if len(o.ce) > 0 {
		enc, encOK = pagerecord.ParseEncoding(o.ce)
	}
	encOK = encOK && !o.hiddenCE
	if !d.Store || !encOK {
		if x.replacesStale() {
			x.drop = true
		}
		reason := d.Reason
		if d.Store {
			reason = "content-encoding"
		}
		x.out = x.passResponse(resp, reason, enc, encOK && !x.f.clientTakes(enc))
		return
	}
	buf := getBlock()
	defer buf.release()
	block, validator := appendStoredBlock(buf.b, fields, d.Vary)
	buf.b = block
	plain, ok := x.clientBody(resp, enc, block)
	if !ok {
		return
	}
	body := resp.Body()
	r := pagerecord.Record{
		Status:       resp.Status(),
		Encoding:     enc,
		OrigEncoding: enc,
		Body:         body,
		Header:       block,
	}
	if enc == pagerecord.Identity && s.cfg.CompressMin > 0 && len(body) >= s.cfg.CompressMin && cachepolicy.Compressible(o.ctype) {
		gz := pagerecord.AppendGzip(nil, body)
		if len(gz) < len(body)-len(body)/10 { // keep it only if it saves 10 %
			r.Body = gz
			r.Encoding = pagerecord.Gzip
		}
	}
	if d.Vary || x.vary.base != nil {
		var nb [128]byte
		names, _ := o.pr.VaryNames(nb[:0])
		switch {
		case len(names) == 0:
			x.storeKey = x.vary.base // no longer varies: a page under the URL's key again
		case !x.placeVariant(&r, names, d.TTL+s.staleKeep(&d), now):
			// Selecting values too long to store under: served, not stored.
			if x.replacesStale() {
				x.drop = true
			}
			if plain != nil && plain.held > 0 {
				x.out = x.appendPassPlain(resp, cachepolicy.ReasonVary, plain)
				return
			}
			x.out = x.passResponse(resp, cachepolicy.ReasonVary, enc, !x.f.clientTakes(enc))
			return
		}
	}
	if x.keep(&r, &d, validator, plain, now) != nil {
		// A field value the record cannot hold (a control byte): not
		// stored, the origin's response passed as it came.
		if plain != nil && plain.held > 0 {
			x.out = x.appendPassPlain(resp, "record", plain)
			return
		}
		x.out = x.passResponse(resp, "record", enc, !x.f.clientTakes(enc))
	}
}

// originFields is what fill learns from its one walk over the origin's
// header fields (read). The stored header block is built afterwards, only
// for a page that is stored, from the end-to-end fields read returns
// (appendStoredBlock).
type originFields struct {
	// pr has seen every field as received: one the origin named in
	// Connection is removed from what is stored and sent, but a Set-Cookie or
	// Cache-Control: private hidden that way still keeps the page out.
	pr    cachepolicy.Response
	ce    []byte // Content-Encoding value
	ctype []byte // Content-Type value
	// hiddenCE: a Content-Encoding named in Connection. It would be dropped
	// from the record, and its body stored as if it were identity.
	hiddenCE bool
}

// read walks resp's fields once and returns its end-to-end fields, in order,
// appended to fields. The views are valid while resp is.
func (o *originFields) read(resp *upstream.Response, fields []fieldView) []fieldView {
	o.pr.Reset(resp.Status())
	resp.VisitAll(func(name, value []byte, hop bool) {
		o.pr.Observe(name, value)
		switch {
		case hop:
			o.hiddenCE = o.hiddenCE || httpbytes.EqualFold(name, "content-encoding")
			return
		case httpbytes.EqualFold(name, "content-encoding"):
			o.ce = value
		case httpbytes.EqualFold(name, "content-type"):
			o.ctype = value
		}
		fields = append(fields, fieldView{name, value})
	})
	return fields
}

// appendStoredBlock appends the fields to store (storedField) to dst as a
// header block, and reports whether one of them is a validator
// (pagerecord.IsValidator). With vary (a variant), the Vary lines are
// stored as received: hits send them, so that caches downstream select
// variants too.
func appendStoredBlock(dst []byte, fields []fieldView, vary bool) (block []byte, validator bool) {
	for _, f := range fields {
		if storedField(f.name) || (vary && httpbytes.EqualFold(f.name, "vary")) {
			dst = appendField(dst, f.name, f.value)
			validator = validator || pagerecord.IsValidator(f.name)
		}
	}
	return dst, validator
}

// clientBody settles the body this client gets from a page fill stores, and
// checks that the page decodes within MaxDecoded, as every stored page must
// so that any client can be served from it (decode.go). For a client that
// cannot take the origin's coding the body is decoded now, under the decode
// budget, and its size is the check; otherwise the body is only measured.
// plain is nil when the client takes the stored bytes; with ok false the
// response is in x.out already and nothing is stored.
func (x *exchange) clientBody(resp *upstream.Response, enc pagerecord.Encoding, block []byte) (plain *plainBody, ok bool) {
	s := x.l.s
	body := resp.Body()
	switch {
	case enc == pagerecord.Identity:
		if len(body) > s.cfg.MaxDecoded {
			x.notStored(resp, "decoded too large")
			return nil, false
		}
		return &plainBody{buf: body}, true // for a client that cannot take what fill compresses
	case x.f.clientTakes(enc):
		if err := s.checkDecodedSize(body, enc); err != nil {
			x.notStored(resp, decodeReason(err)) // the client takes the origin's bytes as they are
			return nil, false
		}
		return nil, true
	}
	room := decodeRoom(block)
	buf, held, err := s.decodeHeld(body, enc, room, -1)
	if err != nil {
		// The proxy asked the origin for gzip on this client's behalf and
		// the client cannot take it. A body that inflates past MaxDecoded (a
		// gzip bomb, or a page too large to decode in memory) or does not
		// inflate at all cannot be relayed as the client needs it: 502, as
		// for an origin answer that cannot be read. It is not stored either.
		x.out = x.decodeFailed(err)
		return nil, false
	}
	return &plainBody{buf: buf, room: room, held: held}, true
}

// keep is the end of fill's and freshen's pipeline. It stamps r with the
// freshness of decision d made at now; stores it when d allows and it fits
// MaxItem, for cachepolicy.StoreTTL (longer when validator says r can be
// revalidated), or else drops a revalidated page; and renders the client's
// response from r itself (renderRecord, with plain), as a hit on it would
// be. r is checked (pagerecord.Record.Check), not encoded and decoded again:
// on an error nothing is stored or rendered and the caller answers. Worker
// goroutine only.
func (x *exchange) keep(r *pagerecord.Record, d *cachepolicy.Decision, validator bool, plain *plainBody, now time.Time) error {
	s := x.l.s
	r.StoredAt = now.Unix()
	r.TTL = seconds(d.TTL)
	r.AgeAtStore = seconds(d.Age)
	r.Flags &^= pagerecord.FlagDefaultTTL
	if d.FromDefault {
		r.Flags |= pagerecord.FlagDefaultTTL
	}
	store := d.Store && r.Size() <= s.cfg.MaxItem
	x.f.stored = store
	s.metrics.countTooLarge(d.Store && !store && x.c != nil) // metrics.go
	if !store && x.replacesStale() {
		x.drop = true
	}
	if err := r.Check(); err != nil {
		return err
	}
	if store {
		x.rec = pagerecord.AppendRecord(make([]byte, 0, r.Size()), r)
		x.ttl = cachepolicy.StoreTTL(d.TTL, validator, s.staleKeep(d))
	}
	if x.c == nil { // a background refresh: nobody to render for
		if plain != nil {
			s.releaseDecode(plain.held)
		}
		return nil
	}
	x.out = x.renderRecord(r, plain, now)
	return nil
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
func (x *exchange) notStored(resp *upstream.Response, reason string) {
	if x.replacesStale() {
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
	x.drop = x.replacesStale() || x.drop
	return appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
}

// freshen handles a 304 to a revalidation, the same pipeline as fill: the
// stored headers are updated with the 304's (RFC 9111 §4.3.4), freshness
// decided again, and the record kept with the stored body, which is served
// again without being refetched. Worker goroutine only.
func (x *exchange) freshen(resp *upstream.Response, now time.Time) {
	s := x.l.s
	var old pagerecord.Record
	if err := pagerecord.Decode(x.stale, &old); err != nil {
		x.drop = true
		x.out = appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
		return
	}
	upd, merged := getBlock(), getBlock()
	defer upd.release()
	defer merged.release()
	// One walk: the fields to merge into the record, and those the 304
	// named in Connection, which are not merged but still count for the
	// decision (a Cache-Control: no-store or private hidden that way).
	var hopStack [16]fieldView
	hops := hopStack[:0]
	var age []byte
	resp.VisitAll(func(name, value []byte, hop bool) {
		switch {
		case hop:
			hops = append(hops, fieldView{name, value})
		case len(name) == 3 && httpbytes.EqualFold(name, "age"):
			age = value // not stored (pagerecord refuses Age), but it ages the page
		case storedField(name) && !httpbytes.EqualFold(name, "content-type"):
			upd.b = appendField(upd.b, name, value)
		}
	})
	merged.b = pagerecord.AppendMergedHeader(merged.b, old.Header, upd.b)
	var pr cachepolicy.Response
	pr.Reset(old.Status)
	validator := false
	eachField(merged.b, func(name, value []byte) {
		pr.Observe(name, value)
		validator = validator || pagerecord.IsValidator(name)
	})
	for _, f := range hops {
		pr.Observe(f.name, f.value)
	}
	if len(age) > 0 {
		pr.Observe(nameAge, age)
	}
	d := s.cfg.Policy.Decide(&pr, now)
	r := old
	r.Header = merged.b
	if x.keep(&r, &d, validator, nil, now) != nil {
		x.drop, x.rec = true, nil
		x.out = appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
	}
}

// fieldView is a view of one header field.
type fieldView struct{ name, value []byte }

// blockPool recycles the header blocks fill and freshen build: each is
// copied into the record (AppendRecord) and the response (renderRecord)
// before they return, so none outlives its call.
var blockPool = sync.Pool{New: func() any { return &blockBuf{b: make([]byte, 0, 1024)} }}

// maxPooledBlock bounds the blocks blockPool keeps.
const maxPooledBlock = 64 << 10

// blockBuf is a pooled header block; b is empty when taken.
type blockBuf struct{ b []byte }

func getBlock() *blockBuf { return blockPool.Get().(*blockBuf) }

// release returns bb to the pool; its bytes must no longer be used.
func (bb *blockBuf) release() {
	if cap(bb.b) <= maxPooledBlock {
		bb.b = bb.b[:0]
		blockPool.Put(bb)
	}
}

// renderRecord renders a complete response from a record on the worker. A
// client that cannot take the stored encoding gets plain when given (it takes
// over plain's budget reservation), else the record's body decoded here,
// under the decode budget (the per-loop memo is loop-only). A decoded body's
// reservation goes to the loop with the response (holdOnLoop).
func (x *exchange) renderRecord(r *pagerecord.Record, plain *plainBody, now time.Time) []byte {
	if len(x.rng) > 0 {
		if out, ok := x.renderRange(r, &plain, now); ok { // range.go
			return out
		}
	}
	if x.f.clientTakes(r.Encoding) {
		if plain != nil {
			x.l.s.releaseDecode(plain.held)
		}
		head, send := appendRecordHead(slices.Grow(x.outBuf(), 256+len(r.Header)+len(r.Body)), r, &x.f, r.Body, r.Encoding, x.label(), now)
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
	return x.withPlain(head, send, plain)
}

// withPlain completes a response whose head is rendered: with send, plain's
// decoded body follows it (the head is spliced into the room left in front of
// the body, and the budget reservation is held until the loop has written
// it); without, the reservation is released at once. Worker goroutine only.
func (x *exchange) withPlain(head []byte, send bool, plain *plainBody) []byte {
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
func (x *exchange) passResponse(resp *upstream.Response, notStored string, enc pagerecord.Encoding, decode bool) []byte {
	if !decode {
		return appendPassResponse(x.outBuf(), resp, &x.f, x.label(), notStored, false, false)
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
func (x *exchange) appendPassPlain(resp *upstream.Response, notStored string, plain *plainBody) []byte {
	body := plain.body()
	head, send := appendPassHead(x.outBuf(), resp, &x.f, x.label(), notStored, true, len(body), false)
	return x.withPlain(head, send, plain)
}

// passHeadRoom is the room to leave in front of a decoded pass body for its
// head: the origin's fields and what mcpage adds.
func passHeadRoom(resp *upstream.Response) int {
	n := 512
	resp.Visit(func(name, value []byte) {
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
func appendPassResponse(dst []byte, resp *upstream.Response, f *facts, label, notStored string, decode, headFromOrigin bool) []byte {
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
func appendPassHead(dst []byte, resp *upstream.Response, f *facts, label, notStored string, decoded bool, bodyLen int, headFromOrigin bool) ([]byte, bool) {
	status := resp.Status()
	dst = appendOriginHead(dst, resp, f, label, notStored, decoded)
	send := bodyAllowed(status) && !f.isHead
	if bodyAllowed(status) {
		cl := bodyLen
		if f.isHead && headFromOrigin {
			cl = resp.ContentLength()
		}
		if cl >= 0 {
			dst = append(dst, "Content-Length: "...)
			dst = strconv.AppendInt(dst, int64(cl), 10)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = appendConnection(dst, f)
	dst = append(dst, "\r\n"...)
	return dst, send
}

var nameAge = []byte("Age")

// storedField reports whether a response field goes into a stored record:
// what pagerecord allows (no Set-Cookie, hop-by-hop, framing or Age fields),
// less those recomputed per response: Vary (only Vary: Accept-Encoding is
// ever stored, and the store re-adds it) and X-Cache from another layer.
func storedField(name []byte) bool {
	return pagerecord.StorableField(name) &&
		!httpbytes.EqualFold(name, "vary") && !httpbytes.EqualFold(name, "x-cache")
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
			fn(line[:colon], httpbytes.TrimOWS(line[colon+1:]))
		}
	}
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
