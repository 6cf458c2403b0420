package pagerecord

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

// bodies are the payloads compression is tested with.
func bodies() map[string][]byte {
	return map[string][]byte{
		"empty":         {},
		"one byte":      {0},
		"html 10 KB":    testHTML(10 << 10),
		"binary 70000":  randomBytes(70000, 4),
		"binary 3 MB":   randomBytes(3000000, 5),
		"zeros 1 MB":    make([]byte, 1<<20),
		"html 3 MB":     testHTML(3 << 20),
		"crlf and NULs": []byte("\r\n\x00\r\n\x00\xff\xfe"),
	}
}

func TestAppendGzipRoundTrip(t *testing.T) {
	for name, body := range bodies() {
		t.Run(name, func(t *testing.T) {
			gz := AppendGzip([]byte("keep"), body)
			if string(gz[:4]) != "keep" {
				t.Fatal("dst prefix overwritten")
			}
			gz = gz[4:]
			// An independent decoder (the standard library) reads it.
			zr, err := stdgzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatalf("stdlib gzip header: %v", err)
			}
			std, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(std, body) {
				t.Fatalf("stdlib decode: err %v, equal %v", err, bytes.Equal(std, body))
			}
			if zr.Name != "" || !zr.ModTime.IsZero() {
				t.Fatalf("header carries name %q / mtime %v", zr.Name, zr.ModTime)
			}
			// And so does ours, byte-exact.
			got, err := AppendDecoded([]byte("x"), gz, Gzip, len(body))
			if err != nil || string(got[:1]) != "x" || !bytes.Equal(got[1:], body) {
				t.Fatalf("AppendDecoded: err %v, equal %v", err, bytes.Equal(got[1:], body))
			}
			if again := AppendGzip(nil, body); !bytes.Equal(again, gz) {
				t.Fatal("compressing the same body twice gave different bytes")
			}
		})
	}
}

func TestAppendGzipShrinksHTML(t *testing.T) {
	page := testHTML(10 << 10)
	if gz := AppendGzip(nil, page); len(gz) > len(page)/2 {
		t.Fatalf("10 KB page compressed to %d bytes, want under half", len(gz))
	}
}

// encoders produce each coding with an implementation independent of the
// decoder under test.
var encoders = map[Encoding]func(t testing.TB, b []byte) []byte{
	Identity: func(_ testing.TB, b []byte) []byte { return bytes.Clone(b) },
	Gzip: func(t testing.TB, b []byte) []byte {
		var buf bytes.Buffer
		w := stdgzip.NewWriter(&buf)
		mustWrite(t, w, b)
		return buf.Bytes()
	},
	Deflate: func(t testing.TB, b []byte) []byte { // zlib, as RFC 9110 means it
		var buf bytes.Buffer
		w := stdzlib.NewWriter(&buf)
		mustWrite(t, w, b)
		return buf.Bytes()
	},
	Brotli: func(t testing.TB, b []byte) []byte {
		out, err := brrr.Compress(b, 5)
		if err != nil {
			t.Fatal(err)
		}
		return out
	},
	Zstd: func(t testing.TB, b []byte) []byte {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		return e.EncodeAll(b, nil)
	},
}

// rawDeflate is what some servers send as "deflate".
func rawDeflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := stdflate.NewWriter(&buf, 6)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, b)
	return buf.Bytes()
}

func mustWrite(t testing.TB, w io.WriteCloser, b []byte) {
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendDecodedAllCodings(t *testing.T) {
	for enc, encode := range encoders {
		for name, body := range bodies() {
			// The multi-megabyte bodies are covered by the gzip round trip;
			// encoding them five ways makes -race runs slow.
			if len(body) == 0 || len(body) > 2<<20 {
				continue
			}
			t.Run(enc.String()+"/"+name, func(t *testing.T) {
				in := encode(t, body)
				got, err := AppendDecoded([]byte("p"), in, enc, len(body))
				if err != nil || string(got[:1]) != "p" || !bytes.Equal(got[1:], body) {
					t.Fatalf("err %v, decoded %d bytes, want %d", err, len(got)-1, len(body))
				}
				// One byte less room than needed is refused.
				if _, err := AppendDecoded(nil, in, enc, len(body)-1); err != ErrTooLarge {
					t.Fatalf("maxOut len-1: err %v, want ErrTooLarge", err)
				}
			})
		}
	}
	body := testHTML(20000)
	got, err := AppendDecoded(nil, rawDeflate(t, body), Deflate, len(body))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("raw deflate: err %v", err)
	}
}

