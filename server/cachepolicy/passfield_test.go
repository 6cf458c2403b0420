package cachepolicy

import "testing"

func TestForcesPass(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"X-HTTP-Method-Override", true},
		{"x-http-method-override", true},
		{"X-HTTP-Method", true},
		{"X-Method-Override", true},
		{"X-Original-URL", true},
		{"x-rewrite-url", true},
		{"X-Rewrite-URL ", false},
		{"X-HTTP-Methods", false},
		{"X-Original-URI", false},
		{"Accept", false},
		{"", false},
	} {
		if got := ForcesPass([]byte(tc.name)); got != tc.want {
			t.Errorf("ForcesPass(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
