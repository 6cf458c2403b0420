package pagerecord

import (
	"bytes"
	"math"
	"os"
	"testing"
)

// sampleHeader is a typical stored header block.
const sampleHeader = "Content-Type: text/html; charset=utf-8\r\n" +
	"ETag: \"abc123\"\r\n" +
	"Last-Modified: Tue, 15 Nov 1994 12:45:26 GMT\r\n" +
	"Cache-Control: public, max-age=300\r\n" +
	"Vary: Accept-Encoding\r\n"

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
	}{
		{"empty body, no header", Record{Status: 204, StoredAt: 1}},
		{"one byte body", Record{Status: 200, Header: []byte("X-A: 1\r\n"), Body: []byte{0}}},
		{"70000 binary bytes", Record{Status: 200, Flags: FlagDefaultTTL, Encoding: Gzip, OrigEncoding: Identity,
			StoredAt: 1700000000, TTL: 300, AgeAtStore: 7, Header: []byte(sampleHeader), Body: randomBytes(70000, 1)}},
		{"3000000 binary bytes", Record{Status: 999, Encoding: Zstd, OrigEncoding: Zstd,
			StoredAt: math.MaxInt64, TTL: math.MaxUint32, AgeAtStore: math.MaxUint32, Header: []byte(sampleHeader), Body: randomBytes(3000000, 2)}},
		{"negative stored-at, reserved flag bits", Record{Status: 100, Flags: 0xfd, Encoding: Brotli, OrigEncoding: Deflate,
			StoredAt: math.MinInt64, Body: []byte("\x00\xff\r\n\r\nHTTP/1.1 200 OK\r\n")}},
		{"variant with selector", Record{Status: 200, Header: []byte("Vary: Foo\r\n"), Selector: []byte("V\x00foo\n+1\n"), Body: []byte("page")}},
		{"variant index", Record{Status: 200, Flags: FlagVaryIndex, Header: []byte("Vary: foo\r\n"), Selector: randomBytes(MaxSelector, 3)}},
		{"odd but valid header lines", Record{Status: 301,
			Header: []byte("Location:/x\r\nX-Empty:\r\nX-Tab:\ta\tb\t\r\nX-Obs: caf\xc3\xa9 \xff\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendRecord(nil, &tc.rec)
			if want := HeadSize + len(tc.rec.Header) + len(tc.rec.Selector) + len(tc.rec.Body); len(enc) != want || tc.rec.Size() != want {
				t.Fatalf("encoded length %d, Size %d, want %d", len(enc), tc.rec.Size(), want)
			}
			var got Record
			if err := Decode(enc, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Status != tc.rec.Status || got.Flags != tc.rec.Flags || got.Encoding != tc.rec.Encoding ||
				got.OrigEncoding != tc.rec.OrigEncoding || got.StoredAt != tc.rec.StoredAt ||
				got.TTL != tc.rec.TTL || got.AgeAtStore != tc.rec.AgeAtStore {
				t.Fatalf("fixed fields: got %+v, want %+v", fixed(got), fixed(tc.rec))
			}
			if !bytes.Equal(got.Header, tc.rec.Header) || !bytes.Equal(got.Selector, tc.rec.Selector) || !bytes.Equal(got.Body, tc.rec.Body) {
				t.Fatalf("header or body differ (header %q vs %q, body len %d vs %d)",
					got.Header, tc.rec.Header, len(got.Body), len(tc.rec.Body))
			}
			// Views into enc, not copies.
			if len(got.Body) > 0 && &got.Body[0] != &enc[len(enc)-len(got.Body)] {
				t.Fatal("Body is not a view into the record")
			}
			if again := AppendRecord([]byte("prefix"), &got); string(again[:6]) != "prefix" || !bytes.Equal(again[6:], enc) {
				t.Fatal("re-encoding after the prefix differs")
			}
		})
	}
}

// fixed strips the slices so failures print readably.
func fixed(r Record) Record { r.Header, r.Body = nil, nil; return r }

// TestLayout pins the byte layout against bytes written out by hand from the
// table in the package documentation.
func TestLayout(t *testing.T) {
	r := Record{Status: 404, Flags: FlagDefaultTTL, Encoding: Gzip, OrigEncoding: Brotli,
		StoredAt: 0x0102030405060708, TTL: 0x0a0b0c0d, AgeAtStore: 0x11121314,
		Header: []byte("A: b\r\n"), Body: []byte("xyz")}
	want := []byte{
		'M', 'C', 'P', 'G', // magic
		1,          // version
		1,          // flags
		0x01, 0x94, // status 404
		1, 3, // encoding gzip, orig br
		0, 0, // reserved
		1, 2, 3, 4, 5, 6, 7, 8, // stored-at
		0x0a, 0x0b, 0x0c, 0x0d, // ttl
		0x11, 0x12, 0x13, 0x14, // age
		0, 0, 0, 6, // header length
		0, 0, 0, 3, // body length
		'A', ':', ' ', 'b', '\r', '\n',
		'x', 'y', 'z',
	}
	if got := AppendRecord(nil, &r); !bytes.Equal(got, want) {
		t.Fatalf("AppendRecord:\n got %x\nwant %x", got, want)
	}
	var d Record
	if err := Decode(want, &d); err != nil || d.Status != 404 || d.OrigEncoding != Brotli || d.StoredAt != 0x0102030405060708 {
		t.Fatalf("Decode of the hand-written record: %v %+v", err, fixed(d))
	}
}

// validRecord is a small record whose every prefix TestDecodeTruncated tries.
func validRecord() []byte {
	return AppendRecord(nil, &Record{Status: 200, Encoding: Gzip, StoredAt: 1700000000, TTL: 60,
		Header: []byte(sampleHeader), Body: []byte("\x1f\x8b\x00body\x00\xff")})
}

func TestDecodeTruncated(t *testing.T) {
	full := validRecord()
	for n := 0; n < len(full); n++ {
		var r Record
		if err := Decode(full[:n], &r); err != ErrShort {
			t.Fatalf("prefix of %d/%d bytes: err %v, want ErrShort", n, len(full), err)
		}
	}
	// A big body: every prefix through the header block, then a sample.
	big := AppendRecord(nil, &Record{Status: 200, Header: []byte(sampleHeader), Body: randomBytes(70000, 3)})
	for n := 0; n < len(big); n += 1 + n/64 {
		var r Record
		if err := Decode(big[:n], &r); err != ErrShort {
			t.Fatalf("prefix of %d/%d bytes: err %v, want ErrShort", n, len(big), err)
		}
	}
}

// patch returns a copy of b with b[off:] overwritten by p.
func patch(b []byte, off int, p ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], p)
	return c
}

