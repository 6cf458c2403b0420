package mcclient

import "bytes"

// MaxReplyLine bounds a reply's status line (without its value block): the
// decoder gives up with ErrReplyLineTooLong when no line end shows up within
// it. Our commands never ask for the key back, so real lines are short.
const MaxReplyLine = 1024

// Code is a reply's status code.
type Code uint8

// Reply codes of memcached 1.6.18's meta protocol.
const (
	CodeNone        Code = iota // no reply parsed
	CodeVA                      // VA <size>: value follows (mg with v, ma with v)
	CodeHD                      // HD: success without value
	CodeEN                      // EN: mg miss
	CodeNS                      // NS: not stored (ms mode condition, ma)
	CodeEX                      // EX: CAS mismatch
	CodeNF                      // NF: not found (ms with C, md, ma)
	CodeMN                      // MN: answer to mn
	CodeError                   // ERROR: unknown command
	CodeClientError             // CLIENT_ERROR <msg>: the request was bad
	CodeServerError             // SERVER_ERROR <msg>: the server failed the request
)

var codeNames = [...]string{"none", "VA", "HD", "EN", "NS", "EX", "NF", "MN", "ERROR", "CLIENT_ERROR", "SERVER_ERROR"}

// String returns the wire form of the code.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "invalid"
}

// Bits of Reply.Has: which valued flags the reply carried.
const (
	HasFlags      = 1 << iota // f: Reply.Flags
	HasCAS                    // c: Reply.CAS
	HasTTL                    // t: Reply.TTL
	HasSize                   // s: Reply.Size
	HasHitBefore              // h: Reply.HitBefore
	HasLastAccess             // l: Reply.LastAccess
)

// Reply is one decoded meta-protocol reply. Its slices point into the buffer
// given to Parse and are valid only as long as that buffer's bytes are.
type Reply struct {
	Code    Code
	Value   []byte // VA data block (capacity clipped to its length)
	Message []byte // text after CLIENT_ERROR / SERVER_ERROR
	Opaque  []byte // O token as echoed; nil if absent
	Has     uint8  // Has* bits

	Flags      uint32 // f: client flags
	CAS        uint64 // c
	TTL        int64  // t: remaining seconds, -1 = never expires
	Size       uint64 // s
	LastAccess uint64 // l: seconds since last access
	HitBefore  bool   // h: fetched before
	Win        bool   // W: this request won the right to recache
	Stale      bool   // X: item is marked stale
	WinTaken   bool   // Z: a win was already handed to someone else

	// Want is set when Parse needs more bytes and already knows how many: the
	// total length of the reply (status line, value block and its CRLF).
	Want int
}

// Parse decodes the reply at the start of buf. It returns the number of bytes
// the reply takes; (0, nil) means buf holds only part of a reply and Parse
// should be called again with more bytes appended (r.Want tells how many in
// total, when known). A non-nil error means the stream is malformed and the
// connection must be dropped. maxValue bounds a VA data block. Parse does not
// allocate; r's slices alias buf. A Reply must not be shared between goroutines.
func (r *Reply) Parse(buf []byte, maxValue int) (int, error) {
	*r = Reply{}
	lim := min(len(buf), MaxReplyLine)
	i := bytes.IndexByte(buf[:lim], '\n')
	if i < 0 {
		if len(buf) >= MaxReplyLine {
			return 0, ErrReplyLineTooLong
		}
		return 0, nil
	}
	if i == 0 || buf[i-1] != '\r' {
		return 0, ErrMalformedReply
	}
	line, n := buf[:i-1], i+1
	if len(line) < 2 {
		return 0, ErrMalformedReply
	}
	if line[0] >= 'A' && line[0] <= 'Z' && (len(line) == 2 || line[2] == ' ') {
		switch string(line[:2]) {
		case "VA":
			r.Code = CodeVA
		case "HD":
			r.Code = CodeHD
		case "EN":
			r.Code = CodeEN
		case "NS":
			r.Code = CodeNS
		case "EX":
			r.Code = CodeEX
		case "NF":
			r.Code = CodeNF
		case "MN":
			r.Code = CodeMN
		default:
			return 0, ErrMalformedReply
		}
		return r.parseMeta(buf, line[2:], n, maxValue)
	}
	if msg, ok := cutWord(line, "CLIENT_ERROR"); ok {
		r.Code, r.Message = CodeClientError, msg
		return n, nil
	}
	if msg, ok := cutWord(line, "SERVER_ERROR"); ok {
		r.Code, r.Message = CodeServerError, msg
		return n, nil
	}
	if string(line) == "ERROR" {
		r.Code = CodeError
		return n, nil
	}
	return 0, ErrMalformedReply
}

