package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// X-Cache values.
const (
	labelHit         = "HIT"         // served from the store
	labelMiss        = "MISS"        // cacheable, fetched from the origin
	labelRevalidated = "REVALIDATED" // stale page confirmed by the origin with 304
	labelBypass      = "BYPASS"      // cacheable method, skipped for Authorization or a bypass cookie
	labelPass        = "PASS"        // method that is never cached
)

// facts is what rendering a response needs to know about its request.
type facts struct {
	isHead    bool
	gzipOK    bool
	keepAlive bool
	http10    bool   // the request was HTTP/1.0 (appendConnection)
	ae        []byte // Accept-Encoding
	inm       []byte // If-None-Match
	ims       []byte // If-Modified-Since
	// For Cache-Status (cachestatus.go): the forward reason when not the
	// label's, whether a fill stored its page, whether a hit was a waiter
	// served by another request's fill.
	fwd       string
	stored    bool
	collapsed bool
}

// clientTakes reports whether the client accepts a body in encoding enc.
func (f *facts) clientTakes(enc pagerecord.Encoding) bool {
	switch enc {
	case pagerecord.Identity:
		return true
	case pagerecord.Gzip:
		return f.gzipOK
	default:
		return cachepolicy.AcceptsEncoding(f.ae, enc.String())
	}
}

// errDecodeOffLoop: hitBody will not inflate this page on the loop (it
// decodes to more than decodeInlineMax); serveHit hands it to decodeHitAsync.
var errDecodeOffLoop = errors.New("server: decode off the loop")

// hitBody picks the representation of a stored page for this client: the
// stored bytes when the client takes their encoding, otherwise the decoded
// body, memoised per loop so a hot compressed page is not inflated per hit.
// Only bodies that decode to at most decodeInlineMax are inflated here, on
// the loop; for larger ones (known from the memo, the gzip trailer, or an
// inline attempt that ran past the bound) it returns errDecodeOffLoop.
func (l *loop) hitBody(key []byte, r *pagerecord.Record, f *facts) ([]byte, pagerecord.Encoding, error) {
	if f.clientTakes(r.Encoding) {
		return r.Body, r.Encoding, nil
	}
	if n, ok := l.dec.size(key, idOf(r)); ok {
		if b, ok := l.dec.get(key, idOf(r)); ok {
			return b, pagerecord.Identity, nil
		}
		if n == sizeAbove || n > decodeInlineMax {
			return nil, 0, errDecodeOffLoop
		}
	}
	if len(r.Body) > decodeInlineMax {
		return nil, 0, errDecodeOffLoop
	}
	if r.Encoding == pagerecord.Gzip {
		if isize, ok := pagerecord.GzipTrailerSize(r.Body); ok && isize > decodeInlineMax {
			if isize > l.s.cfg.MaxDecoded {
				// Too large or corrupt (see decodeHeld): refused unread.
				return nil, 0, pagerecord.ErrTooLarge
			}
			return nil, 0, errDecodeOffLoop
		}
	}
	b, err := pagerecord.AppendDecoded(nil, r.Body, r.Encoding, min(decodeInlineMax, l.s.cfg.MaxDecoded))
	if errors.Is(err, pagerecord.ErrTooLarge) && l.s.cfg.MaxDecoded > decodeInlineMax {
		l.dec.putSize(key, idOf(r), sizeAbove)
		return nil, 0, errDecodeOffLoop
	}
	if err != nil {
		return nil, 0, err
	}
	l.dec.put(key, idOf(r), b)
	return b, pagerecord.Identity, nil
}

