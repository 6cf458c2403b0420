package server

import (
	"bytes"
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
	upstream.VisitResponse(resp, func(name, value []byte) {
		pr.Observe(name, value)
		switch {
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
	if !d.Store || !encOK {
		if x.kind == kindRevalidate {
			x.drop = true
		}
		reason := d.Reason
		if d.Store {
			reason = "content-encoding"
		}
		x.out = appendPassResponse(nil, resp, &x.f, x.label(), reason, encOK && !x.f.clientTakes(enc), false)
		return
	}

	body := resp.Body()
	r := pagerecord.Record{
		Status:       resp.StatusCode(),
		Encoding:     enc,
		OrigEncoding: enc,
		StoredAt:     now.Unix(),
		TTL:          seconds(d.TTL),
		AgeAtStore:   seconds(d.Age),
		Body:         body,
	}
	if d.FromDefault {
		r.Flags |= pagerecord.FlagDefaultTTL
	}
	var block []byte
	upstream.VisitResponse(resp, func(name, value []byte) {
		if storedField(name) {
			block = appendField(block, name, value)
		}
	})
	r.Header = block
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
	// Render from the record as a hit would be, decoding only if the client
	// can't take the stored encoding.
	var dec pagerecord.Record
	if err := pagerecord.Decode(rec, &dec); err != nil {
		x.rec = nil
		x.out = appendPassResponse(nil, resp, &x.f, x.label(), "record", !x.f.clientTakes(enc), false)
		return
	}
	x.out = x.renderRecord(&dec, now)
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
	x.out = x.renderRecord(&dec, now)
}

// renderRecord renders a complete response from a record on the worker
// (decoding directly: the per-loop memo is loop-only).
func (x *exchange) renderRecord(r *pagerecord.Record, now time.Time) []byte {
	body, enc := r.Body, r.Encoding
	if !x.f.clientTakes(enc) {
		b, err := pagerecord.AppendDecoded(nil, r.Body, r.Encoding, maxDecoded)
		if err != nil {
			x.rec = nil
			return appendErrorResponse(nil, 502, x.f.keepAlive, x.label())
		}
		body, enc = b, pagerecord.Identity
	}
	head, send := appendRecordHead(make([]byte, 0, 256+len(r.Header)), r, &x.f, body, enc, x.label(), now)
	if !send {
		return head
	}
	return append(head, body...)
}

// appendPassResponse renders an origin response that is not (or cannot be)
// rendered from a record: every end-to-end field as received, the body
// re-framed with Content-Length. With decode, a body the client cannot take
// (the proxy asked the origin for gzip on its behalf) is decoded first.
// headFromOrigin: a HEAD was forwarded as HEAD, so the origin's
// Content-Length is the one to repeat. A non-empty notStored says why a
// cacheable response was not stored (X-Cache-Detail), the question users of
// caching proxies ask most.
func appendPassResponse(dst []byte, resp *fasthttp.Response, f *facts, label, notStored string, decode, headFromOrigin bool) []byte {
	status := resp.StatusCode()
	body := resp.Body()
	if decode {
		enc, _ := pagerecord.ParseEncoding(resp.Header.Peek("Content-Encoding"))
		b, err := pagerecord.AppendDecoded(nil, body, enc, maxDecoded)
		if err != nil {
			return appendErrorResponse(dst, 502, f.keepAlive, label)
		}
		body = b
	}
	dst = appendStatusLine(dst, status, string(resp.Header.StatusMessage()))
	upstream.VisitResponse(resp, func(name, value []byte) {
		switch {
		case asciiEqualFold(name, "x-cache"):
			return
		case decode && asciiEqualFold(name, "content-encoding"):
			return
		case decode && asciiEqualFold(name, "etag") && len(value) > 0 && value[0] == '"':
			dst = append(dst, name...)
			dst = append(dst, ": W/"...)
			dst = append(dst, value...)
			dst = append(dst, "\r\n"...)
			return
		}
		dst = appendField(dst, name, value)
	})
	dst = append(dst, "X-Cache: "...)
	dst = append(dst, label...)
	dst = append(dst, "\r\n"...)
	if notStored != "" {
		dst = append(dst, "X-Cache-Detail: not stored: "...)
		dst = append(dst, notStored...)
		dst = append(dst, "\r\n"...)
	}
	send := bodyAllowed(status) && !f.isHead
	if bodyAllowed(status) {
		cl := len(body)
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
	if send {
		dst = append(dst, body...)
	}
	return dst
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
