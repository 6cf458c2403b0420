package mcclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	bin := []byte{0, 'b', 'i', 'n', 0xff, 'k', 'e', 'y', ' ', '\r', '\n'}
	tests := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
		want string
	}{
		{"get plain", func(d []byte) ([]byte, error) { return AppendGet(d, []byte("foo"), 7, GetOptions{}) },
			"mg foo v f c t O7\r\n"},
		{"get all options", func(d []byte) ([]byte, error) {
			return AppendGet(d, []byte("foo"), 4294967295, GetOptions{Vivify: 30, Recache: 10, Touch: true, TouchTTL: -1,
				NoValue: true, NoBump: true, WantHitBefore: true, WantLastAccess: true})
		}, "mg foo N30 R10 T-1 f c t u h l O4294967295\r\n"},
		{"get touch zero", func(d []byte) ([]byte, error) {
			return AppendGet(d, []byte("k"), 0, GetOptions{Touch: true})
		}, "mg k T0 v f c t O0\r\n"},
		{"get binary key", func(d []byte) ([]byte, error) { return AppendGet(d, bin, 1, GetOptions{}) },
			"mg AGJpbv9rZXkgDQo= b v f c t O1\r\n"},
		{"set plain", func(d []byte) ([]byte, error) {
			return AppendSet(d, []byte("foo"), []byte("hello"), 2, SetOptions{})
		}, "ms foo 5 c O2\r\nhello\r\n"},
		{"set all options", func(d []byte) ([]byte, error) {
			return AppendSet(d, []byte("foo"), []byte("a\r\nb"), 3, SetOptions{TTL: 60, Flags: 123, CAS: 99, Invalidate: true, Mode: ModeAdd})
		}, "ms foo 4 c T60 F123 C99 I ME O3\r\na\r\nb\r\n"},
		{"set modes", func(d []byte) ([]byte, error) {
			d, _ = AppendSet(d, []byte("k"), nil, 0, SetOptions{Mode: ModeReplace})
			d, _ = AppendSet(d, []byte("k"), nil, 0, SetOptions{Mode: ModeAppend})
			return AppendSet(d, []byte("k"), nil, 0, SetOptions{Mode: ModePrepend, TTL: -1})
		}, "ms k 0 c MR O0\r\n\r\nms k 0 c MA O0\r\n\r\nms k 0 c T-1 MP O0\r\n\r\n"},
		{"set binary key", func(d []byte) ([]byte, error) { return AppendSet(d, bin, []byte("hi"), 5, SetOptions{}) },
			"ms AGJpbv9rZXkgDQo= 2 b c O5\r\nhi\r\n"},
		{"delete plain", func(d []byte) ([]byte, error) { return AppendDelete(d, []byte("foo"), 9, DeleteOptions{}) },
			"md foo O9\r\n"},
		{"delete invalidate", func(d []byte) ([]byte, error) {
			return AppendDelete(d, []byte("foo"), 9, DeleteOptions{Invalidate: true, TTL: 30, CAS: 5})
		}, "md foo C5 I T30 O9\r\n"},
		{"arith plain", func(d []byte) ([]byte, error) { return AppendArith(d, []byte("n"), 1, ArithOptions{}) },
			"ma n v c O1\r\n"},
		{"arith all", func(d []byte) ([]byte, error) {
			return AppendArith(d, []byte("n"), 1, ArithOptions{Mode: Decr, Delta: 5, Create: true, CreateTTL: 0, Initial: 10, CAS: 3})
		}, "ma n v c MD D5 N0 J10 C3 O1\r\n"},
		{"noop", func(d []byte) ([]byte, error) { return AppendNoop(d), nil }, "mn\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix|")
			got, err := tt.enc(append([]byte(nil), prefix...))
			if err != nil {
				t.Fatal(err)
			}
			if want := string(prefix) + tt.want; string(got) != want {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestEncodeErrorsLeaveBufferAlone(t *testing.T) {
	long := bytes.Repeat([]byte("k"), MaxKeyLength+1)
	longBin := bytes.Repeat([]byte{0xff}, MaxBinaryKeyLength+1)
	tests := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
		want error
	}{
		{"empty key", func(d []byte) ([]byte, error) { return AppendGet(d, nil, 1, GetOptions{}) }, ErrKeyEmpty},
		{"long key", func(d []byte) ([]byte, error) { return AppendGet(d, long, 1, GetOptions{}) }, ErrKeyTooLong},
		{"long binary key", func(d []byte) ([]byte, error) { return AppendSet(d, longBin, nil, 1, SetOptions{}) }, ErrKeyTooLong},
		{"bad set mode", func(d []byte) ([]byte, error) { return AppendSet(d, []byte("k"), nil, 1, SetOptions{Mode: 9}) }, ErrBadOptions},
		{"delete ttl without I", func(d []byte) ([]byte, error) {
			return AppendDelete(d, []byte("k"), 1, DeleteOptions{TTL: 5})
		}, ErrBadOptions},
		{"bad arith mode", func(d []byte) ([]byte, error) { return AppendArith(d, []byte("k"), 1, ArithOptions{Mode: 7}) }, ErrBadOptions},
		{"delete long key", func(d []byte) ([]byte, error) { return AppendDelete(d, long, 1, DeleteOptions{}) }, ErrKeyTooLong},
		{"arith empty key", func(d []byte) ([]byte, error) { return AppendArith(d, nil, 1, ArithOptions{}) }, ErrKeyEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc([]byte("keep"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("buffer changed to %q", got)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key     string
		b64     bool
		wantErr error
	}{
		{"", false, ErrKeyEmpty},
		{"a", false, nil},
		{"page:/index.html?q=1", false, nil},
		{strings.Repeat("k", 250), false, nil},
		{strings.Repeat("k", 251), false, ErrKeyTooLong},
		{"has space", true, nil},
		{"tab\there", true, nil},
		{"crlf\r\n", true, nil},
		{"del\x7f", true, nil},
		{"utf8 é", true, nil},
		{strings.Repeat("\x00", 186), true, nil},
		{strings.Repeat("\x00", 187), true, ErrKeyTooLong},
		{strings.Repeat("k", 200) + " ", true, ErrKeyTooLong},
	}
	for _, tt := range tests {
		b64, err := CheckKey([]byte(tt.key))
		if b64 != tt.b64 || !errors.Is(err, tt.wantErr) {
			t.Errorf("CheckKey(%q) = %v, %v; want %v, %v", tt.key, b64, err, tt.b64, tt.wantErr)
		}
		if err == nil {
			enc, gotB64, _ := appendKey(nil, []byte(tt.key))
			if len(enc) > MaxKeyLength || gotB64 != tt.b64 {
				t.Errorf("appendKey(%q) = %q (len %d, b64 %v)", tt.key, enc, len(enc), gotB64)
			}
		}
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 4096)
	key, val := []byte("some:key/with=path"), bytes.Repeat([]byte("v"), 100)
	bin := []byte("binary key\x00")
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		b, _ = AppendGet(b, key, 12345, GetOptions{Vivify: 30, Recache: 5})
		b, _ = AppendGet(b, bin, 12345, GetOptions{})
		b, _ = AppendSet(b, key, val, 1, SetOptions{TTL: 60, Flags: 1, CAS: 77})
		b, _ = AppendDelete(b, key, 2, DeleteOptions{Invalidate: true, TTL: 30})
		b, _ = AppendArith(b, key, 3, ArithOptions{Delta: 2})
		_ = AppendNoop(b)
	})
	if allocs != 0 {
		t.Fatalf("encoders allocate %v times per run", allocs)
	}
}
