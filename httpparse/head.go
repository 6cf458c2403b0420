package httpparse

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// ParseHead parses the request line and header block at the start of buf
// into req, after resetting it. It returns:
//
//   - (HeadLen, nil) when the head is complete and valid; buf[HeadLen:] is
//     whatever follows it (a body, the next pipelined request);
//   - (0, ErrNeedMore) when buf ends before the head does and the head still
//     fits in lim.MaxHeaderBytes: call again once more bytes have arrived;
//   - (0, e) with e one of this package's *Error sentinels when the head is
//     malformed or over a limit; answer with AppendErrorResponse and close.
//
// A rejection is reported as soon as the offending line is complete, and
// ErrHeaderTooLarge as soon as buf holds MaxHeaderBytes bytes without a
// complete head; so calling again on a longer prefix of the same bytes gives
// ErrNeedMore or the same result, never a different one. Leading empty lines
// (CRLF) before the request line are skipped (RFC 9112 §2.2) and counted in n.
//
// lim may be nil for the defaults. ParseHead keeps no reference to buf or req
// after it returns and never allocates; it may run on any goroutine that owns
// req. The views in req stay valid as long as buf's bytes are unchanged.
func ParseHead(buf []byte, req *Request, lim *Limits) (n int, err error) {
	req.Reset()
	p := headScanner{buf: buf}
	if max := lim.headerBytes(); len(buf) >= max {
		// The head must end within the first max bytes; looking only there
		// makes the result independent of how much more is buffered.
		p.buf, p.full = buf[:max], true
	}
	off := 0
	var line []byte
	for len(line) == 0 {
		if line, off, err = p.line(off); err != nil {
			return 0, err
		}
	}
	if err := parseRequestLine(req, line); err != nil {
		return 0, lineError(line, err)
	}
	maxHeaders := lim.headers()
	var st fieldState
	for {
		if line, off, err = p.line(off); err != nil {
			return 0, err
		}
		if len(line) == 0 {
			break
		}
		if len(req.Headers) == maxHeaders {
			return 0, ErrTooManyHeaders
		}
		name, value, err := parseFieldLine(line)
		if err != nil {
			return 0, lineError(line, err)
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})
		if err := st.note(req, name, value); err != nil {
			return 0, err
		}
	}
	if err := st.finish(req, lim); err != nil {
		return 0, err
	}
	req.HeadLen = off
	return off, nil
}

// headScanner cuts the head into CRLF-terminated lines.
type headScanner struct {
	buf  []byte // the bytes the head must fit in
	full bool   // buf is cut at MaxHeaderBytes: a missing line end is final
}

// line returns the line starting at off without its CRLF, and the offset of
// the next line. A bare LF is rejected here; a bare CR inside the line is
// caught by the line's own syntax check (see lineError).
func (p *headScanner) line(off int) (line []byte, next int, err error) {
	i := bytes.IndexByte(p.buf[off:], '\n')
	if i < 0 {
		if p.full {
			return nil, 0, ErrHeaderTooLarge
		}
		return nil, 0, ErrNeedMore
	}
	lf := off + i
	if i == 0 || p.buf[lf-1] != '\r' {
		return nil, 0, ErrLineEnding
	}
	return p.buf[off : lf-1], lf + 1, nil
}

// lineError reports a line's syntax error as ErrLineEnding when the line
// holds a bare CR: no line with one is valid, and naming the CR tells the
// peer what is wrong. Only the error path pays for the scan.
func lineError(line []byte, err error) error {
	if bytes.IndexByte(line, '\r') >= 0 {
		return ErrLineEnding
	}
	return err
}

// parseRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112 §3), single spaces only.
func parseRequestLine(req *Request, line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > MaxMethodLen || !httpbytes.IsToken(line[:sp]) {
		return ErrRequestLine
	}
	method, rest := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return ErrRequestLine
	}
	target, version := rest[:sp], rest[sp+1:]
	// The version is checked before the target so that an HTTP/2 preface
	// ("PRI * HTTP/2.0") is answered 505.
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		!httpbytes.IsDigit(version[5]) || !httpbytes.IsDigit(version[7]) {
		return ErrRequestLine
	}
	if version[5] != '1' || version[7] > '1' {
		return ErrVersion
	}
	req.Method, req.Target, req.ProtoMinor = method, target, int(version[7]-'0')
	return parseTarget(req, target)
}
