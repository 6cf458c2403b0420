package httpbytes

import (
	"slices"
	"strings"
	"testing"
)

// pair is a case of a two-argument predicate: f(a, b) should be want.
type pair struct {
	a, b string
	want bool
}

// checkPairs runs f, called name in messages, over cases.
func checkPairs(t *testing.T, name string, f func(a, b string) bool, cases []pair) {
	t.Helper()
	for _, c := range cases {
		if got := f(c.a, c.b); got != c.want {
			t.Errorf("%s(%q, %q) = %v, want %v", name, c.a, c.b, got, c.want)
		}
	}
}

func TestLower(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c) + 32
		}
		if got := Lower(byte(c)); got != want {
			t.Errorf("Lower(%#x) = %#x, want %#x", c, got, want)
		}
	}
}

func TestEqualFold(t *testing.T) {
	cases := []pair{
		{"", "", true},
		{"a", "", false},
		{"", "a", false},
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "Content-Length", true},
		{"content-length", "content-lengtH", true},
		{"content-length", "content-lengthx", false},
		{"content_length", "content-length", false},
		{"@", "`", false}, // 0x40 and 0x60 differ by 0x20 but are not letters
		{"[", "{", false},
		{"\u212Aeep-Alive", "keep-alive", false}, // Kelvin sign folds only under Unicode rules
		{"\xff", "\xff", true},
		{"\xc3\x89", "\xc3\xa9", false}, // É and é: not ASCII
	}
	checkPairs(t, "EqualFold", func(a, b string) bool { return EqualFold([]byte(a), b) }, cases)
	checkPairs(t, "EqualFold/bytes", func(a, b string) bool { return EqualFold([]byte(a), []byte(b)) }, cases)
	checkPairs(t, "EqualFold/swapped", func(a, b string) bool { return EqualFold([]byte(b), a) }, cases)
}

func TestEqualFoldAllBytes(t *testing.T) {
	for c := 0; c < 256; c++ {
		for d := 0; d < 256; d++ {
			want := Lower(byte(c)) == Lower(byte(d))
			if got := EqualFold([]byte{byte(c)}, []byte{byte(d)}); got != want {
				t.Fatalf("EqualFold(%#x, %#x) = %v, want %v", c, d, got, want)
			}
		}
	}
}

func TestHasPrefixFold(t *testing.T) {
	checkPairs(t, "HasPrefixFold", func(a, b string) bool { return HasPrefixFold([]byte(a), b) }, []pair{
		{"HTTP://a/", "http://", true},
		{"http:/", "http://", false},
		{"https://a", "http://", false},
		{"anything", "", true},
		{"", "", true},
	})
}

func TestTrimOWS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{" ", ""},
		{" \t \t", ""},
		{"a", "a"},
		{" a ", "a"},
		{"\ta b\t", "a b"},
		{"\r\na\r\n", "\r\na\r\n"}, // CR and LF are not OWS
		{"\va\f", "\va\f"},
		{"\u00a0a\u00a0", "\u00a0a\u00a0"}, // nor is NBSP
	}
	for _, tt := range tests {
		if got := string(TrimOWS([]byte(tt.in))); got != tt.want {
			t.Errorf("TrimOWS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(tchar, byte(c)) >= 0
		if got := IsTchar(byte(c)); got != want {
			t.Errorf("IsTchar(%#x) = %v, want %v", c, got, want)
		}
	}
	tests := []struct {
		in   string
		want int // TokenLen
		tok  bool
	}{
		{"", 0, false},
		{"GET", 3, true},
		{"X-Custom_Field.1", 16, true},
		{"Host:", 4, false},
		{"a b", 1, false},
		{"\"q\"", 0, false},
		{"(x)", 0, false},
		{"é", 0, false},
	}
	for _, tt := range tests {
		if got := TokenLen([]byte(tt.in)); got != tt.want {
			t.Errorf("TokenLen(%q) = %d, want %d", tt.in, got, tt.want)
		}
		if got := IsToken([]byte(tt.in)); got != tt.tok {
			t.Errorf("IsToken(%q) = %v, want %v", tt.in, got, tt.tok)
		}
	}
}

func TestFieldValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c == '\t' || c >= ' ' && c != 0x7f
		// Every position of a word and of the tail gives the same answer.
		for _, n := range []int{1, 7, 8, 9, 16, 23} {
			for pos := 0; pos < n; pos++ {
				v := []byte(strings.Repeat("a", n))
				v[pos] = byte(c)
				if got := IsFieldValue(v); got != want {
					t.Fatalf("IsFieldValue(%q) = %v, want %v", v, got, want)
				}
			}
		}
	}
	if !IsFieldValue(nil) {
		t.Error("IsFieldValue(nil) = false")
	}
}

func TestQuotedStringLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{``, -1},
		{`a`, -1},
		{`"`, -1},
		{`""`, 2},
		{`"abc"`, 5},
		{`"abc";x`, 5},
		{`"a\"b"`, 6},
		{`"a\\"b"`, 5},
		{`"a\"`, -1},
		{`"a\`, -1},
		{"\"a\tb c\xff\"", 8},
		{"\"a\x00\"", -1},
		{"\"a\\\x7f\"", -1},
		{"\"a\r\n\"", -1},
	}
	for _, tt := range tests {
		if got := QuotedStringLen([]byte(tt.in)); got != tt.want {
			t.Errorf("QuotedStringLen(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCutElement(t *testing.T) {
	tests := []struct {
		list string
		want []string // every element, empty ones included
	}{
		{"", []string{""}},
		{"close", []string{"close"}},
		{" keep-alive , X-Foo\t", []string{"keep-alive", "X-Foo"}},
		{"5,", []string{"5", ""}},
		{",,", []string{"", "", ""}},
		{" X-A ,\tX-B\t,, ,X-C ", []string{"X-A", "X-B", "", "", "X-C"}},
	}
	for _, tt := range tests {
		var got []string
		list := []byte(tt.list)
		for more := true; more; {
			var elem []byte
			elem, list, more = CutElement(list)
			got = append(got, string(elem))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("CutElement over %q = %q, want %q", tt.list, got, tt.want)
		}
	}
}

func TestHasElementFold(t *testing.T) {
	cases := []pair{
		{"close", "close", true},
		{"Keep-Alive, CLOSE", "close", true},
		{"keep-alive,close ", "close", true},
		{"closed", "close", false},
		{"clo se", "close", false},
		{"x-close", "close", false},
		{"", "close", false},
		{",,", "", false},
		{"a,,b", "", false},
		{" X-Foo ,\tx-bar", "X-BAR", true},
	}
	checkPairs(t, "HasElementFold", func(a, b string) bool { return HasElementFold([]byte(a), b) }, cases)
	checkPairs(t, "HasElementFold/bytes", func(a, b string) bool { return HasElementFold([]byte(a), []byte(b)) }, cases)
}

func TestIsHopByHop(t *testing.T) {
	checkPairs(t, "IsHopByHop", func(name, _ string) bool { return IsHopByHop([]byte(name)) }, []pair{
		{"Connection", "", true},
		{"connection", "", true},
		{"CONNECTION", "", true},
		{"Keep-Alive", "", true},
		{"keep-alive", "", true},
		{"Proxy-Connection", "", true},
		{"proxy-CONNECTION", "", true},
		{"TE", "", true},
		{"te", "", true},
		{"Trailer", "", true},
		{"trailer", "", true},
		{"Transfer-Encoding", "", true},
		{"TRANSFER-encoding", "", true},
		{"Upgrade", "", true},
		{"uPgRaDe", "", true},
		// Near misses and end-to-end fields.
		{"", "", false},
		{"T", "", false},
		{"TE2", "", false},
		{"Trailers", "", false},
		{"Connections", "", false},
		{"Keep-Alive2", "", false},
		{"KeepAlive", "", false},
		{"Proxy-Connectio", "", false},
		{"Transfer-Encodinf", "", false},
		{"Content-Length", "", false},
		{"Content-Encoding", "", false},
		{"Upgrade-Insecure-Requests", "", false},
		{"Proxy-Authorization", "", false},
		{"Set-Cookie", "", false},
		{"Host", "", false},
		// Bytes that fold to the right letters only under Unicode rules.
		{"\u212Aeep-Alive", "", false},
	})
}

func TestAppendPlain(t *testing.T) {
	got := AppendPlainHead([]byte("x"), 502, "Bad Gateway")
	got = append(got, "X-Cache: MISS\r\n"...)
	got = AppendPlainBody(got, "Bad Gateway", false)
	const want = "xHTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"X-Cache: MISS\r\nContent-Length: 12\r\n\r\nBad Gateway\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got = AppendPlainBody(AppendPlainHead(nil, 599, ""), "", true)
	const want2 = "HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: 1\r\nConnection: close\r\n\r\n\n"
	if string(got) != want2 {
		t.Errorf("got %q\nwant %q", got, want2)
	}
}

func TestAllocs(t *testing.T) {
	name := []byte("Transfer-ENCODING")
	value := []byte(" keep-alive, X-Foo ,close\t")
	dst := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		_ = EqualFold(name, "transfer-encoding")
		_ = EqualFold(name, name)
		_ = HasPrefixFold(name, "transfer")
		_ = TrimOWS(value)
		_ = IsToken(name)
		_ = IsFieldValue(value)
		_ = QuotedStringLen(value)
		_ = HasElementFold(value, "close")
		_ = HasElementFold(value, name)
		_ = IsHopByHop(name)
		_ = AppendPlainBody(AppendPlainHead(dst[:0], 503, "Service Unavailable"), "Service Unavailable", true)
	})
	if n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}
