package cachepolicy

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// digestKey computes the documented digest form independently.
func digestKey(prefix, host, target string) string {
	sum := sha256.Sum256([]byte(host + target))
	return prefix + "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAppendKey(t *testing.T) {
	const p, h = "mcp:", "h.test"
	fits := "/" + strings.Repeat("y", MaxKeyLen-len(p+h)-1) // p+h+fits is exactly 250 bytes
	cases := []struct {
		name, prefix, host, target string
		digest                     bool
	}{
		{"plain", p, h, "/a?b=1&c=%20", false},
		{"no prefix", "", h, "/", false},
		{"every printable byte", p, h, "/!\"$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", false},
		{"250 bytes", p, h, fits, false},
		{"251 bytes", p, h, fits + "z", true},
		{"very long", p, h, "/" + strings.Repeat("x", 10000), true},
		{"space", p, h, "/a b", true},
		{"tab", p, h, "/a\tb", true},
		{"NUL", p, h, "/\x00", true},
		{"CR LF", p, h, "/\r\n", true},
		{"DEL", p, h, "/\x7f", true},
		{"UTF-8", p, h, "/caf\xc3\xa9", true},
		{"UTF-8 host", p, "b\xc3\xbccher.test", "/", true},
		{"empty everything", "", "", "", true},
		{"host starting with #", p, "#x", "/", true},
		{"empty host, target starting with #", p, "", "#x", true},
		{"# later is fine", p, h, "/#x", false},
	}
	for _, tc := range cases {
		want := tc.prefix + tc.host + tc.target
		if tc.digest {
			want = digestKey(tc.prefix, tc.host, tc.target)
			if len(want) != len(tc.prefix)+DigestLen {
				t.Fatalf("%s: independent digest has length %d", tc.name, len(want))
			}
		}
		got := AppendKey([]byte("keep"), []byte(tc.prefix), []byte(tc.host), []byte(tc.target))
		if string(got) != "keep"+want {
			t.Errorf("%s: AppendKey = %q, want %q", tc.name, got, "keep"+want)
		}
	}
}

// TestAppendKeyDigestFixedLength: digest keys have one length whatever the
// input, and differ for different inputs.
func TestAppendKeyDigestFixedLength(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{0, 1, 250, 251, 4096} {
		k := AppendKey(nil, []byte("p"), []byte("h h"), []byte(strings.Repeat("x", n)))
		if len(k) != 1+DigestLen || k[1] != '#' {
			t.Errorf("n=%d: %q", n, k)
		}
		if seen[string(k)] {
			t.Errorf("n=%d: duplicate key %q", n, k)
		}
		seen[string(k)] = true
	}
}