func TestAppendDecodedEmptyAndUnknown(t *testing.T) {
	for enc := Identity; enc <= Zstd; enc++ {
		got, err := AppendDecoded([]byte("d"), nil, enc, 0)
		if err != nil || string(got) != "d" {
			t.Errorf("%v: empty body gave %q, %v", enc, got, err)
		}
	}
	if _, err := AppendDecoded(nil, []byte("x"), Zstd+1, 10); err != ErrUnknownEncoding {
		t.Errorf("unknown coding: err %v", err)
	}
	if _, err := AppendDecoded(nil, []byte("x"), Identity, -1); err != ErrTooLarge {
		t.Errorf("negative maxOut: err %v", err)
	}
}

func TestAppendDecodedCorrupt(t *testing.T) {
	body := testHTML(30000)
	for enc, encode := range encoders {
		if enc == Identity {
			continue
		}
		good := encode(t, body)
		mid := bytes.Clone(good)
		for i := len(mid) / 3; i < len(mid)/3+16; i++ {
			mid[i] ^= 0x5a
		}
		cases := map[string][]byte{
			"garbage":          []byte("this is not compressed at all, not even a little"),
			"truncated half":   good[:len(good)/2],
			"truncated by one": good[:len(good)-1],
			"flipped middle":   mid,
			"trailing garbage": append(bytes.Clone(good), "GARBAGE"...),
		}
		for name, in := range cases {
			t.Run(enc.String()+"/"+name, func(t *testing.T) {
				out, err := AppendDecoded([]byte("keep"), in, enc, 1<<20)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err %v, want ErrCorrupt", err)
				}
				if string(out) != "keep" {
					t.Fatalf("dst not returned unextended: %q", out)
				}
			})
		}
	}
	// A gzip CRC mismatch: flip a bit of the stored CRC32.
	gz := AppendGzip(nil, body)
	gz[len(gz)-8] ^= 1
	if _, err := AppendDecoded(nil, gz, Gzip, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad CRC: err %v", err)
	}
}

// TestAppendDecodedBomb: a small body that inflates to far more than maxOut is
// refused after about maxOut bytes of work and memory.
func TestAppendDecodedBomb(t *testing.T) {
	const inflated = 8 << 20
	const maxOut = 256 << 10
	for enc, encode := range encoders {
		if enc == Identity {
			continue
		}
		t.Run(enc.String(), func(t *testing.T) {
			var bomb []byte
			if enc == Gzip {
				bomb = AppendGzip(nil, make([]byte, inflated))
			} else {
				bomb = encode(t, make([]byte, inflated))
			}
			if len(bomb) > inflated/256 {
				t.Fatalf("bomb is %d bytes; not a bomb", len(bomb))
			}
			out, err := AppendDecoded(nil, bomb, enc, maxOut)
			if err != ErrTooLarge || len(out) != 0 {
				t.Fatalf("err %v, out %d bytes; want ErrTooLarge", err, len(out))
			}
		})
	}
	// A lying ISIZE trailer (claims 4 GiB) must not make us preallocate it.
	gz := AppendGzip(nil, []byte("small"))
	copy(gz[len(gz)-4:], []byte{0xff, 0xff, 0xff, 0xff})
	// The hint is bounded by maxDeflateRatio × the body's size.
	out, err := AppendDecoded(nil, gz, Gzip, 1<<40)
	if !errors.Is(err, ErrCorrupt) || cap(out) > len(gz)*maxDeflateRatio+1 {
		t.Fatalf("lying ISIZE: err %v, cap %d", err, cap(out))
	}
}

