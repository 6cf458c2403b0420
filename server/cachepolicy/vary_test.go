package cachepolicy

import (
	"testing"
)

func TestAppendVaryNames(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
		ok    bool
	}{
		{nil, "", true},
		{[]string{"Accept-Encoding"}, "", true},
		{[]string{"Foo"}, "foo", true},
		{[]string{"Foo, Bar", "baz"}, "bar,baz,foo", true},
		{[]string{"Baz, foo, BAR, Foo, accept-encoding"}, "bar,baz,foo", true},
		{[]string{" , Foo ,, "}, "foo", true},
		{[]string{"*"}, "", false},
		{[]string{"Foo", "*"}, "", false},
		{[]string{"Foo, *"}, "", false},
		{[]string{"Foo;x"}, "", false},
		{[]string{"a,b,c,d,e,f,g,h"}, "a,b,c,d,e,f,g,h", true},
		{[]string{"a,b,c,d,e,f,g,h,i"}, "", false},
	}
	for _, tc := range tests {
		var lines [][]byte
		for _, l := range tc.lines {
			lines = append(lines, []byte(l))
		}
		got, ok := AppendVaryNames(nil, lines)
		if ok != tc.ok || (ok && string(got) != tc.want) {
			t.Errorf("%q: got %q %v, want %q %v", tc.lines, got, ok, tc.want, tc.ok)
		}
	}
}

func selecting(names string, fields [][2]string) (string, bool) {
	var s Selecting
	s.Reset()
	EachVaryName([]byte(names), func(name []byte) {
		s.Start(name)
		for _, f := range fields {
			if foldEqual([]byte(f[0]), name) {
				s.Add([]byte(f[1]))
			}
		}
		s.End()
	})
	b, ok := s.Bytes()
	return string(b), ok
}

func TestSelectingNormalises(t *testing.T) {
	same := []struct {
		names string
		a, b  [][2]string
	}{
		{"foo", [][2]string{{"Foo", "1, 2"}}, [][2]string{{"foo", "1"}, {"FOO", "2"}}},
		{"foo", [][2]string{{"Foo", "1,2"}}, [][2]string{{"Foo", " 1 , 2 "}}},
		{"foo", [][2]string{{"Foo", "1"}}, [][2]string{{"Foo", "1,,"}}},
		{"accept-language", [][2]string{{"Accept-Language", "en, de"}}, [][2]string{{"accept-language", "De,EN"}}},
		{"accept-language", [][2]string{{"Accept-Language", "en;q=0.5, de"}}, [][2]string{{"Accept-Language", "de, en ; q=0.5"}}},
		{"bar,foo", [][2]string{{"Foo", "1"}, {"Bar", "2"}}, [][2]string{{"Bar", "2"}, {"Foo", "1"}}},
	}
	for _, tc := range same {
		a, _ := selecting(tc.names, tc.a)
		b, _ := selecting(tc.names, tc.b)
		if a != b {
			t.Errorf("%s: %q and %q select differently: %q vs %q", tc.names, tc.a, tc.b, a, b)
		}
	}
	differ := []struct {
		names string
		a, b  [][2]string
	}{
		{"foo", [][2]string{{"Foo", "1"}}, [][2]string{{"Foo", "2"}}},
		{"foo", [][2]string{{"Foo", ""}}, nil},                           // empty is not missing
		{"foo", [][2]string{{"Foo", "a b"}}, [][2]string{{"Foo", "ab"}}}, // inner whitespace of unknown fields kept
		{"foo", [][2]string{{"Foo", "1, 2"}}, [][2]string{{"Foo", "2, 1"}}},
		{"bar,foo", [][2]string{{"Foo", "1"}}, [][2]string{{"Bar", "1"}}},
		// "=" and "\n" cannot be forged across fields: a value is a field
		// line, without CR or LF.
		{"bar,foo", [][2]string{{"Bar", "1"}, {"Foo", "2"}}, [][2]string{{"Bar", "1\nfoo=2"}}},
	}
	for _, tc := range differ {
		a, _ := selecting(tc.names, tc.a)
		b, _ := selecting(tc.names, tc.b)
		if a == b {
			t.Errorf("%s: %q and %q select the same: %q", tc.names, tc.a, tc.b, a)
		}
	}
	long := make([]byte, MaxSelecting+1)
	for i := range long {
		long[i] = 'x'
	}
	if _, ok := selecting("foo", [][2]string{{"Foo", string(long)}}); ok {
		t.Error("selecting values past MaxSelecting accepted")
	}
}

func TestSelectingAlloc(t *testing.T) {
	var s Selecting
	names := []byte("accept-language,foo")
	v1, v2 := []byte("en, de;q=0.5, fr"), []byte("1, 2")
	run := func() {
		s.Reset()
		EachVaryName(names, func(name []byte) {
			s.Start(name)
			if name[0] == 'a' {
				s.Add(v1)
			} else {
				s.Add(v2)
			}
			s.End()
		})
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocations per selecting build", n)
	}
	var buf [256]byte
	lines := [][]byte{[]byte("Foo, Accept-Language"), []byte("bar")}
	if n := testing.AllocsPerRun(100, func() { AppendVaryNames(buf[:0], lines) }); n != 0 {
		t.Fatalf("%v allocations per VaryNames", n)
	}
}

// FuzzVaryNames: any Vary lines give names that are sorted, lower-case,
// unique tokens, and normalising them again changes nothing; selecting
// values built for them never exceed their bound unnoticed.
func FuzzVaryNames(f *testing.F) {
	for _, s := range []string{"Foo", "Accept-Encoding, Foo", "*", "a,b,c,d,e,f,g,h,i", "Foo;x", " ,, Bar , foo", "accept-language"} {
		f.Add(s, "en, DE;q=0.5")
	}
	f.Fuzz(func(t *testing.T, vary, value string) {
		names, ok := AppendVaryNames(nil, [][]byte{[]byte(vary)})
		if !ok {
			return
		}
		again, ok2 := AppendVaryNames(nil, [][]byte{names})
		if !ok2 || string(again) != string(names) {
			t.Fatalf("%q → %q → %q %v", vary, names, again, ok2)
		}
		var s Selecting
		s.Reset()
		EachVaryName(names, func(name []byte) {
			s.Start(name)
			s.Add([]byte(value))
			s.End()
		})
		if b, ok := s.Bytes(); ok && len(b) > MaxSelecting {
			t.Fatalf("selecting %d bytes accepted", len(b))
		}
	})
}
