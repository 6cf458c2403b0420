package mcstore

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/server/cachepolicy"
)

func validManifest() Manifest {
	return Manifest{Version: 0x0123456789abcdef, Total: 3<<20 + 5, ChunkSize: 1 << 20, Count: 4, Sum: 42}
}

func TestManifestRoundTrip(t *testing.T) {
	m := validManifest()
	b := AppendManifest([]byte("x"), &m)[1:]
	if len(b) != ManifestSize || string(b[:4]) != ManifestMagic || b[4] != ManifestLayout {
		t.Fatalf("encoded %x", b)
	}
	var got Manifest
	if err := DecodeManifest(b, 8<<20, &got); err != nil || got != m {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, m)
	}
	total := 0
	for i := 0; i < int(got.Count); i++ {
		total += got.ChunkLen(i)
	}
	if total != int(got.Total) || got.ChunkLen(3) != 5 {
		t.Fatalf("chunk lengths add up to %d, last %d", total, got.ChunkLen(3))
	}
}

func TestManifestRejects(t *testing.T) {
	enc := func(f func(m *Manifest, b []byte) []byte) []byte {
		m := validManifest()
		b := AppendManifest(nil, &m)
		return f(&m, b)
	}
	put32 := func(off int, v uint32) func(*Manifest, []byte) []byte {
		return func(_ *Manifest, b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	put64 := func(off int, v uint64) func(*Manifest, []byte) []byte {
		return func(_ *Manifest, b []byte) []byte { binary.BigEndian.PutUint64(b[off:], v); return b }
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrManifest},
		{"record", []byte("MCPG\x01"), ErrManifest},
		{"magic only", []byte("MCPC"), ErrManifest},
		{"layout 2", enc(func(_ *Manifest, b []byte) []byte { b[4] = 2; return b }), ErrManifestLayout},
		{"short", enc(func(_ *Manifest, b []byte) []byte { return b[:39] }), ErrManifest},
		{"long", enc(func(_ *Manifest, b []byte) []byte { return append(b, 0) }), ErrManifest},
		{"reserved", enc(func(_ *Manifest, b []byte) []byte { b[6] = 1; return b }), ErrManifest},
		{"total 0", enc(put64(16, 0)), ErrManifest},
		{"chunk size 0", enc(put32(24, 0)), ErrManifest},
		{"count 0", enc(put32(28, 0)), ErrManifest},
		{"count too small", enc(put32(28, 3)), ErrManifest},
		{"count too large", enc(put32(28, 5)), ErrManifest},
		{"too many chunks", enc(func(_ *Manifest, b []byte) []byte {
			binary.BigEndian.PutUint64(b[16:], MaxChunks+1)
			binary.BigEndian.PutUint32(b[24:], 1)
			binary.BigEndian.PutUint32(b[28:], MaxChunks+1)
			return b
		}), ErrManifest},
		{"huge total, tiny chunks", enc(func(_ *Manifest, b []byte) []byte {
			binary.BigEndian.PutUint64(b[16:], 1<<62)
			binary.BigEndian.PutUint32(b[24:], 1)
			binary.BigEndian.PutUint32(b[28:], MaxChunks)
			return b
		}), ErrManifest},
		{"max total wraps", enc(func(_ *Manifest, b []byte) []byte {
			binary.BigEndian.PutUint64(b[16:], 1<<64-1)
			binary.BigEndian.PutUint32(b[24:], 1<<32-1)
			binary.BigEndian.PutUint32(b[28:], 1)
			return b
		}), ErrManifest},
		{"count does not match total", enc(put64(16, 9<<20-1)), ErrManifest}, // 4 chunks, 9 needed
		{"larger than max page", enc(func(_ *Manifest, b []byte) []byte {
			binary.BigEndian.PutUint64(b[16:], 9<<20)
			binary.BigEndian.PutUint32(b[28:], 9)
			return b
		}), ErrPageTooLarge},
	}
	for _, c := range cases {
		m := validManifest()
		if err := DecodeManifest(c.b, 8<<20, &m); err != c.want || m != (Manifest{}) {
			t.Errorf("%s: %v, %+v; want %v and a zero manifest", c.name, err, m, c.want)
		}
	}
}

// Chunk keys can be sent (mcclient.CheckKey), are never page keys (a page
// key is 0x21..0x7E only), and name exactly one (key, version, index).
func TestChunkKeys(t *testing.T) {
	long := cachepolicy.AppendKey(nil, []byte("pfx:"), []byte("example.test"), []byte("/"+strings.Repeat("a", 300)))
	keys := [][]byte{
		[]byte("k"),
		cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte("/x")),
		bytes.Repeat([]byte("b"), maxPlainChunkBase),
		bytes.Repeat([]byte("c"), maxPlainChunkBase+1),
		bytes.Repeat([]byte("d"), cachepolicy.MaxKeyLen),
		long,
	}
	seen := map[string]string{}
	for _, k := range keys {
		for _, v := range []uint64{1, 1<<64 - 1} {
			for _, i := range []int{0, 9, 10, MaxChunks - 1} {
				ck := AppendChunkKey(nil, k, v, i)
				if b64, err := mcclient.CheckKey(ck); err != nil || !b64 {
					t.Fatalf("chunk key %q of %d-byte key: base64 %v, %v", ck, len(k), b64, err)
				}
				if bytes.IndexByte(ck, ' ') < 0 {
					t.Fatalf("chunk key %q could be a page key", ck)
				}
				if plain := len(k) <= maxPlainChunkBase; plain != bytes.HasPrefix(ck, k) || plain == (ck[0] == ' ') {
					t.Fatalf("chunk key %q of %d-byte key: wrong form", ck, len(k))
				}
				id := string(k) + "|" + string(rune(v&0xff)) + "|" + string(rune(i))
				if prev, dup := seen[string(ck)]; dup {
					t.Fatalf("chunk key %q for both %q and %q", ck, prev, id)
				}
				seen[string(ck)] = id
			}
		}
	}
	if got := string(AppendChunkKey(nil, []byte("example.test/x"), 0xab, 2)); got != "example.test/x 00000000000000ab 2" {
		t.Fatalf("chunk key %q", got)
	}
}

