package pagerecord

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

// gzipLevel is the level AppendGzip compresses at. Pages are compressed once
// per fill (on an upstream worker) and served many times, so ratio matters
// more than for on-the-fly compression, but the fill is on the path of the
// request that missed. Measured on 10 KB of HTML (BenchmarkGzipLevels on the
// synthetic page; go_spec.html slices as a check), 2-core VM:
//
//	level  synthetic page       go_spec.html 10 KB
//	1      3295 B  23 µs        4007-4052 B
//	3      3172 B  27 µs        3817-3880 B
//	5      3088 B  35 µs        3626-3681 B
//	6      3073 B  37 µs        3607-3670 B
//	7      3016 B  78 µs        3545-3580 B
//	9      3007 B  120 µs       3514-3573 B
//
// Level 5 is within 3 % of level 9's size at under a third of its time, and
// 6-10 % smaller than level 1 for about 1.5× its time; 7 and up double the
// cost for 1-2 %.
const gzipLevel = 5

// sliceWriter appends everything written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzipEnc is a pooled gzip writer with its output sink, so AppendGzip does
// not allocate either per call.
type gzipEnc struct {
	sink sliceWriter
	zw   *gzip.Writer
}

var gzipEncPool = sync.Pool{New: func() any {
	e := &gzipEnc{}
	zw, err := gzip.NewWriterLevel(&e.sink, gzipLevel)
	if err != nil {
		panic(err) // gzipLevel is a valid constant
	}
	e.zw = zw
	return e
}}

// AppendGzip appends body compressed as a single gzip member (no name, mtime
// 0, so equal bodies give equal bytes) to dst and returns the extended slice.
// Safe from any goroutine; body is not retained. Compressing a page costs
// CPU proportional to its size (see BenchmarkAppendGzip), so callers run it off
// the event loops.
func AppendGzip(dst, body []byte) []byte {
	e := gzipEncPool.Get().(*gzipEnc)
	e.sink.b = dst
	e.zw.Reset(&e.sink)
	// Writes to a sliceWriter cannot fail, so neither can the gzip writer.
	_, _ = e.zw.Write(body)
	_ = e.zw.Close()
	dst = e.sink.b
	e.sink.b = nil // do not keep the caller's buffer alive in the pool
	gzipEncPool.Put(e)
	return dst
}

// Pooled decoders, each with the bytes.Reader it reads from, so that the pool
// never keeps a caller's body alive (the reader is reset to nil after use).

type gzipDec struct {
	src bytes.Reader
	zr  gzip.Reader
}

type flateDec struct {
	src bytes.Reader
	fr  io.ReadCloser // flate.Resetter
	zr  io.ReadCloser // zlib.Resetter; nil until the first zlib stream
}

type brDec struct {
	src bytes.Reader
	br  *brrr.Reader
}

type zstdDec struct {
	src bytes.Reader
	zr  *zstd.Decoder
}

// zstdMaxWindow bounds the window a zstd stream may ask for: 8 MiB is what
// RFC 8878 §3.1.1.1.2 / RFC 9659 require HTTP decoders to support, and it
// keeps a hostile stream from making the decoder allocate its 512 MiB default.
const zstdMaxWindow = 8 << 20

var (
	gzipDecPool  = sync.Pool{New: func() any { return &gzipDec{} }}
	flateDecPool = sync.Pool{New: func() any {
		d := &flateDec{}
		d.fr = flate.NewReader(&d.src)
		return d
	}}
	brDecPool = sync.Pool{New: func() any {
		d := &brDec{}
		d.br = brrr.NewReader(&d.src)
		return d
	}}
	zstdDecPool = sync.Pool{New: func() any {
		d := &zstdDec{}
		// Concurrency 1 decodes streams synchronously, without goroutines, so
		// a decoder dropped by the pool needs no Close.
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			panic(err) // constant, valid options
		}
		d.zr = zr
		return d
	}}
)

