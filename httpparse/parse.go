// Package httpparse is mcpage's incremental, zero-allocation HTTP/1.1 request
// parser. ParseHead reads a request line and header block from a []byte and
// returns the bytes consumed, ErrNeedMore when the head is incomplete, or an
// *Error carrying the HTTP status to answer with. Parsed fields are views into
// the caller's buffer, valid as long as those bytes are unchanged.
//
// Strict where request smuggling lives: Transfer-Encoding with Content-Length
// (400), Transfer-Encoding other than "chunked" (501), Transfer-Encoding in
// HTTP/1.0 (400), differing Content-Length values (400), whitespace before a
// colon, obs-fold, invalid token bytes, control bytes, bare CR and bare LF
// (400), a missing or repeated Host in HTTP/1.1 (400), versions other than
// 1.0 and 1.1 (505), heads over MaxHeaderBytes or with more than MaxHeaders
// fields (431), bodies over MaxBodyBytes (413), Expect other than
// 100-continue (417).
package httpparse

import (
	"errors"
	"strconv"
)

// Limits bounds what a peer controls. Zero values mean the defaults.
type Limits struct {
	MaxHeaderBytes int   // request line + headers; 0 → 16384 (431 past it)
	MaxHeaders     int   // header fields; 0 → 100, clamped to MaxHeadersCap (431 past it)
	MaxBodyBytes   int64 // decoded body; 0 → 10 MiB (413 past it)
}

// MaxHeadersCap is the size of the header array inside Request.
const MaxHeadersCap = 128

const (
	defaultMaxHeaderBytes = 16 << 10
	defaultMaxHeaders     = 100
	defaultMaxBodyBytes   = 10 << 20
	maxMethodLen          = 32
)

func (l *Limits) headerBytes() int {
	if l == nil || l.MaxHeaderBytes <= 0 {
		return defaultMaxHeaderBytes
	}
	return l.MaxHeaderBytes
}

func (l *Limits) headers() int {
	if l == nil || l.MaxHeaders <= 0 {
		return defaultMaxHeaders
	}
	if l.MaxHeaders > MaxHeadersCap {
		return MaxHeadersCap
	}
	return l.MaxHeaders
}

func (l *Limits) bodyBytes() int64 {
	if l == nil || l.MaxBodyBytes <= 0 {
		return defaultMaxBodyBytes
	}
	return l.MaxBodyBytes
}

// Error is a rejection that becomes an HTTP answer. Reason never echoes input.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "httpparse: " + strconv.Itoa(e.Status) + " " + e.Reason }

// ErrNeedMore means the buffer ends before the head does (and is under the limit).
var ErrNeedMore = errors.New("httpparse: need more data")

// Rejections, each with the status it is answered with.
var (
	// ErrRequestLine: malformed request line (method, target or version syntax).
	ErrRequestLine = &Error{400, "malformed request line"}
	// ErrHeaderSyntax: malformed header field (space before colon, obs-fold, bad bytes, bare CR/LF).
	ErrHeaderSyntax = &Error{400, "malformed header field"}
	// ErrHeaderTooLarge: request line plus headers exceed MaxHeaderBytes.
	ErrHeaderTooLarge = &Error{431, "request header fields too large"}
	// ErrTooManyHeaders: more than MaxHeaders fields.
	ErrTooManyHeaders = &Error{431, "too many header fields"}
	// ErrBodyTooLarge: body over MaxBodyBytes.
	ErrBodyTooLarge = &Error{413, "content too large"}
	// ErrVersion: an HTTP version other than 1.0 or 1.1.
	ErrVersion = &Error{505, "http version not supported"}
	// ErrTransferCoding: Transfer-Encoding other than exactly "chunked".
	ErrTransferCoding = &Error{501, "transfer coding not implemented"}
	// ErrContentLength: TE with CL, differing or invalid Content-Length, TE in HTTP/1.0.
	ErrContentLength = &Error{400, "ambiguous message framing"}
	// ErrHost: HTTP/1.1 request without Host, or with several.
	ErrHost = &Error{400, "missing or repeated host"}
	// ErrExpectation: an Expect value other than 100-continue.
	ErrExpectation = &Error{417, "expectation failed"}
	// ErrChunk: malformed chunked framing.
	ErrChunk = &Error{400, "malformed chunked body"}
)