// cutWord reports whether line is word alone or word followed by a space,
// and returns what follows the space.
func cutWord(line []byte, word string) ([]byte, bool) {
	if len(line) < len(word) || string(line[:len(word)]) != word {
		return nil, false
	}
	rest := line[len(word):]
	if len(rest) == 0 {
		return rest, true
	}
	if rest[0] != ' ' {
		return nil, false
	}
	return rest[1:], true
}

// parseMeta parses what follows a two-letter code: for VA the size, then the
// flags; then, for VA, checks the data block. n is the status line's length.
func (r *Reply) parseMeta(buf, rest []byte, n, maxValue int) (int, error) {
	size := -1
	if r.Code == CodeVA {
		tok, tail := nextToken(rest)
		v, ok := parseUint(tok, uint64(maxValue))
		if !ok {
			if len(tok) > 0 && allDigits(tok) {
				return 0, ErrReplyValueTooLarge
			}
			return 0, ErrMalformedReply
		}
		size, rest = int(v), tail
	}
	if r.Code == CodeMN && len(rest) > 0 {
		return 0, ErrMalformedReply
	}
	for {
		tok, tail := nextToken(rest)
		if tok == nil {
			break
		}
		rest = tail
		if err := r.flag(tok); err != nil {
			return 0, err
		}
	}
	if size < 0 {
		return n, nil
	}
	total := n + size + 2
	if len(buf) < total {
		r.Want = total
		return 0, nil
	}
	if buf[n+size] != '\r' || buf[n+size+1] != '\n' {
		return 0, ErrReplyFraming
	}
	r.Value = buf[n : n+size : n+size]
	return total, nil
}

// nextToken returns the next space-separated token of s (skipping extra
// spaces) and what follows it; tok is nil at the end.
func nextToken(s []byte) (tok, rest []byte) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) == 0 {
		return nil, nil
	}
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i:]
	}
	return s, nil
}

// flag records one returned flag. Unknown letters are skipped, so a newer
// server's extra flags do not break the decoder; a token that is not a
// letter, or a known flag with a bad number, is ErrMalformedReply.
func (r *Reply) flag(tok []byte) error {
	c, v := tok[0], tok[1:]
	ok := true
	switch {
	case c == 'f':
		var f uint64
		f, ok = parseUint(v, 1<<32-1)
		r.Flags = uint32(f)
		r.Has |= HasFlags
	case c == 'c':
		r.CAS, ok = parseUint(v, 1<<64-1)
		r.Has |= HasCAS
	case c == 't':
		r.TTL, ok = parseInt(v)
		r.Has |= HasTTL
	case c == 's':
		r.Size, ok = parseUint(v, 1<<64-1)
		r.Has |= HasSize
	case c == 'l':
		r.LastAccess, ok = parseUint(v, 1<<64-1)
		r.Has |= HasLastAccess
	case c == 'h':
		ok = len(v) == 1 && (v[0] == '0' || v[0] == '1')
		r.HitBefore = ok && v[0] == '1'
		r.Has |= HasHitBefore
	case c == 'O':
		ok = len(v) > 0
		r.Opaque = v
	case c == 'W':
		r.Win, ok = true, len(v) == 0
	case c == 'X':
		r.Stale, ok = true, len(v) == 0
	case c == 'Z':
		r.WinTaken, ok = true, len(v) == 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		// k, b and flags of later versions: nothing we use.
	default:
		ok = false
	}
	if !ok {
		return ErrMalformedReply
	}
	return nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseUint parses a non-empty decimal number not above max.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if d > max || v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseInt parses a decimal int64 with an optional leading minus.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := parseUint(b, 1<<63)
	if !ok || (!neg && v == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}