// AppendDecoded appends body decoded from coding enc to dst and returns the
// extended slice. It fails with ErrTooLarge once the decoded bytes would exceed
// maxOut (maxOut < 0 counts as 0), with ErrCorrupt (wrapped) when body is not
// one complete valid stream of that coding or bytes follow the stream, and
// with ErrUnknownEncoding for an enc outside the constants. On error it
// returns dst unextended (its spare capacity may have been written). Identity
// is copied as is. An empty body decodes to nothing in every coding: it is
// what a 204 or a HEAD-derived record carries, whatever its Content-Encoding.
// Deflate accepts both zlib streams (what RFC 9110 means) and raw deflate
// (what some servers send). Safe from any goroutine; body is not retained.
func AppendDecoded(dst, body []byte, enc Encoding, maxOut int) ([]byte, error) {
	o := decodeOut{dst: dst, start: len(dst)}
	if err := decode(&o, body, enc, maxOut); err != nil {
		return dst, err
	}
	return o.dst, nil
}

// DecodedSize returns the number of bytes body decodes to from coding enc,
// without keeping them: the decoder's output goes through a small scratch
// buffer, so a gzip bomb costs the decoder's window, not its size. Errors are
// AppendDecoded's: ErrTooLarge as soon as more than maxOut bytes come out,
// ErrCorrupt (wrapped), ErrUnknownEncoding. Safe from any goroutine; body is
// not retained.
func DecodedSize(body []byte, enc Encoding, maxOut int) (int, error) {
	o := decodeOut{count: true}
	if err := decode(&o, body, enc, maxOut); err != nil {
		return 0, err
	}
	return o.n, nil
}

// GzipTrailerSize returns the ISIZE field of a gzip body (RFC 1952 §2.3.1):
// the decoded size, modulo 2^32, of its last member. It is a hint, never a
// bound: a valid body decodes to at least that many bytes (more when it has
// several members or inflates past 4 GiB), and a body whose trailer lies is
// rejected as corrupt by the decoder, which checks ISIZE. ok is false when
// body is too short to be a gzip stream.
func GzipTrailerSize(body []byte) (n int, ok bool) {
	if len(body) < 18 {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(body[len(body)-4:])), true
}

// decodeOut is where a decoder's output goes: appended to dst, or with count
// only counted (n).
type decodeOut struct {
	dst   []byte
	start int // len(dst) before decoding
	count bool
	n     int
	hint  int // expected output size, when positive (append mode)
}

// produced is the number of bytes decoded so far.
func (o *decodeOut) produced() int {
	if o.count {
		return o.n
	}
	return len(o.dst) - o.start
}

func decode(o *decodeOut, body []byte, enc Encoding, maxOut int) error {
	if maxOut < 0 {
		maxOut = 0
	}
	if !enc.valid() {
		return ErrUnknownEncoding
	}
	if len(body) == 0 {
		return nil
	}
	switch enc {
	case Identity:
		if len(body) > maxOut {
			return ErrTooLarge
		}
		if o.count {
			o.n = len(body)
		} else {
			o.dst = append(o.dst, body...)
		}
		return nil
	case Gzip:
		return decodeGzip(o, body, maxOut)
	case Deflate:
		return decodeDeflate(o, body, maxOut)
	case Brotli:
		return decodeBrotli(o, body, maxOut)
	default:
		return decodeZstd(o, body, maxOut)
	}
}

// maxDeflateRatio is deflate's largest possible expansion (258-byte matches
// coded in about 2 bits), used to keep a lying gzip size trailer from making
// decodeGzip preallocate more than the body could decode to.
const maxDeflateRatio = 1032

func decodeGzip(o *decodeOut, body []byte, maxOut int) error {
	d := gzipDecPool.Get().(*gzipDec)
	defer func() {
		d.src.Reset(nil)
		gzipDecPool.Put(d)
	}()
	d.src.Reset(body)
	if err := d.zr.Reset(&d.src); err != nil {
		return corrupt(err)
	}
	// The trailer's ISIZE is the decoded size mod 2^32 of the last member: a
	// good hint for the usual single member, bounded so that it cannot be used
	// to make us allocate much more than the body can produce.
	if isize, ok := GzipTrailerSize(body); ok {
		o.hint = min(isize, maxOut, len(body)*maxDeflateRatio)
	}
	return o.drain(&d.zr, &d.src, maxOut)
}

