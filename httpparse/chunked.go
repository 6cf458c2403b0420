package httpparse

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1)
// incrementally, as bytes arrive. Chunk extensions are checked against the
// grammar and discarded; trailer fields are checked like header fields,
// bounded by Limits.MaxHeaderBytes and Limits.MaxHeaders, and discarded.
//
// One decoder serves one body at a time; it belongs to the goroutine that
// owns the connection and is not safe for concurrent use. The zero value is
// ready for a body under the default Limits; Reset prepares it for the next.
type ChunkedDecoder struct {
	state      uint8
	ready      bool  // Reset has run (the zero value resets itself on first use)
	left       int64 // data bytes of the current chunk still to come
	body       int64 // decoded bytes so far
	excess     int64 // framing overhead not justified by data (see sizeLine)
	trailer    int   // trailer-section bytes consumed so far
	trailers   int   // trailer fields seen so far
	maxBody    int64
	maxTrailer int
	maxFields  int
	err        error // sticky: once framing is broken nothing after it is trusted
}

const (
	stSize    uint8 = iota // expecting a chunk-size line
	stData                 // inside chunk data
	stDataEnd              // expecting the CRLF after chunk data
	stTrailer              // expecting a trailer field line or the final CRLF
	stDone                 // message complete
)

// maxExcess bounds framing overhead, as net/http does: each chunk may carry
// 16 bytes of size line and CRLF, plus twice its data, for free; beyond that
// at most 16 KiB in total. Without it 1-byte chunks with 4 KiB extensions
// would make a peer's body cost 4000 times its size to read.
const maxExcess = 16 << 10

// Reset prepares d for a new body under lim (nil for the defaults).
func (d *ChunkedDecoder) Reset(lim *Limits) {
	*d = ChunkedDecoder{
		ready:      true,
		maxBody:    lim.bodyBytes(),
		maxTrailer: lim.headerBytes(),
		maxFields:  lim.headers(),
	}
}

// Decode consumes chunked framing from src and appends the body bytes to dst.
// It returns the extended dst, the number of src bytes consumed, and
// done=true once the last chunk and the trailer section have been consumed;
// n then stops exactly at the end of the message, so a pipelined next
// request in src[n:] is untouched.
//
// Chunk data is passed on as soon as it arrives, but an incomplete line
// (chunk-size line, the CRLF after data, a trailer line) at the end of src is
// left unconsumed (n < len(src), err == nil): the caller keeps src[n:] and
// calls again with those bytes followed by more. A chunk-size line over
// MaxChunkLine, or any framing error, is ErrChunk (400) or ErrLineEnding
// (400); a bad trailer line ErrHeaderSyntax (400); a trailer section over
// the header limits ErrHeaderTooLarge or ErrTooManyHeaders (431); a body
// over MaxBodyBytes ErrBodyTooLarge (413). Errors are sticky: later calls
// return the same error and consume nothing. After done, calls consume
// nothing and report done until Reset.
//
// Decode allocates only when dst must grow. It keeps no reference to src or
// dst.
func (d *ChunkedDecoder) Decode(dst, src []byte) (out []byte, n int, done bool, err error) {
	if !d.ready {
		d.Reset(nil)
	}
	if d.err != nil {
		return dst, 0, false, d.err
	}
	for {
		switch d.state {
		case stDone:
			return dst, n, true, nil
		case stSize:
			line, next, err := chunkLine(src[n:], MaxChunkLine, ErrChunk)
			if err != nil || next == 0 {
				return dst, n, false, d.fail(err)
			}
			size, err := d.sizeLine(line)
			if err != nil {
				return dst, n, false, d.fail(err)
			}
			n += next
			if size == 0 {
				d.state = stTrailer
			} else {
				d.left, d.state = size, stData
			}
		case stData:
			if n == len(src) {
				return dst, n, false, nil
			}
			k := min(int64(len(src)-n), d.left)
			dst = append(dst, src[n:n+int(k)]...)
			n += int(k)
			d.left -= k
			d.body += k
			if d.left == 0 {
				d.state = stDataEnd
			}
		case stDataEnd:
			rest := src[n:]
			if len(rest) > 0 && rest[0] != '\r' || len(rest) > 1 && rest[1] != '\n' {
				return dst, n, false, d.fail(ErrChunk)
			}
			if len(rest) < 2 {
				return dst, n, false, nil
			}
			n += 2
			d.state = stSize
		case stTrailer:
			line, next, err := chunkLine(src[n:], d.maxTrailer-d.trailer, ErrHeaderTooLarge)
			if err != nil || next == 0 {
				return dst, n, false, d.fail(err)
			}
			if len(line) == 0 {
				n += next
				d.state = stDone
				continue
			}
			if d.trailers == d.maxFields {
				return dst, n, false, d.fail(ErrTooManyHeaders)
			}
			if _, _, err := parseFieldLine(line); err != nil {
				return dst, n, false, d.fail(lineError(line, err))
			}
			n += next
			d.trailer += next
			d.trailers++
		}
	}
}

