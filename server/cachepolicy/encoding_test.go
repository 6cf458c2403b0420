package cachepolicy

import "testing"

func TestAcceptsEncoding(t *testing.T) {
	cases := []struct {
		ae, coding string
		want       bool
	}{
		{"gzip", "gzip", true},
		{"GZIP", "gzip", true},
		{"gzip", "GZip", true},
		{"x-gzip", "gzip", true},
		{"gzip", "x-gzip", true},
		{"x-compress", "compress", true},
		{"", "gzip", false},
		{"  ", "gzip", false},
		{"identity", "gzip", false},
		{"br", "gzip", false},
		{"gzipx", "gzip", false},
		{"deflate, gzip;q=0.001", "gzip", true},
		{"br;q=1.0, gzip;q=0.5", "gzip", true},
		{"gzip;q=1", "gzip", true},
		{"gzip;q=1.", "gzip", true},
		{"gzip;q=1.000", "gzip", true},
		{"gzip;q=0.", "gzip", false},
		{"gzip;q=0", "gzip", false},
		{"gzip; q=0.000", "gzip", false},
		{"gzip;Q=0", "gzip", false},
		{"gzip ; q=1", "gzip", true},
		{"gzip;q = 0.5", "gzip", true},
		{"gzip;level=9;q=0.5", "gzip", true},
		{"gzip;level=9", "gzip", true},
		{`gzip;x="a;q=0,b";q=0.2`, "gzip", true},
		{`gzip;x="a,q=0";q=0`, "gzip", false},
		{"gzip;q=0.5;q=0", "gzip", true}, // the first q counts
		// malformed q counts as 0
		{"gzip;q=2", "gzip", false},
		{"gzip;q=1.001", "gzip", false},
		{"gzip;q=0.0001", "gzip", false},
		{"gzip;q=abc", "gzip", false},
		{"gzip;q=", "gzip", false},
		{"gzip;q", "gzip", false},
		{"gzip;q=-1", "gzip", false},
		{"gzip;q=.5", "gzip", false},
		{"gzip;q=0.5x", "gzip", false},
		// star
		{"*", "gzip", true},
		{"*;q=0.1", "gzip", true},
		{"*;q=0", "gzip", false},
		{"*, gzip;q=0", "gzip", false},
		{"gzip;q=0, *", "gzip", false},
		{"*;q=0, gzip", "gzip", true},
		{"*, *;q=0", "gzip", false},
		{"br, *;q=0", "br", true},
		// listed twice: any q=0 refuses
		{"gzip, gzip;q=0", "gzip", false},
		{"x-gzip;q=0, gzip", "gzip", false},
		{"gzip;q=0.5, gzip", "gzip", true},
		// list syntax
		{",,gzip,,", "gzip", true},
		{"br,\tgzip", "gzip", true},
		{";q=1, gzip", "gzip", true},
		{`"gzip"`, "gzip", false},
		{"gz ip", "gzip", false},
		// identity is acceptable unless excluded
		{"", "identity", true},
		{"gzip", "identity", true},
		{"identity;q=0", "identity", false},
		{"*;q=0", "identity", false},
		{"*;q=0, identity", "identity", true},
		{"*;q=0, identity;q=0.5", "identity", true},
		{"br;q=0", "br", false},
		{"zstd, br", "br", true},
	}
	for _, tc := range cases {
		if got := AcceptsEncoding([]byte(tc.ae), tc.coding); got != tc.want {
			t.Errorf("AcceptsEncoding(%q, %q) = %v, want %v", tc.ae, tc.coding, got, tc.want)
		}
	}
}
