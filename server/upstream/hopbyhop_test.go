package upstream

import (
	"slices"
	"testing"
)

func TestIsHopByHop(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Connection", true},
		{"connection", true},
		{"CONNECTION", true},
		{"Keep-Alive", true},
		{"keep-alive", true},
		{"Proxy-Connection", true},
		{"proxy-CONNECTION", true},
		{"TE", true},
		{"te", true},
		{"Trailer", true},
		{"trailer", true},
		{"Transfer-Encoding", true},
		{"TRANSFER-encoding", true},
		{"Upgrade", true},
		{"uPgRaDe", true},
		// Near misses and end-to-end fields.
		{"", false},
		{"T", false},
		{"TE2", false},
		{"Trailers", false},
		{"Connections", false},
		{"Keep-Alive2", false},
		{"KeepAlive", false},
		{"Proxy-Connectio", false},
		{"Transfer-Encodinf", false},
		{"Content-Length", false},
		{"Content-Encoding", false},
		{"Upgrade-Insecure-Requests", false},
		{"Proxy-Authorization", false},
		{"Set-Cookie", false},
		{"Host", false},
		// Bytes that fold to the right letters only under Unicode rules.
		{"\u212Aeep-Alive", false},
	}
	for _, tt := range tests {
		if got := IsHopByHop([]byte(tt.name)); got != tt.want {
			t.Errorf("IsHopByHop(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsHopByHopAllocs(t *testing.T) {
	name := []byte("transfer-ENCODING")
	if n := testing.AllocsPerRun(100, func() { IsHopByHop(name) }); n != 0 {
		t.Fatalf("IsHopByHop allocates %v times per call", n)
	}
}

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