// fail records err (when not nil) so that later calls return it too.
func (d *ChunkedDecoder) fail(err error) error {
	if err != nil {
		d.err = err
	}
	return err
}

// chunkLine finds the CRLF-terminated line at the start of b, which with its
// CRLF must fit in limit bytes. It returns the line without CRLF and the
// bytes it spans; next == 0 with a nil error means the line is incomplete.
// tooLong is the error for a line that cannot fit.
func chunkLine(b []byte, limit int, tooLong error) (line []byte, next int, err error) {
	look := b
	if len(look) >= limit {
		look = look[:limit]
	}
	i := bytes.IndexByte(look, '\n')
	if i < 0 {
		if len(b) >= limit {
			return nil, 0, tooLong
		}
		return nil, 0, nil
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, 0, ErrLineEnding // bare LF: errata 7633 keeps CRLF strict here
	}
	return b[:i-1], i + 1, nil
}

// sizeLine parses chunk-size [chunk-ext] (RFC 9112 §7.1.1), charges its
// overhead and checks the body limit.
func (d *ChunkedDecoder) sizeLine(line []byte) (int64, error) {
	i := 0
	var size int64
	overflow := false
	for i < len(line) && class[line[i]]&cHex != 0 {
		if size > d.maxBody || size >= 1<<59 { // keep checking the syntax, stop growing
			overflow = true
		} else {
			size = size<<4 | int64(unhex(line[i]))
		}
		i++
	}
	if i == 0 || !validChunkExt(line[i:]) {
		return 0, lineError(line, ErrChunk)
	}
	d.excess += int64(len(line)) + 2 // the line's CRLF stands for the one after the data
	// Crediting more than the debt can ever reach changes nothing, and the cap
	// keeps 2*size from overflowing.
	d.excess = max(d.excess-16-2*min(size, 1<<20), 0)
	if d.excess > maxExcess {
		return 0, ErrChunk
	}
	if overflow || size > d.maxBody-d.body {
		return 0, ErrBodyTooLarge
	}
	return size, nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// validChunkExt checks *( BWS ";" BWS token [ BWS "=" BWS ( token /
// quoted-string ) ] ), and also allows trailing SP/HTAB before the CRLF, as
// net/http and nginx do: padding is harmless to framing. Each extension is
// only looked at, never kept.
func validChunkExt(b []byte) bool {
	i := 0
	skipBWS := func() {
		for i < len(b) && httpbytes.IsOWS(b[i]) {
			i++
		}
	}
	for {
		skipBWS()
		if i == len(b) {
			return true
		}
		if b[i] != ';' {
			return false
		}
		i++
		skipBWS()
		n := httpbytes.TokenLen(b[i:])
		if n == 0 {
			return false
		}
		i += n
		skipBWS()
		if i == len(b) || b[i] != '=' {
			continue
		}
		i++
		skipBWS()
		if i < len(b) && b[i] == '"' {
			n = httpbytes.QuotedStringLen(b[i:])
		} else {
			n = httpbytes.TokenLen(b[i:])
		}
		if n <= 0 {
			return false
		}
		i += n
	}
}