// withHeader encodes a record around a raw header block.
func withHeader(block string) []byte {
	return AppendRecord(nil, &Record{Status: 200, Header: []byte(block), Body: []byte("b")})
}

func TestDecodeErrors(t *testing.T) {
	good := validRecord()
	hl := len(sampleHeader)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"bad magic", patch(good, 0, 'M', 'C', 'P', 'H'), ErrMagic},
		{"lower-case magic", patch(good, 0, 'm', 'c', 'p', 'g'), ErrMagic},
		{"short and bad magic", []byte("HTTP/1.1 200 OK"), ErrMagic},
		{"version 0", patch(good, 4, 0), ErrVersion},
		{"version 2", patch(good, 4, 2), ErrVersion},
		{"version 255", patch(good, 4, 255), ErrVersion},
		{"header length one too long", patch(good, 28, 0, 0, byte(hl>>8), byte(hl+1)), ErrShort},
		{"header length one too short", patch(good, 28, 0, 0, byte(hl>>8), byte(hl-1)), ErrLength},
		{"header length 4 GiB", patch(good, 28, 0xff, 0xff, 0xff, 0xff), ErrShort},
		{"body length 4 GiB", patch(good, 32, 0xff, 0xff, 0xff, 0xff), ErrShort},
		{"both lengths max", patch(good, 28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ErrShort},
		{"body length one too long", patch(good, 32, 0, 0, 0, 11), ErrShort},
		{"body length zero", patch(good, 32, 0, 0, 0, 0), ErrLength},
		{"trailing byte", append(bytes.Clone(good), 0), ErrLength},
		{"status 0", patch(good, 6, 0, 0), ErrStatus},
		{"status 99", patch(good, 6, 0, 99), ErrStatus},
		{"status 1000", patch(good, 6, 0x03, 0xe8), ErrStatus},
		{"status 65535", patch(good, 6, 0xff, 0xff), ErrStatus},
		{"encoding 5", patch(good, 8, 5), ErrEncoding},
		{"orig encoding 255", patch(good, 9, 255), ErrEncoding},
		{"selector length past the end", patch(good, 10, 0, 1), ErrShort},
		{"index flag without selector", patch(good, 5, byte(FlagVaryIndex)), ErrSelector},
		{"bare LF terminator", withHeader("A: b\n"), ErrHeader},
		{"bare LF in value", withHeader("A: b\nInjected: x\r\n"), ErrHeader},
		{"bare CR in value", withHeader("A: b\rInjected: x\r\n"), ErrHeader},
		{"CR CR LF", withHeader("A: b\r\r\n"), ErrHeader},
		{"missing final CRLF", withHeader("A: b\r\nB: c"), ErrHeader},
		{"final CR only", withHeader("A: b\r"), ErrHeader},
		{"missing colon", withHeader("A b\r\n"), ErrHeader},
		{"empty name", withHeader(": b\r\n"), ErrHeader},
		{"empty line (ends the head early)", withHeader("A: b\r\n\r\nHTTP/1.1 200 OK\r\n"), ErrHeader},
		{"only CRLF", withHeader("\r\n"), ErrHeader},
		{"space before colon", withHeader("A : b\r\n"), ErrHeader},
		{"space in name", withHeader("X A: b\r\n"), ErrHeader},
		{"obs-fold continuation", withHeader("A: b\r\n c\r\n"), ErrHeader},
		{"NUL in value", withHeader("A: b\x00c\r\n"), ErrHeader},
		{"NUL in name", withHeader("A\x00: b\r\n"), ErrHeader},
		{"DEL in value", withHeader("A: b\x7f\r\n"), ErrHeader},
		{"control byte in value", withHeader("A: \x01\r\n"), ErrHeader},
		{"ESC deep in a long value", withHeader("A: 0123456789abcdefghijklmnop\x1bqrstuvwxyz\r\n"), ErrHeader},
		{"high byte in name", withHeader("A\xc3\xa9: b\r\n"), ErrHeader},
		{"Content-Length", withHeader("A: b\r\nContent-Length: 5\r\n"), ErrForbiddenField},
		{"transfer-encoding", withHeader("transfer-encoding: chunked\r\n"), ErrForbiddenField},
		{"CONTENT-ENCODING", withHeader("CONTENT-ENCODING: gzip\r\n"), ErrForbiddenField},
		{"Set-Cookie", withHeader("Set-Cookie: sid=1\r\n"), ErrForbiddenField},
		{"Connection", withHeader("Connection: close\r\n"), ErrForbiddenField},
		{"Age", withHeader("Age: 5\r\n"), ErrForbiddenField},
		{"TE", withHeader("Te: trailers\r\n"), ErrForbiddenField},
		{"Keep-Alive", withHeader("Keep-Alive: timeout=5\r\n"), ErrForbiddenField},
		{"Upgrade", withHeader("Upgrade: h2c\r\n"), ErrForbiddenField},
		{"Proxy-Authentication-Info", withHeader("Proxy-Authentication-Info: x\r\n"), ErrForbiddenField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Record{Status: 1, Header: []byte("stale")}
			if err := Decode(tc.b, &r); err != tc.want {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if r.Status != 0 || r.Header != nil || r.Body != nil {
				t.Fatalf("record not zeroed on error: %+v", r)
			}
		})
	}
}

