package cachepolicy

import "testing"

func TestWeakETag(t *testing.T) {
	cases := []struct {
		etag   string
		strong bool
		weak   string // AppendWeakETag's output
	}{
		{`"abc"`, true, `W/"abc"`},
		{`""`, true, `W/""`},
		{`"`, true, `W/"`}, // not checked past the DQUOTE
		{`"a b"`, true, `W/"a b"`},
		{`W/"abc"`, false, `W/"abc"`},
		{`w/"abc"`, false, `w/"abc"`},
		{`abc`, false, `abc`},
		{``, false, ``},
		{` "abc"`, false, ` "abc"`}, // the caller trims
		{`*`, false, `*`},
	}
	for _, c := range cases {
		if got := IsStrongETag([]byte(c.etag)); got != c.strong {
			t.Errorf("IsStrongETag(%q) = %v, want %v", c.etag, got, c.strong)
		}
		if got := string(AppendWeakETag([]byte("ETag: "), []byte(c.etag))); got != "ETag: "+c.weak {
			t.Errorf("AppendWeakETag(%q) = %q, want %q", c.etag, got, "ETag: "+c.weak)
		}
	}
}

func TestAllocsRecordRules(t *testing.T) {
	html, png, nonASCII := []byte("text/html; charset=utf-8"), []byte("image/png"), []byte("\u0130mage/png")
	name, etag := []byte("Last-Modified"), []byte(`"abc"`)
	dst := make([]byte, 0, 64)
	checks := map[string]func(){
		"Compressible html": func() { Compressible(html) },
		"Compressible png":  func() { Compressible(png) },
		"KeepOn304":         func() { KeepOn304(name) },
		"StoreTTL":          func() { StoreTTL(60, true, 10) },
		"IsStrongETag":      func() { IsStrongETag(etag) },
		"AppendWeakETag":    func() { AppendWeakETag(dst[:0], etag) },
	}
	for name, f := range checks {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
	if a := testing.AllocsPerRun(100, func() { Compressible(nonASCII) }); a != 1 {
		t.Errorf("Compressible non-ASCII: %v allocations, want 1", a)
	}
}
