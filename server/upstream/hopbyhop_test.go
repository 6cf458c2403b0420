package upstream

import (
	"slices"
	"testing"
)

func TestConnTokens(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{"", nil},
		{"close", []string{"close"}},
		{"keep-alive, X-Foo", []string{"keep-alive", "X-Foo"}},
		{" X-A ,\tX-B\t,, ,X-C ", []string{"X-A", "X-B", "X-C"}},
		{",,,", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, tok := range connTokens(nil, []byte(tt.value)) {
			got = append(got, string(tok))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("connTokens(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}