func TestDecodeAcceptsValueBytes(t *testing.T) {
	// Every byte a field value may hold, in one value, longer than 8 so the
	// word-at-a-time path sees each one.
	var v []byte
	for c := 0; c < 256; c++ {
		if c == '\t' || (c >= ' ' && c != 0x7f) {
			v = append(v, byte(c))
		}
	}
	if err := Decode(withHeader("X: "+string(v)+"\r\n"), new(Record)); err != nil {
		t.Fatalf("valid value bytes rejected: %v", err)
	}
	// Every byte it may not hold, at every offset of a 16-byte value.
	for c := 0; c < 256; c++ {
		if c == '\t' || (c >= ' ' && c != 0x7f) {
			continue
		}
		for off := 0; off < 16; off++ {
			val := []byte("abcdefghijklmnop")
			val[off] = byte(c)
			if err := Decode(withHeader("X: "+string(val)+"\r\n"), new(Record)); err != ErrHeader {
				t.Fatalf("byte %#x at %d: err %v, want ErrHeader", c, off, err)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	rec := Record{Header: []byte("ETag-Extra: no\r\nETag:  \"v1\" \t\r\nX-Empty:\r\nx-dup: first\r\nX-Dup: second\r\nLast-Modified:Mon\r\n")}
	tests := []struct {
		name string
		want string
		nilv bool
	}{
		{"ETag", `"v1"`, false},
		{"etag", `"v1"`, false},
		{"ETAG", `"v1"`, false},
		{"X-Dup", "first", false},
		{"Last-Modified", "Mon", false},
		{"X-Empty", "", false},
		{"ETag-Extr", "", true},
		{"Missing", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got := rec.Lookup(tc.name)
		if (got == nil) != tc.nilv || string(got) != tc.want {
			t.Errorf("Lookup(%q) = %q (nil %v), want %q (nil %v)", tc.name, got, got == nil, tc.want, tc.nilv)
		}
	}
	// A hand-built record with a block Decode would reject must not panic.
	for _, block := range []string{"A", "A:", ":", "\n", "\r\n", "A\r\n", "ETag", "ETag\n:", "X: y\nETag: z"} {
		r := Record{Header: []byte(block)}
		_ = r.Lookup("ETag")
	}
	if got := (&Record{Header: []byte("X: y\nETag: z")}).Lookup("ETag"); string(got) != "z" {
		t.Errorf("Lookup on LF-only block = %q, want z", got)
	}
}

func TestDecodeLookupAllocs(t *testing.T) {
	b := AppendRecord(nil, &Record{Status: 200, Header: []byte(sampleHeader), Body: testHTML(10000)})
	var r Record
	if n := testing.AllocsPerRun(100, func() {
		if err := Decode(b, &r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Decode allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if r.Lookup("vary") == nil || r.Lookup("absent") != nil {
			t.Fatal("lookup result")
		}
	}); n != 0 {
		t.Errorf("Lookup allocates %v times per call", n)
	}
}

func TestAgeRemainingFresh(t *testing.T) {
	tests := []struct {
		name           string
		storedAt, now  int64
		ttl, age       uint32
		wantAge, wantR int64
		fresh          bool
	}{
		{"just stored", 1000, 1000, 60, 0, 0, 60, true},
		{"half way", 1000, 1030, 60, 5, 35, 30, true},
		{"last fresh second", 1000, 1059, 60, 0, 59, 1, true},
		{"expires exactly", 1000, 1060, 60, 0, 60, 0, false},
		{"stale", 1000, 1100, 60, 10, 110, -40, false},
		{"ttl 0", 1000, 1000, 0, 3, 3, 0, false},
		{"stored in the future counts as now", 2000, 1000, 60, 4, 4, 60, true},
		{"max ttl", 0, 1, math.MaxUint32, 0, 1, math.MaxUint32 - 1, true},
		{"max age", 0, 1, 0, math.MaxUint32, math.MaxUint32 + 1, -1, false},
		{"stored at min int64", math.MinInt64, 1700000000, math.MaxUint32, math.MaxUint32, math.MaxInt64, math.MinInt64 / 2, false},
		{"stored at max int64", math.MaxInt64, 1700000000, 10, 1, 1, 10, true},
		{"now min int64", 0, math.MinInt64, 10, 1, 1, 10, true},
	}
	for _, tc := range tests {
		r := Record{StoredAt: tc.storedAt, TTL: tc.ttl, AgeAtStore: tc.age}
		if got := r.Age(tc.now); got != tc.wantAge {
			t.Errorf("%s: Age = %d, want %d", tc.name, got, tc.wantAge)
		}
		if got := r.Remaining(tc.now); got != tc.wantR {
			t.Errorf("%s: Remaining = %d, want %d", tc.name, got, tc.wantR)
		}
		if got := r.Fresh(tc.now); got != tc.fresh {
			t.Errorf("%s: Fresh = %v, want %v", tc.name, got, tc.fresh)
		}
	}
}

func TestParseEncoding(t *testing.T) {
	tests := []struct {
		in   string
		want Encoding
		ok   bool
	}{
		{"", Identity, true},
		{"  ", Identity, true},
		{"identity", Identity, true},
		{"gzip", Gzip, true},
		{" GZip\t", Gzip, true},
		{"x-gzip", Gzip, true},
		{"deflate", Deflate, true},
		{"DEFLATE", Deflate, true},
		{"br", Brotli, true},
		{"Br", Brotli, true},
		{"zstd", Zstd, true},
		{"gzip, br", Identity, false},
		{"gzip,gzip", Identity, false},
		{"compress", Identity, false},
		{"gzi", Identity, false},
		{"gzip;q=1", Identity, false},
		{"brotli", Identity, false},
		{"g\x00zip", Identity, false},
	}
	for _, tc := range tests {
		got, ok := ParseEncoding([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseEncoding(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEncodingString(t *testing.T) {
	tests := []struct {
		e    Encoding
		want string
	}{{Identity, "identity"}, {Gzip, "gzip"}, {Deflate, "deflate"}, {Brotli, "br"}, {Zstd, "zstd"}, {5, "unknown"}, {255, "unknown"}}
	for _, tc := range tests {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%d.String() = %q, want %q", uint8(tc.e), got, tc.want)
		}
		if tc.want != "unknown" {
			if back, ok := ParseEncoding([]byte(tc.want)); !ok || back != tc.e {
				t.Errorf("ParseEncoding(%q) = %v, %v", tc.want, back, ok)
			}
		}
	}
}

func TestStorableField(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Content-Type", true}, {"ETag", true}, {"Vary", true}, {"X-Cache", true}, {"Cache-Control", true},
		{"Content-Length", false}, {"content-length", false}, {"Content-Encoding", false},
		{"Transfer-Encoding", false}, {"Set-Cookie", false}, {"Age", false}, {"Connection", false},
		{"Keep-Alive", false}, {"Proxy-Connection", false}, {"TE", false}, {"Trailer", false},
		{"Upgrade", false}, {"Proxy-Authenticate", false}, {"Proxy-Authorization", false},
		{"", false}, {"A B", false}, {"A:", false}, {"Ä", false},
	}
	for _, tc := range tests {
		if got := StorableField([]byte(tc.name)); got != tc.want {
			t.Errorf("StorableField(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDecodePythonRecord decodes a record written by the Python snippet in
// the package documentation (testdata/python-record.bin, made with
// struct.pack), so the documented layout and the code agree.
func TestDecodePythonRecord(t *testing.T) {
	b, err := os.ReadFile("testdata/python-record.bin")
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := Decode(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.StoredAt != 1700000000 || r.TTL != 300 || r.Encoding != Identity ||
		string(r.Lookup("etag")) != `"php-1"` || string(r.Body) != "<html>\x00\xff written by an app</html>" {
		t.Fatalf("decoded %+v header %q body %q", fixed(r), r.Header, r.Body)
	}
	if !r.Fresh(1700000299) || r.Fresh(1700000300) {
		t.Fatal("freshness window")
	}
}