func TestAppendDecodedConcurrent(t *testing.T) {
	body := testHTML(20000)
	inputs := map[Encoding][]byte{}
	for enc, encode := range encoders {
		inputs[enc] = encode(t, body)
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				for enc, in := range inputs {
					out, derr := AppendDecoded(nil, in, enc, len(body))
					if derr != nil || !bytes.Equal(out, body) {
						err = errors.Join(errors.New(enc.String()), derr)
					}
				}
				if gz := AppendGzip(nil, body); len(gz) == 0 {
					err = errors.New("empty gzip")
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestAppendDecodedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops entries at random under the race detector")
	}
	body := testHTML(10 << 10)
	gz := AppendGzip(nil, body)
	dst := make([]byte, 0, len(body)+1)
	// Warm the pool, then decode into a buffer with room: the pooled decoder
	// should need no new memory.
	_, _ = AppendDecoded(dst, gz, Gzip, len(body))
	n := testing.AllocsPerRun(50, func() {
		out, err := AppendDecoded(dst[:0], gz, Gzip, len(body))
		if err != nil || len(out) != len(body) {
			t.Fatal(err)
		}
	})
	// sync.Pool may drop the decoder at a GC (the race detector does so at
	// random), so allow an occasional re-creation, but not per-call garbage.
	if n > 1 {
		t.Errorf("gzip AppendDecoded allocates %v times per call", n)
	}
}

// TestDecodedSize: DecodedSize agrees with AppendDecoded on every coding and
// body, including the limits, and refuses what AppendDecoded refuses.
func TestDecodedSize(t *testing.T) {
	for enc, encode := range encoders {
		for name, body := range bodies() {
			if len(body) > 2<<20 {
				continue // see TestAppendDecodedAllCodings
			}
			t.Run(enc.String()+"/"+name, func(t *testing.T) {
				in := encode(t, body)
				if n, err := DecodedSize(in, enc, len(body)); err != nil || n != len(body) {
					t.Fatalf("DecodedSize = %d, %v; want %d", n, err, len(body))
				}
				if len(body) > 0 {
					if _, err := DecodedSize(in, enc, len(body)-1); err != ErrTooLarge {
						t.Fatalf("maxOut len-1: err %v, want ErrTooLarge", err)
					}
				}
			})
		}
	}
	if _, err := DecodedSize([]byte("x"), Zstd+1, 10); err != ErrUnknownEncoding {
		t.Errorf("unknown coding: err %v", err)
	}
	good := AppendGzip(nil, testHTML(30000))
	if _, err := DecodedSize(good[:len(good)/2], Gzip, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: err %v, want ErrCorrupt", err)
	}
	if _, err := DecodedSize(append(bytes.Clone(good), 'x'), Gzip, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: err %v, want ErrCorrupt", err)
	}
}

// TestDecodedSizeBomb: counting a bomb stops just past maxOut and allocates
// nothing like its size (it is not kept).
func TestDecodedSizeBomb(t *testing.T) {
	bomb := AppendGzip(nil, make([]byte, 64<<20))
	// Two members: the trailer names only the last (empty) one, so it is no
	// shortcut here; the decoder must stop on its own.
	bomb = append(bomb, AppendGzip(nil, nil)...)
	if n, ok := GzipTrailerSize(bomb); !ok || n != 0 {
		t.Fatalf("trailer %d %v, want 0 true", n, ok)
	}
	if n, err := DecodedSize(bomb, Gzip, 100<<20); err != nil || n != 64<<20 {
		t.Fatalf("whole bomb: %d, %v", n, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodedSize(bomb, Gzip, 1<<20)
	runtime.ReadMemStats(&after)
	if err != ErrTooLarge {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("counting allocated %d bytes", grew)
	}
}

func TestGzipTrailerSize(t *testing.T) {
	body := testHTML(70000)
	if n, ok := GzipTrailerSize(AppendGzip(nil, body)); !ok || n != len(body) {
		t.Fatalf("trailer %d %v, want %d", n, ok, len(body))
	}
	if _, ok := GzipTrailerSize(make([]byte, 17)); ok {
		t.Fatal("17 bytes cannot be a gzip stream")
	}
}

// FuzzDecodedSize: counting agrees with decoding on arbitrary input.
func FuzzDecodedSize(f *testing.F) {
	f.Add(AppendGzip(nil, []byte("hello hello hello")), uint8(Gzip))
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, uint8(Deflate))
	f.Add([]byte{0x0b, 0x02, 0x80, 'h', 'i', 0x03}, uint8(Brotli))
	f.Fuzz(func(t *testing.T, body []byte, enc uint8) {
		const maxOut = 64 << 10
		e := Encoding(enc % uint8(numEncodings+1))
		out, err1 := AppendDecoded(nil, body, e, maxOut)
		n, err2 := DecodedSize(body, e, maxOut)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && n != len(out)) {
			t.Fatalf("AppendDecoded %d, %v; DecodedSize %d, %v", len(out), err1, n, err2)
		}
	})
}