// appendRecordHead appends the response head for a stored page whose chosen
// body is body in encoding enc. It reports whether the body is to be sent
// (not for HEAD, not for a 304).
func appendRecordHead(dst []byte, r *pagerecord.Record, f *facts, body []byte, enc pagerecord.Encoding, label string, now time.Time) ([]byte, bool) {
	nowSec := now.Unix()
	weaken := enc != r.OrigEncoding
	if (len(f.inm) > 0 || len(f.ims) > 0) && cachepolicy.NotModified(f.inm, f.ims, r.Lookup("ETag"), r.Lookup("Last-Modified")) {
		dst = appendStatusLine(dst, http.StatusNotModified, "")
		dst = appendFields(dst, r.Header, weaken, true)
		dst = appendDynamic(dst, r, enc, label, f, nowSec, -1)
		return dst, false
	}
	dst = appendStatusLine(dst, r.Status, "")
	dst = appendFields(dst, r.Header, weaken, false)
	if enc != pagerecord.Identity {
		dst = append(dst, "Content-Encoding: "...)
		dst = append(dst, enc.String()...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendAcceptRanges(dst, r) // range.go
	cl := len(body)
	if !bodyAllowed(r.Status) {
		cl = -1
	}
	dst = appendDynamic(dst, r, enc, label, f, nowSec, cl)
	return dst, !f.isHead && cl >= 0
}

// appendDynamic appends the fields computed per response: Vary, Age, the
// freshness mod_mcpage users expect when it came from -ttl, X-Cache,
// Cache-Status, Content-Length (when cl ≥ 0), Connection, and the blank
// line.
func appendDynamic(dst []byte, r *pagerecord.Record, enc pagerecord.Encoding, label string, f *facts, now int64, cl int) []byte {
	if r.Encoding != pagerecord.Identity || r.OrigEncoding != pagerecord.Identity {
		dst = append(dst, "Vary: Accept-Encoding\r\n"...)
	}
	dst = append(dst, "Age: "...)
	dst = strconv.AppendInt(dst, r.Age(now), 10)
	dst = append(dst, "\r\n"...)
	if r.Flags&pagerecord.FlagDefaultTTL != 0 {
		rem := r.Remaining(now)
		if rem < 0 {
			rem = 0
		}
		dst = append(dst, "Cache-Control: max-age="...)
		dst = strconv.AppendInt(dst, rem, 10)
		dst = append(dst, "\r\nExpires: "...)
		dst = cachepolicy.AppendHTTPDate(dst, time.Unix(now+rem, 0))
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Cache: "...)
	dst = append(dst, label...)
	dst = append(dst, "\r\n"...)
	fwdStatus := 0
	if label != labelHit && label != labelStale {
		fwdStatus = r.Status
		if label == labelRevalidated {
			fwdStatus = http.StatusNotModified
		}
	}
	dst = appendCacheStatus(dst, label, f, fwdStatus, r.Remaining(now), label == labelHit || label == labelStale || f.stored, "")
	if cl >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(cl), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = appendConnection(dst, f)
	return append(dst, "\r\n"...)
}

// appendConnection appends the Connection field a response needs: close
// when the connection ends after it; keep-alive for an HTTP/1.0 client
// whose connection stays open (it would otherwise assume it closes, RFC
// 9112 §9.3; ApacheBench -k and older balancers wait for it).
func appendConnection(dst []byte, f *facts) []byte {
	switch {
	case !f.keepAlive:
		return append(dst, "Connection: close\r\n"...)
	case f.http10:
		return append(dst, "Connection: keep-alive\r\n"...)
	}
	return dst
}

// appendFields copies a stored header block. With weaken, a strong ETag is
// sent weak (the body is not the bytes the origin's ETag names;
// cachepolicy.AppendWeakETag). With only304, just the fields
// cachepolicy.KeepOn304 names are kept.
func appendFields(dst, block []byte, weaken, only304 bool) []byte {
	if !weaken && !only304 {
		return append(dst, block...)
	}
	for len(block) > 0 {
		end := indexCRLF(block)
		if end < 0 {
			break
		}
		line := block[:end+2]
		block = block[end+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		if only304 && !cachepolicy.KeepOn304(name) {
			continue
		}
		if weaken && httpbytes.EqualFold(name, "etag") {
			if v := httpbytes.TrimOWS(line[colon+1 : end]); cachepolicy.IsStrongETag(v) {
				dst = append(dst, name...)
				dst = append(dst, ": "...)
				dst = cachepolicy.AppendWeakETag(dst, v)
				dst = append(dst, "\r\n"...)
				continue
			}
		}
		dst = append(dst, line...)
	}
	return dst
}

// bodyAllowed reports whether a response with status carries a body and
// Content-Length (not 1xx, 204, 304).
func bodyAllowed(status int) bool {
	return !(status < 200 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// appendStatusLine appends "HTTP/1.1 <code> <reason>\r\n"; an empty reason is
// taken from the standard table (and left empty for unregistered codes).
func appendStatusLine(dst []byte, status int, reason string) []byte {
	if reason == "" {
		reason = http.StatusText(status)
	}
	return httpbytes.AppendStatusLine(dst, status, reason)
}

// appendErrorResponse appends a complete short plain-text answer generated by
// mcpage itself (upstream failures, overload): httpparse.AppendErrorResponse's
// form (httpbytes.AppendPlainHead), plus Cache-Control: no-store and X-Cache,
// and the connection kept open when keepAlive. It never echoes input.
func appendErrorResponse(dst []byte, status int, keepAlive bool, label string) []byte {
	text := http.StatusText(status)
	dst = httpbytes.AppendPlainHead(dst, status, text)
	dst = append(dst, "Cache-Control: no-store\r\nX-Cache: "...)
	dst = append(dst, label...)
	dst = append(dst, "\r\n"...)
	var f facts // nothing known of the request: the label's forward reason
	dst = appendCacheStatus(dst, label, &f, 0, 0, false, "mcpage-error")
	return httpbytes.AppendPlainBody(dst, text, !keepAlive)
}

var crlf = []byte("\r\n")

func indexCRLF(b []byte) int { return bytes.Index(b, crlf) }
