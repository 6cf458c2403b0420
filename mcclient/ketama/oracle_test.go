package ketama

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The oracle is testdata/ketama_ref.c, libmemcached itself, built once per
// test binary into a temporary directory that TestMain removes.
var oracle struct {
	once sync.Once
	dir  string
	bin  string
	err  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if oracle.dir != "" {
		os.RemoveAll(oracle.dir)
	}
	os.Exit(code)
}

// refBin returns the path of the built oracle, failing the test (never
// skipping it) when cc or libmemcached-dev is missing.
func refBin(t testing.TB) string {
	t.Helper()
	oracle.once.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			oracle.err = "no C compiler (cc) on PATH; run `make deps`"
			return
		}
		if _, err := os.Stat("/usr/include/libmemcached/memcached.h"); err != nil {
			oracle.err = "libmemcached-dev is not installed; run `make deps`"
			return
		}
		dir, err := os.MkdirTemp("", "ketama-ref-")
		if err != nil {
			oracle.err = err.Error()
			return
		}
		oracle.dir = dir
		bin := filepath.Join(dir, "ketama_ref")
		out, err := exec.Command(cc, "-O1", "-Wall", "-o", bin, "testdata/ketama_ref.c", "-lmemcached").CombinedOutput()
		if err != nil {
			oracle.err = "building testdata/ketama_ref.c against libmemcached failed (run `make deps`): " + err.Error() + "\n" + string(out)
			return
		}
		oracle.bin = bin
	})
	if oracle.err != "" {
		t.Fatal(oracle.err)
	}
	return oracle.bin
}

// refArgs turns servers into the oracle's HOST PORT WEIGHT triplets, hosts
// without brackets, as a PHP or Python client would pass them.
func refArgs(t testing.TB, servers []Server) []string {
	t.Helper()
	var args []string
	for _, s := range servers {
		h, p, err := net.SplitHostPort(s.Addr)
		if err != nil {
			t.Fatalf("bad Addr %q: %v", s.Addr, err)
		}
		w := s.Weight
		if w == 0 {
			w = 1
		}
		args = append(args, h, p, strconv.FormatUint(uint64(w), 10))
	}
	return args
}

// runRef feeds keys to the oracle in mode ("place" or "set", with flags)
// and returns one output line per key.
func runRef(t testing.TB, mode []string, servers []Server, keys [][]byte) []string {
	t.Helper()
	var in bytes.Buffer
	for _, k := range keys {
		in.WriteString(hex.EncodeToString(k))
		in.WriteByte('\n')
	}
	cmd := exec.Command(refBin(t), append(mode, refArgs(t, servers)...)...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ketama_ref %v: %v\n%s", mode, err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != len(keys) {
		t.Fatalf("ketama_ref %v answered %d lines for %d keys", mode, len(lines), len(keys))
	}
	return lines
}

// refPlace returns libmemcached's server index for every key, with the
// servers at the dead indexes ejected the way libmemcached ejects them.
func refPlace(t testing.TB, servers []Server, keys [][]byte, dead ...int) []int {
	t.Helper()
	mode := []string{"place"}
	for _, d := range dead {
		mode = append(mode, "-dead", strconv.Itoa(d))
	}
	lines := runRef(t, mode, servers, keys)
	idx := make([]int, len(lines))
	for i, l := range lines {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n < 0 || n >= len(servers) {
			t.Fatalf("ketama_ref answered %q for key %.60q", l, keys[i])
		}
		idx[i] = n
	}
	return idx
}
