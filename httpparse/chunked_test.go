package httpparse

import (
	"strings"
	"testing"
)

// next is a pipelined request after each body: the decoder must stop before it.
const next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"

var chunkedValid = []struct {
	name, raw, body string
}{
	{"one-chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
	{"empty-body", "0\r\n\r\n", ""},
	{"two-chunks-upper-hex", "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", "abc0123456789"},
	{"lower-hex", "b\r\nhello world\r\n0\r\n\r\n", "hello world"},
	{"leading-zeros", "0003\r\nabc\r\n000\r\n\r\n", "abc"},
	{"crlf-inside-data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
	{"binary-data", "3\r\n\x00\xff\n\r\n0\r\n\r\n", "\x00\xff\n"},
	{"extension", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"},
	{"extension-quoted", "3;a=\"x\\\"y; z\";b\r\nabc\r\n0\r\n\r\n", "abc"},
	{"extension-bws", "3 ; a = b ;c\t;\td\r\nabc\r\n0\r\n\r\n", "abc"},
	{"size-padding", "3  \r\nabc\r\n0\t\r\n\r\n", "abc"},
	{"trailers", "2\r\nhi\r\n0\r\nX-Checksum: abc\r\nEmpty:\r\n\r\n", "hi"},
	{"size-line-at-limit", "1;" + strings.Repeat("e", MaxChunkLine-4) + "\r\nx\r\n0\r\n\r\n", "x"},
	{"body-at-limit", "3e8\r\n" + strings.Repeat("b", 1000) + "\r\n0\r\n\r\n", strings.Repeat("b", 1000)},
	{"overhead-under-budget", strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nz\r\n", 15) + "0\r\n\r\n", strings.Repeat("z", 15)},
	{"many-one-byte-chunks", strings.Repeat("1\r\nz\r\n", 1000) + "0\r\n\r\n", strings.Repeat("z", 1000)},
}

var chunkedBad = []struct {
	name, raw string
	lim       *Limits // nil: testLimits
	want      error
}{
	{"size-not-hex", "x\r\n", nil, ErrChunk},
	{"size-empty", "\r\n", nil, ErrChunk},
	{"size-leading-space", " 5\r\nhello\r\n0\r\n\r\n", nil, ErrChunk},
	{"size-negative", "-5\r\n", nil, ErrChunk},
	{"size-0x", "0x5\r\nhello\r\n", nil, ErrChunk},
	{"size-nul", "5\x00\r\n", nil, ErrChunk},
	{"size-bare-lf", "5\nhello\r\n0\r\n\r\n", nil, ErrLineEnding},
	{"size-bare-cr", "5\rX\r\nhello\r\n", nil, ErrLineEnding},
	{"ext-empty", "5;\r\nhello\r\n", nil, ErrChunk},
	{"ext-no-name", "5;=x\r\nhello\r\n", nil, ErrChunk},
	{"ext-no-value", "5;a=\r\nhello\r\n", nil, ErrChunk},
	{"ext-space-in-name", "5;a b\r\nhello\r\n", nil, ErrChunk},
	{"ext-unterminated-quote", "5;a=\"x\r\nhello\r\n", nil, ErrChunk},
	{"ext-ctl-in-quote", "5;a=\"\x01\"\r\nhello\r\n", nil, ErrChunk},
	{"ext-no-semicolon", "5 a\r\nhello\r\n", nil, ErrChunk},
	{"data-too-long", "5\r\nhelloXX\r\n", nil, ErrChunk},
	{"data-bare-lf", "5\r\nhello\n0\r\n\r\n", nil, ErrChunk},
	{"data-cr-no-lf", "5\r\nhello\r0\r\n\r\n", nil, ErrChunk},
	{"size-line-over-limit", "1;" + strings.Repeat("e", MaxChunkLine-3) + "\r\nx\r\n0\r\n\r\n", nil, ErrChunk},
	{"size-line-endless", "1;" + strings.Repeat("e", 3*MaxChunkLine), nil, ErrChunk},
	{"too-much-overhead", strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nz\r\n", 20), &Limits{}, ErrChunk},
	{"body-over-limit-one-chunk", "3e9\r\n", nil, ErrBodyTooLarge},
	{"body-over-limit-cumulative", "3e8\r\n" + strings.Repeat("b", 1000) + "\r\n1\r\n", nil, ErrBodyTooLarge},
	{"size-huge", "ffffffffffffffffffffffffffffffff\r\n", nil, ErrBodyTooLarge},
	{"size-huge-unlimited", "ffffffffffffffffffffffffffffffff\r\n", &Limits{MaxBodyBytes: 1<<63 - 1}, ErrBodyTooLarge},
	{"trailer-no-colon", "0\r\nBad Trailer\r\n\r\n", nil, ErrHeaderSyntax},
	{"trailer-space-before-colon", "0\r\nX : 1\r\n\r\n", nil, ErrHeaderSyntax},
	{"trailer-obs-fold", "0\r\nA: 1\r\n 2\r\n\r\n", nil, ErrHeaderSyntax},
	{"trailer-bare-lf", "0\r\nA: 1\n\r\n", nil, ErrLineEnding},
	{"trailer-final-bare-lf", "0\r\nA: 1\r\n\n", nil, ErrLineEnding},
	{"trailer-bare-cr", "0\r\nA: 1\r2\r\n\r\n", nil, ErrLineEnding},
	{"trailer-ctl", "0\r\nA: \x01\r\n\r\n", nil, ErrHeaderSyntax},
	{"trailers-too-large", "0\r\nA: " + strings.Repeat("v", 20) + "\r\n\r\n", &Limits{MaxHeaderBytes: 20}, ErrHeaderTooLarge},
	{"trailers-too-many", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &Limits{MaxHeaders: 2}, ErrTooManyHeaders},
}

// decodeFeeding runs a decoder the way the server does: src is what the
// connection holds, pieces[i] bytes arrive at a time, unconsumed bytes stay
// and are presented again with the next arrival. step 0 means all at once.
func decodeFeeding(raw string, lim *Limits, step int) (body string, consumed int, done bool, err error) {
	var d ChunkedDecoder
	d.Reset(lim)
	var out []byte
	arrived := 0
	for {
		if step == 0 {
			arrived = len(raw)
		} else {
			arrived = min(arrived+step, len(raw))
		}
		var n int
		out, n, done, err = d.Decode(out, []byte(raw[consumed:arrived]))
		consumed += n
		if err != nil || done || arrived == len(raw) {
			return string(out), consumed, done, err
		}
	}
}

func TestChunkedValid(t *testing.T) {
	for _, tc := range chunkedValid {
		for _, step := range []int{0, 1, 2, 3, 7, 64} {
			body, n, done, err := decodeFeeding(tc.raw+next, &testLimits, step)
			if err != nil || !done || n != len(tc.raw) || body != tc.body {
				t.Errorf("%s step %d: err=%v done=%v n=%d (want %d) body %q (want %q)",
					tc.name, step, err, done, n, len(tc.raw), abbrev(body), abbrev(tc.body))
			}
		}
	}
}

func TestChunkedBad(t *testing.T) {
	for _, tc := range chunkedBad {
		lim := tc.lim
		if lim == nil {
			lim = &testLimits
		}
		for _, step := range []int{0, 1, 5} {
			_, _, done, err := decodeFeeding(tc.raw, lim, step)
			if err != tc.want || done {
				t.Errorf("%s step %d: err=%v done=%v, want %v", tc.name, step, err, done, tc.want)
			}
		}
	}
}

// TestChunkedEverySplit cuts each body (valid or not) at every byte into two
// arrivals; the result must equal the one-shot result.
func TestChunkedEverySplit(t *testing.T) {
	type msg struct {
		name, raw string
		lim       *Limits
	}
	var msgs []msg
	for _, tc := range chunkedValid {
		if len(tc.raw) < 200 {
			msgs = append(msgs, msg{tc.name, tc.raw + next, &testLimits})
		}
	}
	for _, tc := range chunkedBad {
		if len(tc.raw) < 200 {
			msgs = append(msgs, msg{tc.name, tc.raw, tc.lim})
		}
	}
	for _, m := range msgs {
		wantBody, wantN, wantDone, wantErr := decodeFeeding(m.raw, m.lim, 0)
		for split := 0; split <= len(m.raw); split++ {
			var d ChunkedDecoder
			d.Reset(m.lim)
			out, n1, done, err := d.Decode(nil, []byte(m.raw[:split]))
			consumed := n1
			if err == nil && !done {
				var n2 int
				out, n2, done, err = d.Decode(out, []byte(m.raw[consumed:]))
				consumed += n2
			}
			if err != wantErr {
				t.Fatalf("%s split %d: err %v, one-shot %v", m.name, split, err, wantErr)
			}
			if err == nil && (string(out) != wantBody || consumed != wantN || done != wantDone) {
				t.Fatalf("%s split %d: body %q n=%d done=%v, one-shot %q n=%d done=%v",
					m.name, split, abbrev(string(out)), consumed, done, abbrev(wantBody), wantN, wantDone)
			}
		}
	}
}

// TestChunkedIncompleteLineKept: an incomplete line is not consumed, data is.
func TestChunkedIncompleteLineKept(t *testing.T) {
	for _, tc := range []struct {
		src   string
		wantN int
		body  string
	}{
		{"5", 0, ""},
		{"5\r", 0, ""},
		{"5\r\nhel", 6, "hel"},
		{"5\r\nhello", 8, "hello"},
		{"5\r\nhello\r", 8, "hello"},
		{"5\r\nhello\r\n0", 10, "hello"},
		{"5\r\nhello\r\n0\r\nX: 1", 13, "hello"},
		{"5\r\nhello\r\n0\r\nX: 1\r\n\r", 19, "hello"},
	} {
		var d ChunkedDecoder
		out, n, done, err := d.Decode(nil, []byte(tc.src)) // zero value: default limits
		if err != nil || done || n != tc.wantN || string(out) != tc.body {
			t.Errorf("%q: n=%d (want %d) body %q done=%v err=%v", tc.src, n, tc.wantN, out, done, err)
		}
	}
}

func TestChunkedStickyAndDone(t *testing.T) {
	var d ChunkedDecoder
	d.Reset(nil)
	if _, _, _, err := d.Decode(nil, []byte("zz\r\n")); err != ErrChunk {
		t.Fatalf("err %v", err)
	}
	if _, n, done, err := d.Decode(nil, []byte("5\r\nhello\r\n0\r\n\r\n")); err != ErrChunk || n != 0 || done {
		t.Fatalf("after an error: n=%d done=%v err=%v, want the same error again", n, done, err)
	}
	d.Reset(nil)
	out, n, done, err := d.Decode(nil, []byte("0\r\n\r\n"))
	if err != nil || !done || n != 5 || len(out) != 0 {
		t.Fatalf("after Reset: n=%d done=%v err=%v", n, done, err)
	}
	if _, n, done, err := d.Decode(nil, []byte(next)); err != nil || !done || n != 0 {
		t.Fatalf("after done: n=%d done=%v err=%v, want nothing consumed", n, done, err)
	}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
