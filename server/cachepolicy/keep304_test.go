package cachepolicy

import "testing"

func TestKeepOn304(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"ETag", true},
		{"etag", true},
		{"Date", true},
		{"DATE", true},
		{"Vary", true},
		{"Expires", true},
		{"Cache-Control", true},
		{"cache-control", true},
		{"Last-Modified", true},
		{"Content-Location", true},
		{"Content-Type", false},
		{"Content-Length", false},
		{"Content-Encoding", false},
		{"Location", false},
		{"Set-Cookie", false},
		{"X-Cache", false},
		{"ETag ", false},
		{" ETag", false},
		{"ETags", false},
		{"Eta", false},
		{"", false},
		{"Last_Modified", false},
		{"CDN-Cache-Control", false},
	}
	for _, c := range cases {
		if got := KeepOn304([]byte(c.name)); got != c.want {
			t.Errorf("KeepOn304(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}