func decodeDeflate(o *decodeOut, body []byte, maxOut int) error {
	d := flateDecPool.Get().(*flateDec)
	defer func() {
		d.src.Reset(nil)
		flateDecPool.Put(d)
	}()
	d.src.Reset(body)
	var r io.Reader
	if isZlibHeader(body) {
		if d.zr == nil {
			zr, err := zlib.NewReader(&d.src)
			if err != nil {
				return corrupt(err)
			}
			d.zr = zr
		} else if err := d.zr.(zlib.Resetter).Reset(&d.src, nil); err != nil {
			return corrupt(err)
		}
		r = d.zr
	} else {
		if err := d.fr.(flate.Resetter).Reset(&d.src, nil); err != nil {
			return corrupt(err)
		}
		r = d.fr
	}
	return o.drain(r, &d.src, maxOut)
}

// isZlibHeader reports whether b starts with a zlib header (RFC 1950 §2.2):
// method 8 (deflate), window ≤ 32 KiB, check bits valid, no preset
// dictionary. A raw deflate stream fails this test except by coincidence;
// then the zlib reader reports corruption, as a browser would.
func isZlibHeader(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	cmf, flg := b[0], b[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0 && flg&0x20 == 0
}

// poolMaxOut: brotli and zstd decoders keep history buffers as large as the
// stream's window (up to 16 MiB for brotli, zstdMaxWindow for zstd). One that
// has produced more than this is dropped rather than pooled, so a few large
// or hostile streams cannot pin GOMAXPROCS × 16 MiB until the next GC.
const poolMaxOut = 1 << 20

func decodeBrotli(o *decodeOut, body []byte, maxOut int) error {
	d := brDecPool.Get().(*brDec)
	d.src.Reset(body)
	d.br.Reset(&d.src)
	err := o.drain(d.br, &d.src, maxOut)
	d.src.Reset(nil)
	if err == nil && o.produced() <= poolMaxOut {
		brDecPool.Put(d)
	}
	return err
}

func decodeZstd(o *decodeOut, body []byte, maxOut int) error {
	d := zstdDecPool.Get().(*zstdDec)
	d.src.Reset(body)
	if err := d.zr.Reset(&d.src); err != nil {
		d.src.Reset(nil)
		return corrupt(err)
	}
	err := o.drain(d.zr, &d.src, maxOut)
	d.src.Reset(nil)
	if err == nil && o.produced() <= poolMaxOut {
		_ = d.zr.Reset(nil) // drop the decoder's reference to src
		zstdDecPool.Put(d)
	}
	return err
}

// countScratch is where DecodedSize's decoders write what they produce.
var countScratch = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// drain reads r to EOF into o, failing once more than maxOut bytes come out
// or when src (r's input) still holds bytes after the stream ended. On error
// o.dst may have been extended: callers return their original dst.
func (o *decodeOut) drain(r io.Reader, src *bytes.Reader, maxOut int) error {
	var scratch *[]byte
	if o.count {
		scratch = countScratch.Get().(*[]byte)
		defer countScratch.Put(scratch)
	} else if hint := o.hint; hint > 0 && cap(o.dst)-len(o.dst) < hint {
		nd := make([]byte, len(o.dst), len(o.dst)+hint+1) // +1: room to probe for EOF without growing
		copy(nd, o.dst)
		o.dst = nd
	}
	stalls := 0
	for {
		// Read at most one byte past maxOut: enough to tell "exactly maxOut" from "more".
		left := maxOut - o.produced() + 1
		var n int
		var err error
		if o.count {
			n, err = r.Read((*scratch)[:min(len(*scratch), left)])
			o.n += n
		} else {
			if len(o.dst) == cap(o.dst) {
				o.dst = append(o.dst, 0)[:len(o.dst)]
			}
			room := min(cap(o.dst)-len(o.dst), left)
			n, err = r.Read(o.dst[len(o.dst) : len(o.dst)+room])
			o.dst = o.dst[:len(o.dst)+n]
		}
		if o.produced() > maxOut {
			return ErrTooLarge
		}
		switch {
		case err == io.EOF:
			if src.Len() > 0 {
				return fmt.Errorf("%w: %d bytes after the end of the stream", ErrCorrupt, src.Len())
			}
			return nil
		case err != nil:
			return corrupt(err)
		case n == 0:
			// The buffer offered ≥ 1 byte, so a decoder returning nothing and
			// no error repeatedly is stuck; do not spin on it.
			if stalls++; stalls >= 100 {
				return corrupt(io.ErrNoProgress)
			}
		default:
			stalls = 0
		}
	}
}

// corrupt wraps a decoder error in ErrCorrupt. A premature EOF from the
// source means a truncated stream.
func corrupt(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}