// Request is a parsed request head; the views point into the parsed buffer.
type Request struct {
	Method        []byte
	Target        []byte // request-target as received
	Path          []byte // origin-form path+query (absolute-form: after the authority)
	Host          []byte // absolute-form authority, else the Host field
	ProtoMinor    int
	Headers       []Header
	ContentLength int64 // -1 when absent
	Chunked       bool
	KeepAlive     bool
	Expect100     bool

	AcceptEncoding, Authorization, IfNoneMatch, IfModifiedSince, Connection []byte
	Cookie                                                                  []byte
	CookieCount                                                             int
	HeadLen                                                                 int

	hdrs [MaxHeadersCap]Header
}

// Reset clears r for reuse.
func (r *Request) Reset() {
	hdrs := r.hdrs[:0]
	*r = Request{}
	r.Headers = hdrs
	r.ContentLength = -1
}

// Header returns the first field named name (case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if foldEq(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.ContentLength > 0 || r.Chunked }

// IsGetOrHead reports whether the method is GET or HEAD.
func (r *Request) IsGetOrHead() bool {
	return string(r.Method) == "GET" || string(r.Method) == "HEAD"
}

var slash = []byte("/")

// tokenTable marks RFC 9110 tchar bytes.
var tokenTable = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// ParseHead parses the head at the start of buf into req (after resetting it).
func ParseHead(buf []byte, req *Request, lim *Limits) (int, error) {
	req.Reset()
	maxBytes := lim.headerBytes()
	off := 0
	// RFC 9112 §2.2: ignore at least one empty line before the request line.
	for off+1 < len(buf) && buf[off] == '\r' && buf[off+1] == '\n' && off < 4 {
		off += 2
	}
	lineEnd, err := findLine(buf, off, maxBytes)
	if err != nil {
		return 0, err
	}
	if err := parseRequestLine(buf[off:lineEnd], req); err != nil {
		return 0, err
	}
	off = lineEnd + 2
	maxH := lim.headers()
	sawHost, sawTE := false, false
	for {
		if off+1 < len(buf) && buf[off] == '\r' && buf[off+1] == '\n' {
			off += 2
			break
		}
		end, err := findLine(buf, off, maxBytes)
		if err != nil {
			return 0, err
		}
		line := buf[off:end]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return 0, ErrHeaderSyntax // obs-fold
		}
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
			if !tokenTable[c] {
				return 0, ErrHeaderSyntax
			}
		}
		if colon <= 0 {
			return 0, ErrHeaderSyntax
		}
		val := trim(line[colon+1:])
		for _, c := range val {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return 0, ErrHeaderSyntax
			}
		}
		if len(req.Headers) == maxH {
			return 0, ErrTooManyHeaders
		}
		name := line[:colon]
		req.Headers = append(req.Headers, Header{Name: name, Value: val})
		if err := req.noteField(name, val, &sawHost, &sawTE); err != nil {
			return 0, err
		}
		off = end + 2
	}
	if err := req.finish(sawHost, sawTE, lim); err != nil {
		return 0, err
	}
	req.HeadLen = off
	return off, nil
}

// findLine returns the index of the CR of the CRLF ending the line at off.
func findLine(buf []byte, off, maxBytes int) (int, error) {
	for i := off; i < len(buf); i++ {
		if i >= maxBytes {
			return 0, ErrHeaderTooLarge
		}
		switch buf[i] {
		case '\r':
			if i+1 == len(buf) {
				return 0, ErrNeedMore
			}
			if buf[i+1] != '\n' {
				return 0, ErrHeaderSyntax
			}
			if i+2 > maxBytes {
				return 0, ErrHeaderTooLarge
			}
			return i, nil
		case '\n', 0:
			return 0, ErrHeaderSyntax
		}
	}
	if len(buf) >= maxBytes {
		return 0, ErrHeaderTooLarge
	}
	return 0, ErrNeedMore
}

