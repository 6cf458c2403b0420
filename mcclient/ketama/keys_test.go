package ketama

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// mixedKeys returns n deterministic keys of every shape placement must not
// care about: URL-like, arbitrary bytes (NUL, CR, LF, 0xff), long (up to
// 4 KiB) and empty, plus fixed ones from libmemcached's own tests.
func mixedKeys(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0x6b6574616d61))
	keys := [][]byte{
		{},
		[]byte("VDEAAAAA"), // hashes past the last point of the 8-server fixture: wraps
		[]byte("example.com/"),
		[]byte("mcpage:www.example.org/index.html?x=1"),
		[]byte("café.example/über"),
		{0, 0, 0},
		[]byte("\r\n"),
	}
	for len(keys) < n {
		switch len(keys) % 4 {
		case 0, 1:
			keys = append(keys, textKey(rng))
		case 2:
			b := make([]byte, 1+rng.IntN(64))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
			keys = append(keys, b)
		default:
			keys = append(keys, []byte(strings.Repeat(string(textKey(rng)), 1+rng.IntN(40))))
		}
	}
	return keys
}

// textKeys returns n distinct keys memcached's text protocol accepts as
// they are (1..250 bytes, no space or control byte), for tests that store
// them on real servers.
func textKeys(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0x74657874))
	seen := map[string]bool{}
	var keys [][]byte
	for len(keys) < n {
		k := textKey(rng)
		if len(keys)%10 == 0 {
			k = append(k, "/é/ü"...) // UTF-8 bytes are fine in text keys
		}
		if !seen[string(k)] {
			seen[string(k)] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func textKey(rng *rand.Rand) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?=&%-._:~"
	b := make([]byte, 1+rng.IntN(200))
	for j := range b {
		b[j] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

func mustParse(t testing.TB, list string) []Server {
	t.Helper()
	s, err := Parse(list)
	if err != nil {
		t.Fatalf("Parse(%q): %v", list, err)
	}
	return s
}

func mustNew(t testing.TB, servers []Server) *Ring {
	t.Helper()
	r, err := New(servers)
	if err != nil {
		t.Fatalf("New(%v): %v", servers, err)
	}
	return r
}

func mustRing(t testing.TB, list string) *Ring {
	t.Helper()
	return mustNew(t, mustParse(t, list))
}

// equalServers returns "prefix1:port,...,prefixN:port".
func equalServers(prefix string, n, port int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString(prefix)
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(port))
	}
	return b.String()
}
