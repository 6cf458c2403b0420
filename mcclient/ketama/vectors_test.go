package ketama

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
)

// sharedVectors is the key → server table libmemcached 1.1.4 produced, kept
// beside the repository (../shared from its root) and not copied into it.
const sharedVectors = "../../../shared/memcached/ketama-vectors.txt"

// TestSharedVectors checks Pick against the shared vectors when the file is
// there; without it the libmemcached oracle tests still cover placement.
func TestSharedVectors(t *testing.T) {
	f, err := os.Open(sharedVectors)
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("%s is absent; relying on the libmemcached oracle tests", sharedVectors)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	rings := map[string]*Ring{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		// servers <TAB> Go-quoted key <TAB> index <TAB> server
		cols := strings.Split(text, "\t")
		if len(cols) != 4 {
			t.Fatalf("line %d: %d columns", line, len(cols))
		}
		key, err := strconv.Unquote(cols[1])
		if err != nil {
			t.Fatalf("line %d: key %s: %v", line, cols[1], err)
		}
		want, err := strconv.Atoi(cols[2])
		if err != nil {
			t.Fatalf("line %d: index %q: %v", line, cols[2], err)
		}
		r := rings[cols[0]]
		if r == nil {
			r = mustRing(t, cols[0])
			rings[cols[0]] = r
		}
		got := r.Pick([]byte(key))
		if got != want {
			t.Errorf("line %d: %.50s key %.60q: Pick %d, libmemcached %d", line, cols[0], key, got, want)
			continue
		}
		// The last column repeats the list entry (weight included).
		if entry := strings.Split(cols[0], ",")[got]; entry != cols[3] {
			t.Errorf("line %d: entry %d is %s, file says %s", line, got, entry, cols[3])
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 300 || len(rings) < 5 {
		t.Fatalf("only %d vectors over %d lists matched; file truncated?", n, len(rings))
	}
}
