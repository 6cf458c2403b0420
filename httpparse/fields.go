package httpparse

import (
	"bytes"
	"math"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// parseFieldLine splits field-name ":" OWS field-value OWS (RFC 9112 §5).
// The name must be a token right up to the colon: whitespace there, and
// obs-fold (a line starting with SP/HTAB), are refused as RFC 9112 §5.1 and
// §5.2 allow, because intermediaries disagree on them.
func parseFieldLine(line []byte) (name, value []byte, err error) {
	i := httpbytes.TokenLen(line)
	if i == 0 || i == len(line) || line[i] != ':' || !httpbytes.IsFieldValue(line[i+1:]) {
		return nil, nil, ErrHeaderSyntax
	}
	return line[:i], httpbytes.TrimOWS(line[i+1:]), nil
}

// fieldState carries what ParseHead learns across field lines.
type fieldState struct {
	host, te  bool   // a Host / Transfer-Encoding field was seen
	cl        []byte // the first Content-Length member as received, nil if none
	connClose bool   // some Connection field lists "close"
	connKeep  bool   // some Connection field lists "keep-alive"
}

// note applies the meaning of one field. Rejections happen at the field that
// makes the head invalid, so a longer prefix never changes the verdict.
func (st *fieldState) note(req *Request, name, value []byte) error {
	// Only these lengths can name a field of interest; most browser fields
	// (User-Agent, Accept, Sec-*) are passed over without a comparison.
	switch len(name) {
	case 4:
		if httpbytes.EqualFold(name, "host") {
			return st.noteHost(req, value)
		}
	case 5:
		if httpbytes.EqualFold(name, "range") {
			setFirst(&req.Range, value)
		}
	case 6:
		switch {
		case httpbytes.EqualFold(name, "cookie"):
			if req.CookieCount == 0 {
				req.Cookie = value
			}
			req.CookieCount++
		case httpbytes.EqualFold(name, "expect"):
			return noteExpect(req, value)
		}
	case 8:
		if httpbytes.EqualFold(name, "if-range") {
			setFirst(&req.IfRange, value)
		}
	case 10:
		if httpbytes.EqualFold(name, "connection") {
			if req.Connection == nil {
				req.Connection = value
			}
			st.connClose = st.connClose || httpbytes.HasElementFold(value, "close")
			st.connKeep = st.connKeep || httpbytes.HasElementFold(value, "keep-alive")
		}
	case 13:
		switch {
		case httpbytes.EqualFold(name, "authorization"):
			setFirst(&req.Authorization, value)
		case httpbytes.EqualFold(name, "if-none-match"):
			setFirst(&req.IfNoneMatch, value)
		}
	case 14:
		if httpbytes.EqualFold(name, "content-length") {
			return st.noteContentLength(req, value)
		}
	case 15:
		if httpbytes.EqualFold(name, "accept-encoding") {
			setFirst(&req.AcceptEncoding, value)
		}
	case 17:
		switch {
		case httpbytes.EqualFold(name, "transfer-encoding"):
			return st.noteTransferEncoding(req, value)
		case httpbytes.EqualFold(name, "if-modified-since"):
			setFirst(&req.IfModifiedSince, value)
		}
	}
	return nil
}

// setFirst keeps the first field's value. value is never nil (a present but
// empty field is an empty non-nil view), so nil means "not seen yet".
func setFirst(dst *[]byte, value []byte) {
	if *dst == nil {
		*dst = value
	}
}

// noteHost enforces RFC 9112 §3.2: exactly one Host, with a valid value.
func (st *fieldState) noteHost(req *Request, value []byte) error {
	if st.host || !validHost(value) {
		return ErrHost
	}
	st.host = true
	if req.Host == nil { // an absolute-form authority wins (§3.2.2)
		req.Host = value
	}
	return nil
}

// noteExpect: 100-continue (any case) is the only expectation we meet; an
// empty value expects nothing. HTTP/1.0 100-continue is ignored (RFC 9110
// §10.1.1) since such a client will not wait for it.
func noteExpect(req *Request, value []byte) error {
	switch {
	case len(value) == 0:
	case httpbytes.EqualFold(value, "100-continue"):
		req.Expect100 = req.ProtoMinor == 1
	default:
		return ErrExpectation
	}
	return nil
}

// noteContentLength accepts one decimal length per request. Repeats, as
// further fields or as a list ("5, 5"), are accepted only when each member is
// byte-identical to the first (RFC 9110 §8.6 allows either this or a 400; the
// forwarder writes its own Content-Length, so nothing ambiguous travels on).
func (st *fieldState) noteContentLength(req *Request, value []byte) error {
	if st.te {
		return ErrSmuggling
	}
	for more := true; more; {
		var member []byte
		member, value, more = httpbytes.CutElement(value)
		if st.cl == nil {
			n, ok := parseDecimal(member)
			if !ok {
				return ErrContentLength
			}
			st.cl, req.ContentLength = member, n
		} else if !bytes.Equal(member, st.cl) {
			return ErrContentLength
		}
	}
	return nil
}

// parseDecimal parses 1*DIGIT into a non-negative int64.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !httpbytes.IsDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// noteTransferEncoding accepts exactly one field whose value is "chunked"
// (any case), in HTTP/1.1, without Content-Length. RFC 9112 §6.1 lets a
// recipient process TE over CL, but a proxy that does so while another hop
// does not is the classic smuggling gap, so the pair is refused outright.
// TE in HTTP/1.0 is refused as nginx does: a 1.0 hop may not understand it.
func (st *fieldState) noteTransferEncoding(req *Request, value []byte) error {
	if req.ProtoMinor == 0 || st.cl != nil {
		return ErrSmuggling
	}
	if st.te || !httpbytes.EqualFold(value, "chunked") {
		return ErrTransferCoding
	}
	st.te, req.Chunked = true, true
	return nil
}

// finish applies the rules that need the whole head.
func (st *fieldState) finish(req *Request, lim *Limits) error {
	if req.ProtoMinor == 1 && !st.host {
		return ErrHost
	}
	if req.ContentLength > lim.bodyBytes() {
		return ErrBodyTooLarge
	}
	if req.ProtoMinor == 1 {
		req.KeepAlive = !st.connClose
	} else {
		req.KeepAlive = st.connKeep && !st.connClose
	}
	return nil
}
