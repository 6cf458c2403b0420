package ketama

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func mustRing(t testing.TB, list string) *Ring {
	t.Helper()
	s, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSharedVectors checks placement against vectors libmemcached itself
// produced (../shared beside the repository, as in CI).
func TestSharedVectors(t *testing.T) {
	f, err := os.Open("../../../shared/memcached/ketama-vectors.txt")
	if err != nil {
		t.Logf("shared vectors not present (%v); the libmemcached cross-check below still runs", err)
		return
	}
	defer f.Close()
	rings := map[string]*Ring{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("bad vector line %q", line)
		}
		key, err := strconv.Unquote(cols[1])
		if err != nil {
			t.Fatalf("key %q: %v", cols[1], err)
		}
		want, _ := strconv.Atoi(cols[2])
		r := rings[cols[0]]
		if r == nil {
			r = mustRing(t, cols[0])
			rings[cols[0]] = r
		}
		if got := r.Pick([]byte(key)); got != want {
			t.Errorf("%s %q: server %d, libmemcached %d", cols[0], key, got, want)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d vectors read", n)
	}
}

// buildRef compiles the libmemcached helper; libmemcached-dev comes from `make deps`.
func buildRef(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ketama_ref")
	out, err := exec.Command("cc", "-O1", "-o", bin, "testdata/ketama_ref.c", "-lmemcached").CombinedOutput()
	if err != nil {
		t.Fatalf("building the libmemcached helper failed (run `make deps`): %v\n%s", err, out)
	}
	return bin
}

func TestAgainstLibmemcached(t *testing.T) {
	ref := buildRef(t)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 3000)
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789/?=&%-._:~"
	for i := range keys {
		b := make([]byte, 1+rng.IntN(240))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		keys[i] = string(b)
	}
	keys = append(keys, "example.com/", "a", "mcpage:www.example.org/index.html?x=1")
	lists := []string{
		"10.0.0.1:11211,10.0.0.2:11211",
		"127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213",
		"cache-a:11211:3,cache-b:11300:1,cache-c:11211:2",
		"10.0.1.1:11211:600,10.0.1.2:11211:300,10.0.1.3:11211:200,10.0.1.4:11211:350,10.0.1.5:11211:1000,10.0.1.6:11211:800,10.0.1.7:11211:950,10.0.1.8:11211:100",
	}
	// 25 equal servers: libmemcached's float32 arithmetic gives 156 points each.
	var many []string
	for i := 0; i < 25; i++ {
		many = append(many, fmt.Sprintf("h%d:%d", i, 11211+i%2))
	}
	lists = append(lists, strings.Join(many, ","))
	for _, list := range lists {
		servers, _ := Parse(list)
		var args []string
		for _, s := range servers {
			args = append(args, fmt.Sprintf("%s:%d", strings.Split(s.Addr, ":")[0], mustPort(s.Addr))+":"+strconv.Itoa(int(s.Weight)))
		}
		cmd := exec.Command(ref, args...)
		cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		got := strings.Fields(string(out))
		if len(got) != len(keys) {
			t.Fatalf("helper answered %d lines for %d keys", len(got), len(keys))
		}
		r := mustRing(t, list)
		bad := 0
		for i, k := range keys {
			want, _ := strconv.Atoi(got[i])
			if p := r.Pick([]byte(k)); p != want {
				bad++
				if bad < 5 {
					t.Errorf("%s: key %q → %d, libmemcached %d", list, k, p, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d keys placed differently", list, bad, len(keys))
		}
	}
}

func mustPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, _ := strconv.Atoi(addr[i+1:])
	return p
}

func TestPickLiveMovesOnlyDeadKeys(t *testing.T) {
	r := mustRing(t, "a:11211,b:11211,c:11211,d:11212")
	dead := 2
	alive := func(i int) bool { return i != dead }
	moved := 0
	for i := 0; i < 20000; i++ {
		k := []byte("key-" + strconv.Itoa(i))
		before := r.Pick(k)
		after := r.PickLive(k, alive)
		if before != dead && after != before {
			t.Fatalf("%s moved from live server %d to %d", k, before, after)
		}
		if before == dead {
			moved++
			if after == dead || after < 0 {
				t.Fatalf("%s stayed on the dead server", k)
			}
		}
	}
	if moved == 0 {
		t.Fatal("no key lived on the dead server")
	}
	if got := r.PickLive([]byte("x"), func(int) bool { return false }); got != -1 {
		t.Fatalf("no live servers: %d", got)
	}
}

func TestParse(t *testing.T) {
	s, err := Parse("h1, h2:11300 ,h3:11211:5")
	if err != nil || len(s) != 3 || s[0].Addr != "h1:11211" || s[1].Addr != "h2:11300" || s[2].Weight != 5 {
		t.Fatalf("%v %v", s, err)
	}
	for _, bad := range []string{"", " , ", "h:0", "h:abc", "h:1:0", ":11211", "h:1:2:3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPickAllocatesNothing(t *testing.T) {
	r := mustRing(t, "a:11211,b:11211,c:11211")
	k := []byte("example.com/some/page?x=1")
	alive := func(i int) bool { return i != 1 }
	if a := testing.AllocsPerRun(100, func() { r.Pick(k); r.PickLive(k, alive) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func BenchmarkPick(b *testing.B) {
	r := mustRing(b, "a:11211,b:11211,c:11211,d:11211")
	k := []byte("example.com/some/page?x=1")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Pick(k)
	}
}