// FuzzManifest: DecodeManifest never panics; what it accepts re-encodes to
// the same bytes and describes at most MaxChunks chunks of at most the
// limit, whose lengths add up to the total. Seeds:
// testdata/fuzz/FuzzManifest.
func FuzzManifest(f *testing.F) {
	m := validManifest()
	f.Add(AppendManifest(nil, &m), 8<<20)
	m = Manifest{Version: 1, Total: 1, ChunkSize: 1, Count: 1}
	f.Add(AppendManifest(nil, &m), 1)
	m = Manifest{Version: 7, Total: MaxChunks, ChunkSize: 1, Count: MaxChunks}
	f.Add(AppendManifest(nil, &m), 1<<20)
	f.Add([]byte("MCPC\x01\x00\x00\x00"), 0)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		var m Manifest
		if err := DecodeManifest(b, limit, &m); err != nil {
			if m != (Manifest{}) {
				t.Fatal("manifest not zeroed on error")
			}
			return
		}
		if again := AppendManifest(nil, &m); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
		if m.Count == 0 || m.Count > MaxChunks || m.Total == 0 || m.Total > uint64(limit) {
			t.Fatalf("accepted %+v with limit %d", m, limit)
		}
		var sum uint64
		for i := 0; i < int(m.Count); i++ {
			n := m.ChunkLen(i)
			if n <= 0 || n > int(m.ChunkSize) {
				t.Fatalf("%+v: chunk %d is %d bytes", m, i, n)
			}
			sum += uint64(n)
		}
		if sum != m.Total {
			t.Fatalf("%+v: chunks add up to %d", m, sum)
		}
	})
}
