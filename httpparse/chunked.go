package httpparse

// ChunkedDecoder decodes a chunked request body incrementally. One per
// connection; not safe for concurrent use.
type ChunkedDecoder struct {
	state    int
	left     int64 // data bytes left in the current chunk
	total    int64
	trailer  int
	maxBody  int64
	maxTrail int
}

const (
	stSize = iota
	stData
	stDataCRLF
	stTrailer
	stDone
	maxChunkLine = 4096
)

// Reset prepares d for a new body under lim.
func (d *ChunkedDecoder) Reset(lim *Limits) {
	*d = ChunkedDecoder{maxBody: lim.bodyBytes(), maxTrail: lim.headerBytes()}
}

// Decode consumes chunked framing from src, appending body bytes to dst. An
// incomplete line at the end of src is left unconsumed; done is true once the
// last chunk and trailers are consumed, n then stopping at the message's end.
func (d *ChunkedDecoder) Decode(dst, src []byte) ([]byte, int, bool, error) {
	n := 0
	for n < len(src) || d.state == stDone {
		switch d.state {
		case stDone:
			return dst, n, true, nil
		case stSize:
			end, err := lineEnd(src[n:], maxChunkLine)
			if err != nil {
				return dst, n, false, err
			}
			if end < 0 {
				return dst, n, false, nil
			}
			size, ok := parseChunkSize(src[n : n+end])
			if !ok {
				return dst, n, false, ErrChunk
			}
			n += end + 2
			if size == 0 {
				d.state = stTrailer
				continue
			}
			if d.total+size > d.maxBody {
				return dst, n, false, ErrBodyTooLarge
			}
			d.left, d.state = size, stData
		case stData:
			k := int64(len(src) - n)
			if k > d.left {
				k = d.left
			}
			dst = append(dst, src[n:n+int(k)]...)
			n += int(k)
			d.left -= k
			d.total += k
			if d.left == 0 {
				d.state = stDataCRLF
			}
		case stDataCRLF:
			if len(src)-n < 2 {
				if src[n] != '\r' {
					return dst, n, false, ErrChunk
				}
				return dst, n, false, nil
			}
			if src[n] != '\r' || src[n+1] != '\n' {
				return dst, n, false, ErrChunk
			}
			n += 2
			d.state = stSize
		case stTrailer:
			end, err := lineEnd(src[n:], d.maxTrail-d.trailer)
			if err != nil {
				if err == ErrChunk {
					return dst, n, false, ErrHeaderSyntax
				}
				return dst, n, false, err
			}
			if end < 0 {
				return dst, n, false, nil
			}
			line := src[n : n+end]
			d.trailer += end + 2
			n += end + 2
			if end == 0 {
				d.state = stDone
				continue
			}
			if !validTrailer(line) {
				return dst, n, false, ErrHeaderSyntax
			}
		}
	}
	return dst, n, false, nil
}

// lineEnd finds the CRLF in b: its index, -1 if more is needed, or an error
// for bare CR/LF or a line past limit.
func lineEnd(b []byte, limit int) (int, error) {
	for i := 0; i < len(b); i++ {
		if i >= limit {
			return 0, ErrHeaderTooLarge
		}
		switch b[i] {
		case '\r':
			if i+1 == len(b) {
				return -1, nil
			}
			if b[i+1] != '\n' {
				return 0, ErrChunk
			}
			return i, nil
		case '\n':
			return 0, ErrChunk
		}
	}
	if len(b) >= limit {
		return 0, ErrHeaderTooLarge
	}
	return -1, nil
}

// parseChunkSize parses "hex[;ext]" (extensions ignored, bounded by the line limit).
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		if digits == 15 {
			return 0, false
		}
		n = n<<4 | int64(v)
		digits++
	}
ext:
	if digits == 0 {
		return 0, false
	}
	rest := trim(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	for _, c := range rest {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return 0, false
		}
	}
	return n, true
}

func validTrailer(line []byte) bool {
	colon := indexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if !tokenTable[c] {
			return false
		}
	}
	for _, c := range line[colon+1:] {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
