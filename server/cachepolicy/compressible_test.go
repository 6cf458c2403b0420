package cachepolicy

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestCompressible(t *testing.T) {
	cases := []struct {
		ctype string
		want  bool
	}{
		{"", true},
		{"text/html", true},
		{"text/html; charset=utf-8", true},
		{"application/json", true},
		{"application/javascript", true},
		{"image/svg+xml", true},
		{"IMAGE/SVG+XML", true},
		{"  image/svg+xml  ", true},
		{"image/png", false},
		{"Image/PNG", false},
		{" \timage/jpeg\r\n", false},
		{"image/", false},
		{"video/mp4", false},
		{"audio/ogg", false},
		{"font/woff", false},
		{"font/woff2", false},
		{"font/ttf", true},
		{"application/zip", false},
		{"application/gzip", false},
		{"application/x-gzip", false},
		{"application/zstd", false},
		{"application/x-7z-compressed", false},
		{"application/x-rar-compressed", false},
		{"application/zipper", false}, // a prefix match, as always
		{"application/octet-stream", true},
		{"imagex/png", true},
		{"x image/png", true},
		// Non-ASCII values are lower-cased with Unicode simple folding:
		// U+0130 (İ) folds to "i".
		{"\u0130mage/png", false},
		{"\u0130mage/svg", true},
		{"caf\u00e9/x", true},
		{"\u00a0image/png", false}, // NBSP is white space to bytes.TrimSpace
	}
	for _, c := range cases {
		if got := Compressible([]byte(c.ctype)); got != c.want {
			t.Errorf("Compressible(%q) = %v, want %v", c.ctype, got, c.want)
		}
	}
}

// compressibleReference is the rule as server/fill.go had it before it moved
// here; Compressible must agree with it on every value.
func compressibleReference(ctype []byte) bool {
	ct := bytes.ToLower(bytes.TrimSpace(ctype))
	for _, p := range incompressible {
		if bytes.HasPrefix(ct, []byte(p)) {
			return bytes.HasPrefix(ct, []byte("image/svg"))
		}
	}
	return true
}

func TestCompressibleMatchesReference(t *testing.T) {
	alphabet := []string{"i", "I", "m", "a", "g", "e", "/", "s", "v", "G", "z", "p", "application/", "image/",
		"font/WOFF", " ", "\t", "\u0130", "\u00a0", "\xff", "x-", "7", "rar", "ZIP", "svg"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b []byte
		for n := rng.IntN(6); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))]...)
		}
		if got, want := Compressible(b), compressibleReference(b); got != want {
			t.Fatalf("Compressible(%q) = %v, reference %v", b, got, want)
		}
	}
}