func parseRequestLine(line []byte, req *Request) error {
	sp1 := indexByte(line, ' ')
	if sp1 <= 0 || sp1 > maxMethodLen {
		return ErrRequestLine
	}
	for _, c := range line[:sp1] {
		if !tokenTable[c] {
			return ErrRequestLine
		}
	}
	rest := line[sp1+1:]
	sp2 := indexByte(rest, ' ')
	if sp2 <= 0 {
		return ErrRequestLine
	}
	target, version := rest[:sp2], rest[sp2+1:]
	for _, c := range target {
		if c <= 0x20 || c >= 0x7f {
			return ErrRequestLine
		}
	}
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9' {
		return ErrRequestLine
	}
	if version[5] != '1' || version[7] > '1' {
		return ErrVersion
	}
	req.Method, req.Target, req.ProtoMinor = line[:sp1], target, int(version[7]-'0')
	switch {
	case target[0] == '/':
		req.Path = target
	case len(target) == 1 && target[0] == '*':
		req.Path = target
	case hasPrefixFold(target, "http://") || hasPrefixFold(target, "https://"):
		auth := target[indexByte(target, '/')+2:]
		end := len(auth)
		for i, c := range auth {
			if c == '/' || c == '?' || c == '#' {
				end = i
				break
			}
		}
		if end == 0 {
			return ErrRequestLine
		}
		req.Host = auth[:end]
		// "http://h" has path "/"; "http://h?q" keeps "?q" so the query
		// still tells pages apart (it cannot be prefixed with "/" in place).
		req.Path = auth[end:]
		if len(req.Path) == 0 {
			req.Path = slash
		}
	case string(req.Method) == "CONNECT":
		req.Path = target
	default:
		return ErrRequestLine
	}
	return nil
}

func (req *Request) noteField(name, val []byte, sawHost, sawTE *bool) error {
	// Only fields of these lengths matter here; most browser fields
	// (User-Agent, Accept, Sec-*) are skipped without a comparison.
	switch len(name) {
	case 4, 6, 10, 13, 14, 15, 17:
	default:
		return nil
	}
	switch {
	case foldEq(name, "host"):
		if *sawHost {
			return ErrHost
		}
		*sawHost = true
		if req.Host == nil {
			req.Host = val
		}
	case foldEq(name, "content-length"):
		n, ok := parseCL(val)
		if !ok || (req.ContentLength >= 0 && req.ContentLength != n) {
			return ErrContentLength
		}
		req.ContentLength = n
	case foldEq(name, "transfer-encoding"):
		if *sawTE || !foldEq(val, "chunked") {
			return ErrTransferCoding
		}
		*sawTE = true
		req.Chunked = true
	case foldEq(name, "connection"):
		req.Connection = val
	case foldEq(name, "expect"):
		if !foldEq(val, "100-continue") {
			return ErrExpectation
		}
		req.Expect100 = true
	case foldEq(name, "accept-encoding"):
		if req.AcceptEncoding == nil {
			req.AcceptEncoding = val
		}
	case foldEq(name, "authorization"):
		req.Authorization = val
	case foldEq(name, "if-none-match"):
		req.IfNoneMatch = val
	case foldEq(name, "if-modified-since"):
		req.IfModifiedSince = val
	case foldEq(name, "cookie"):
		if req.CookieCount == 0 {
			req.Cookie = val
		}
		req.CookieCount++
	}
	return nil
}

func (req *Request) finish(sawHost, sawTE bool, lim *Limits) error {
	if req.ProtoMinor == 1 && !sawHost {
		return ErrHost
	}
	if sawTE {
		if req.ContentLength >= 0 || req.ProtoMinor == 0 {
			return ErrContentLength
		}
		req.ContentLength = -1
	}
	if req.ContentLength > lim.bodyBytes() {
		return ErrBodyTooLarge
	}
	if req.ProtoMinor == 1 {
		req.KeepAlive = !hasToken(req.Connection, "close")
	} else {
		req.KeepAlive = hasToken(req.Connection, "keep-alive") && !hasToken(req.Connection, "close")
	}
	return nil
}

// parseCL parses a Content-Length value, accepting a list of identical values.
func parseCL(v []byte) (int64, bool) {
	n := int64(-1)
	for len(v) > 0 {
		var item []byte
		if i := indexByte(v, ','); i >= 0 {
			item, v = trim(v[:i]), v[i+1:]
		} else {
			item, v = trim(v), nil
		}
		if len(item) == 0 || len(item) > 18 {
			return 0, false
		}
		var x int64
		for _, c := range item {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && n != x {
			return 0, false
		}
		n = x
	}
	return n, n >= 0
}

func hasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		var item []byte
		if i := indexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		if foldEq(trim(item), tok) {
			return true
		}
	}
	return false
}

// AppendErrorResponse appends the complete answer to a rejected request.
func AppendErrorResponse(dst []byte, e *Error) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(e.Status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)+1), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	dst = append(dst, e.Reason...)
	return append(dst, '\n')
}

func statusText(s int) string {
	switch s {
	case 400:
		return "Bad Request"
	case 413:
		return "Content Too Large"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func foldEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool { return len(b) >= len(s) && foldEq(b[:len(s)], s) }
