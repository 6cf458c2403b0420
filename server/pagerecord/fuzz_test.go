package pagerecord

import (
	"bytes"
	"testing"
)

// FuzzDecode: Decode never panics; a record it accepts re-encodes to the same
// bytes and has a header block whose every line is a storable field with a
// clean value (so a hit writing it verbatim cannot split the response).
// Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(validRecord())
	f.Add(withHeader("A: b\r\n\r\nX: y\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if err := Decode(b, &r); err != nil {
			if r.Header != nil || r.Body != nil || r.Status != 0 {
				t.Fatal("record not zeroed on error")
			}
			return
		}
		if again := AppendRecord(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %q\nout %q", b, again)
		}
		if r.Status < 100 || r.Status > 999 || !r.Encoding.valid() || !r.OrigEncoding.valid() {
			t.Fatalf("accepted out-of-range fields %+v", fixed(r))
		}
		for block := r.Header; len(block) > 0; {
			line, rest, crlf := cutLine(block)
			name, _, ok := splitField(line)
			if !ok || !crlf {
				t.Fatalf("accepted bad line %q", line)
			}
			if r.Lookup(string(name)) == nil {
				t.Fatalf("Lookup misses present field %q", name)
			}
			block = rest
		}
		if bytes.Contains(r.Header, []byte("\r\n\r\n")) || bytes.HasPrefix(r.Header, []byte("\r\n")) {
			t.Fatal("accepted an empty line")
		}
		_ = r.Age(1700000000)
		_ = r.Fresh(1700000000)
	})
}

// FuzzMergedHeader: AppendMergedHeader never panics, always yields a block
// Decode accepts, and every valid storable field of update that no
// Connection field lists ends up in it.
func FuzzMergedHeader(f *testing.F) {
	f.Add([]byte(sampleHeader), []byte("ETag: \"new\"\r\nConnection: x\r\nX: 1\r\nContent-Length: 0\r\n"))
	f.Add([]byte("A: 1\nB: 2\r\n"), []byte("B:3\r\nb: 4\r\n"))
	f.Fuzz(func(t *testing.T, stored, update []byte) {
		got := AppendMergedHeader(nil, stored, update)
		if err := checkBlock(got); err != nil {
			t.Fatalf("merged block rejected (%v): %q", err, got)
		}
		for block := update; len(block) > 0; {
			full := block
			line, rest, crlf := cutLine(block)
			block = rest
			name, _, ok := splitField(line)
			if ok && crlf && !listedInConnection(update, name) && !bytes.Contains(got, full[:len(full)-len(rest)]) {
				t.Fatalf("update line %q lost: %q", line, got)
			}
		}
	})
}

// FuzzAppendDecoded: decoding arbitrary bytes in any coding never panics and
// never returns more than maxOut bytes.
func FuzzAppendDecoded(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, uint8(Gzip))
	f.Add(AppendGzip(nil, []byte("hello hello hello")), uint8(Gzip))
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, uint8(Deflate))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00}, uint8(Zstd))
	f.Add([]byte{0x0b, 0x02, 0x80, 'h', 'i', 0x03}, uint8(Brotli))
	f.Fuzz(func(t *testing.T, body []byte, enc uint8) {
		const maxOut = 64 << 10
		out, err := AppendDecoded(nil, body, Encoding(enc%uint8(numEncodings+1)), maxOut)
		if len(out) > maxOut {
			t.Fatalf("%d bytes out, max %d", len(out), maxOut)
		}
		if err != nil && len(out) != 0 {
			t.Fatalf("error %v with %d bytes out", err, len(out))
		}
	})
}
