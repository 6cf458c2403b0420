package httpparse

// Limits bounds everything a peer controls. The zero value, and a nil *Limits,
// mean the documented defaults; a Limits is read-only once in use and may be
// shared by any number of goroutines.
type Limits struct {
	// MaxHeaderBytes bounds the request head: leading empty lines, the request
	// line and the header block including every CRLF and the blank line.
	// Separately it bounds a chunked body's trailer section. Zero or negative
	// means 16384. Exceeding it is ErrHeaderTooLarge (431).
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header fields (and, separately, of
	// trailer fields). Zero or negative means 100; values above MaxHeadersCap
	// are clamped to it. Exceeding it is ErrTooManyHeaders (431).
	MaxHeaders int
	// MaxBodyBytes bounds the decoded request body, whether framed by
	// Content-Length or chunked. Zero or negative means 10 MiB. Exceeding it is
	// ErrBodyTooLarge (413).
	MaxBodyBytes int64
}

// MaxHeadersCap is the size of the fixed header array inside Request, and so
// the largest effective Limits.MaxHeaders.
const MaxHeadersCap = 128

// MaxMethodLen bounds the request method. Registered methods are at most 17
// bytes ("UPDATEREDIRECTREF"); a longer one is ErrRequestLine (400).
const MaxMethodLen = 32

// MaxChunkLine bounds one chunk-size line of a chunked body, extensions and
// CRLF included. A longer one is ErrChunk (400).
const MaxChunkLine = 4096

// The defaults Limits' zero fields stand for.
const (
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxHeaders     = 100
	DefaultMaxBodyBytes   = 10 << 20
)

func (l *Limits) headerBytes() int {
	if l == nil || l.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return l.MaxHeaderBytes
}

func (l *Limits) headers() int {
	if l == nil || l.MaxHeaders <= 0 {
		return DefaultMaxHeaders
	}
	return min(l.MaxHeaders, MaxHeadersCap)
}

func (l *Limits) bodyBytes() int64 {
	if l == nil || l.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return l.MaxBodyBytes
}
