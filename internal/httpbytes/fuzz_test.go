package httpbytes

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// FuzzEqualFold compares EqualFold with strings.EqualFold: the same answer on
// ASCII, and on anything else never a match that Unicode folding refuses
// (EqualFold only folds A-Z, a subset of what strings.EqualFold folds).
func FuzzEqualFold(f *testing.F) {
	f.Add("Content-Length", "content-length")
	f.Add("\u212Aeep-Alive", "keep-alive")
	f.Add("@[`{", "`{@[")
	f.Add("\xff\xfe", "\xff\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := EqualFold([]byte(a), b)
		if got != EqualFold([]byte(a), []byte(b)) || got != EqualFold([]byte(b), a) {
			t.Fatalf("EqualFold(%q, %q): string, bytes and swapped forms disagree", a, b)
		}
		std := strings.EqualFold(a, b)
		if isASCII(a) && isASCII(b) && got != std {
			t.Fatalf("EqualFold(%q, %q) = %v, strings.EqualFold = %v", a, b, got, std)
		}
		if got && !std {
			t.Fatalf("EqualFold(%q, %q) = true, strings.EqualFold = false", a, b)
		}
		if pre := HasPrefixFold([]byte(a), b); pre != (len(a) >= len(b) && EqualFold([]byte(a[:len(b)]), b)) {
			t.Fatalf("HasPrefixFold(%q, %q) = %v", a, b, pre)
		}
	})
}

// FuzzTrimOWS compares TrimOWS with bytes.TrimFunc and bytes.Trim.
func FuzzTrimOWS(f *testing.F) {
	f.Add([]byte(" \ta b\t "))
	f.Add([]byte("\xff \t"))
	f.Add([]byte("\r\n "))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := TrimOWS(b)
		want := bytes.TrimFunc(b, func(r rune) bool { return r == ' ' || r == '\t' })
		if !bytes.Equal(got, want) {
			t.Fatalf("TrimOWS(%q) = %q, bytes.TrimFunc gives %q", b, got, want)
		}
		if want := bytes.Trim(b, " \t"); !bytes.Equal(got, want) {
			t.Fatalf("TrimOWS(%q) = %q, bytes.Trim gives %q", b, got, want)
		}
	})
}

// FuzzList checks CutElement and HasElementFold against strings.Split.
func FuzzList(f *testing.F) {
	f.Add("keep-alive, Close", "close")
	f.Add(" ,,x-a\t,", "X-A")
	f.Fuzz(func(t *testing.T, list, s string) {
		parts := strings.Split(list, ",")
		var got []string
		rest := []byte(list)
		for more := true; more; {
			var elem []byte
			elem, rest, more = CutElement(rest)
			got = append(got, string(elem))
		}
		want := false
		if len(got) != len(parts) {
			t.Fatalf("CutElement over %q: %d elements, strings.Split gives %d", list, len(got), len(parts))
		}
		for i, p := range parts {
			p = strings.Trim(p, " \t")
			if got[i] != p {
				t.Fatalf("CutElement over %q: element %d is %q, want %q", list, i, got[i], p)
			}
			want = want || (p != "" && EqualFold([]byte(p), s))
		}
		if has := HasElementFold([]byte(list), s); has != want {
			t.Fatalf("HasElementFold(%q, %q) = %v, want %v", list, s, has, want)
		}
	})
}

// FuzzFieldValue compares IsFieldValue's word-at-a-time path with the byte
// rule, and TokenLen with IsTchar.
func FuzzFieldValue(f *testing.F) {
	f.Add([]byte("text/html; charset=utf-8\x7f"))
	f.Add([]byte("\t\xff\x80 abcdefgh\x1f"))
	f.Fuzz(func(t *testing.T, v []byte) {
		want := true
		for _, c := range v {
			want = want && (c == '\t' || c >= ' ' && c != 0x7f)
		}
		if got := IsFieldValue(v); got != want {
			t.Fatalf("IsFieldValue(%q) = %v, want %v", v, got, want)
		}
		n := 0
		for n < len(v) && IsTchar(v[n]) {
			n++
		}
		if got := TokenLen(v); got != n {
			t.Fatalf("TokenLen(%q) = %d, want %d", v, got, n)
		}
	})
}
