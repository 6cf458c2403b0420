package mcclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// replyCases are replies as memcached 1.6.18 sends them (from the
// transcript in shared/memcached/META.md), with what Parse must report.
var replyCases = []struct {
	name  string
	wire  string
	check func(t *testing.T, r *Reply)
}{
	{"VA all flags", "VA 5 f123 t60 c100 s5 kfoo O2\r\nhello\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeVA && string(r.Value) == "hello" && r.Flags == 123 && r.TTL == 60 && r.CAS == 100 &&
			r.Size == 5 && string(r.Opaque) == "2" && r.Has == HasFlags|HasTTL|HasCAS|HasSize, r)
	}},
	{"VA binary value", "VA 13 s13\r\n\x00\x01\r\n\xff\x1f\x8bBIN\r\n\x00\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeVA && string(r.Value) == "\x00\x01\r\n\xff\x1f\x8bBIN\r\n\x00", r)
	}},
	{"VA empty vivified win", "VA 0 c117 t30 f0 W\r\n\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeVA && len(r.Value) == 0 && r.Value != nil && r.CAS == 117 && r.Win && !r.WinTaken && !r.Stale, r)
	}},
	{"VA stale win", "VA 5 t30 c123 X W\r\nold-1\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Stale && r.Win && !r.WinTaken && string(r.Value) == "old-1", r)
	}},
	{"VA Z X", "VA 5 t30 c123 Z X\r\nold-1\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Stale && !r.Win && r.WinTaken, r)
	}},
	{"VA never expires", "VA 1 t-1\r\nx\r\n", func(t *testing.T, r *Reply) { want(t, r.TTL == -1 && r.Has == HasTTL, r) }},
	{"HD flags", "HD t60 f123\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeHD && r.TTL == 60 && r.Flags == 123 && r.Value == nil, r)
	}},
	{"HD h l", "HD h1 l0\r\n", func(t *testing.T, r *Reply) {
		want(t, r.HitBefore && r.LastAccess == 0 && r.Has == HasHitBefore|HasLastAccess, r)
	}},
	{"HD bare", "HD\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeHD && r.Has == 0 && r.Opaque == nil, r) }},
	{"HD binary key echo", "HD kAGJpbv9rZXkgDQo= b O1\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeHD && string(r.Opaque) == "1", r)
	}},
	{"EN opaque key", "EN O77 knosuch\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeEN && string(r.Opaque) == "77", r) }},
	{"NS", "NS\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeNS, r) }},
	{"EX", "EX O5\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeEX, r) }},
	{"NF", "NF O78 knosuch\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeNF, r) }},
	{"MN", "MN\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeMN, r) }},
	{"ma value", "VA 2 c115\r\n10\r\n", func(t *testing.T, r *Reply) { want(t, string(r.Value) == "10" && r.CAS == 115, r) }},
	{"unknown flag skipped", "HD Q7 c1\r\n", func(t *testing.T, r *Reply) { want(t, r.CAS == 1, r) }},
	{"CLIENT_ERROR", "CLIENT_ERROR bad command line format\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeClientError && string(r.Message) == "bad command line format", r)
	}},
	{"SERVER_ERROR", "SERVER_ERROR object too large for cache\r\n", func(t *testing.T, r *Reply) {
		want(t, r.Code == CodeServerError && string(r.Message) == "object too large for cache", r)
	}},
	{"ERROR", "ERROR\r\n", func(t *testing.T, r *Reply) { want(t, r.Code == CodeError, r) }},
}

func want(t *testing.T, ok bool, r *Reply) {
	t.Helper()
	if !ok {
		t.Fatalf("unexpected reply %+v (value %q)", *r, r.Value)
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range replyCases {
		t.Run(tc.name, func(t *testing.T) {
			// Followed by another reply: Parse must stop exactly at its end.
			buf := []byte(tc.wire + "MN\r\n")
			var r Reply
			n, err := r.Parse(buf, 1<<20)
			if err != nil || n != len(tc.wire) {
				t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(tc.wire))
			}
			tc.check(t, &r)
			if cap(r.Value) != len(r.Value) {
				t.Fatalf("Value capacity %d exceeds its length %d: an append would overwrite the next reply", cap(r.Value), len(r.Value))
			}
		})
	}
}

// Every reply, cut at every byte, is "need more" until it is whole.
func TestParseReplySplitAtEveryByte(t *testing.T) {
	for _, tc := range replyCases {
		t.Run(tc.name, func(t *testing.T) {
			wire := []byte(tc.wire)
			for cut := 0; cut < len(wire); cut++ {
				var r Reply
				n, err := r.Parse(wire[:cut], 1<<20)
				if n != 0 || err != nil {
					t.Fatalf("cut at %d/%d: Parse = %d, %v; want 0, nil", cut, len(wire), n, err)
				}
				if r.Want != 0 && r.Want != len(wire) {
					t.Fatalf("cut at %d: Want = %d, reply is %d bytes", cut, r.Want, len(wire))
				}
			}
			var r Reply
			if n, err := r.Parse(wire, 1<<20); n != len(wire) || err != nil {
				t.Fatalf("whole: Parse = %d, %v", n, err)
			}
			tc.check(t, &r)
		})
	}
}

func TestParseReplyErrors(t *testing.T) {
	tests := []struct {
		name string
		wire string
		max  int
		want error
	}{
		{"LF without CR", "HD\n", 100, ErrMalformedReply},
		{"empty line", "\r\n", 100, ErrMalformedReply},
		{"one letter", "H\r\n", 100, ErrMalformedReply},
		{"unknown code", "ZZ\r\n", 100, ErrMalformedReply},
		{"lowercase code", "hd\r\n", 100, ErrMalformedReply},
		{"code glued to flag", "HDc1\r\n", 100, ErrMalformedReply},
		{"VA without size", "VA\r\n", 100, ErrMalformedReply},
		{"VA bad size", "VA x1\r\nx\r\n", 100, ErrMalformedReply},
		{"VA negative size", "VA -1\r\n", 100, ErrMalformedReply},
		{"VA size over limit", "VA 101\r\n", 100, ErrReplyValueTooLarge},
		{"VA size overflow", "VA 99999999999999999999999\r\n", 100, ErrReplyValueTooLarge},
		{"VA data longer than size", "VA 2\r\nabc\r\n", 100, ErrReplyFraming},
		{"VA data without CRLF", "VA 2\r\nabXY", 100, ErrReplyFraming},
		{"bad flags number", "HD fx\r\n", 100, ErrMalformedReply},
		{"flags over 32 bits", "HD f4294967296\r\n", 100, ErrMalformedReply},
		{"cas overflow", "HD c18446744073709551616\r\n", 100, ErrMalformedReply},
		{"ttl not a number", "HD t--1\r\n", 100, ErrMalformedReply},
		{"ttl overflow", "HD t9223372036854775808\r\n", 100, ErrMalformedReply},
		{"h not 0/1", "HD h2\r\n", 100, ErrMalformedReply},
		{"empty opaque", "HD O\r\n", 100, ErrMalformedReply},
		{"W with token", "HD W1\r\n", 100, ErrMalformedReply},
		{"token not a letter", "HD 5\r\n", 100, ErrMalformedReply},
		{"MN with flags", "MN c1\r\n", 100, ErrMalformedReply},
		{"ERROR with text", "ERROR x\r\n", 100, ErrMalformedReply},
		{"CLIENT_ERRORX", "CLIENT_ERRORX\r\n", 100, ErrMalformedReply},
		{"line too long", "HD " + strings.Repeat("k", MaxReplyLine), 100, ErrReplyLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reply
			n, err := r.Parse([]byte(tt.wire), tt.max)
			if !errors.Is(err, tt.want) || n != 0 {
				t.Fatalf("Parse(%q) = %d, %v; want 0, %v", tt.wire, n, err, tt.want)
			}
		})
	}
}

func TestParseReplyLongLineNeedsMoreUntilLimit(t *testing.T) {
	var r Reply
	line := []byte("HD " + strings.Repeat("k", MaxReplyLine-4))
	if n, err := r.Parse(line, 100); n != 0 || err != nil {
		t.Fatalf("%d-byte partial line: Parse = %d, %v; want need more", len(line), n, err)
	}
	if n, err := r.Parse(append(line, 'k'), 100); err != ErrReplyLineTooLong {
		t.Fatalf("%d-byte partial line: Parse = %d, %v; want ErrReplyLineTooLong", len(line)+1, n, err)
	}
}

func TestParseReplyDoesNotAllocate(t *testing.T) {
	buf := []byte("VA 100 f1 c2 t3 O4 W Z X\r\n" + strings.Repeat("v", 100) + "\r\nEN O5\r\n")
	var r Reply
	allocs := testing.AllocsPerRun(100, func() {
		n, _ := r.Parse(buf, 1<<20)
		_, _ = r.Parse(buf[n:], 1<<20)
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %v times per run", allocs)
	}
}

// FuzzParseReply: Parse never panics, never claims more bytes than it got,
// and a reply it accepts parses the same when followed by more bytes, and
// is "need more" on every proper prefix.
func FuzzParseReply(f *testing.F) {
	for _, tc := range replyCases {
		f.Add([]byte(tc.wire))
	}
	f.Add([]byte("VA 3 O1\r\nabc\r\nHD O2\r\n"))
	f.Add([]byte("VA 2\r\nabc\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Reply
		n, err := r.Parse(data, 1<<16)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("Parse = %d, %v on %d bytes", n, err, len(data))
		}
		if n == 0 {
			return
		}
		code, value, opaque := r.Code, bytes.Clone(r.Value), bytes.Clone(r.Opaque)
		var r2 Reply
		n2, err2 := r2.Parse(append(bytes.Clone(data[:n]), "HD\r\n"...), 1<<16)
		if n2 != n || err2 != nil || r2.Code != code || !bytes.Equal(r2.Value, value) || !bytes.Equal(r2.Opaque, opaque) {
			t.Fatalf("reparse with suffix: %d %v %v, first %d %v", n2, err2, r2.Code, n, code)
		}
		for cut := 0; cut < n; cut++ {
			var r3 Reply
			if m, err3 := r3.Parse(data[:cut], 1<<16); m != 0 || err3 != nil {
				t.Fatalf("prefix %d of accepted %d-byte reply: Parse = %d, %v", cut, n, m, err3)
			}
		}
	})
}

func TestCodeAndStatusNames(t *testing.T) {
	for c, want := range map[Code]string{CodeVA: "VA", CodeEN: "EN", CodeServerError: "SERVER_ERROR", Code(200): "invalid"} {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", c, got, want)
		}
	}
	for s, want := range map[Status]string{StatusFailed: "failed", StatusMiss: "miss", StatusNotFound: "not found", Status(99): "invalid"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", s, got, want)
		}
	}
}
