package ketama

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, fails only with a sentinel, and whatever it
// accepts is canonical (parsing the output again gives the same servers)
// and builds a ring.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"h1:11211,h2:11212:3", "[::1]:11211:2", "a,,b", "h:1:2:3", "fe80::1",
		"[fe80::1%eth0]", " x ,y:0", "h:99999", "h:1:4294967296", "",
	} {
		f.Add(s)
	}
	sentinels := []error{ErrNoServers, ErrTooManyServers, ErrEmptyEntry, ErrBadHost, ErrBadPort, ErrBadWeight, ErrDuplicateServer}
	f.Fuzz(func(t *testing.T, list string) {
		servers, err := Parse(list)
		if err != nil {
			if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("Parse(%q): error %v wraps no sentinel", list, err)
			}
			return
		}
		if len(servers) == 0 || len(servers) > MaxServers {
			t.Fatalf("Parse(%q): %d servers", list, len(servers))
		}
		canon := make([]string, len(servers))
		for i, s := range servers {
			if s.Weight == 0 {
				t.Fatalf("Parse(%q): weight 0", list)
			}
			canon[i] = s.Addr + ":" + strconv.FormatUint(uint64(s.Weight), 10)
		}
		again, err := Parse(strings.Join(canon, ","))
		if err != nil || !slices.Equal(again, servers) {
			t.Fatalf("Parse(%q) = %v; reparsed %v, %v", list, servers, again, err)
		}
		r, err := New(servers)
		if err != nil {
			t.Fatalf("New(Parse(%q)): %v", list, err)
		}
		if p := r.Pick([]byte(list)); p < 0 || p >= r.Len() {
			t.Fatalf("Pick out of range: %d", p)
		}
	})
}

// FuzzPick: for any key, Pick is the owner of the first point at or after
// the key's hash (wrapping), PickLive with everyone alive agrees, and with
// Pick's server dead PickLive finds the next other server on the ring.
func FuzzPick(f *testing.F) {
	for _, k := range []string{"", "VDEAAAAA", "example.com/", "\x00\xff\r\n", strings.Repeat("k", 300)} {
		f.Add([]byte(k))
	}
	r := mustRing(f, fixture8)
	f.Fuzz(func(t *testing.T, key []byte) {
		h := r.Hash(key)
		i := slices.IndexFunc(r.values, func(v uint32) bool { return v >= h })
		if i < 0 {
			i = 0
		}
		p := r.Pick(key)
		if p != int(r.owners[i]) {
			t.Fatalf("Pick(%q) = %d, want %d", key, p, r.owners[i])
		}
		if got := r.PickLive(key, func(int) bool { return true }); got != p {
			t.Fatalf("PickLive(all alive) = %d, Pick %d", got, p)
		}
		next := -1
		for j := 1; j < len(r.values); j++ {
			if o := int(r.owners[(i+j)%len(r.values)]); o != p {
				next = o
				break
			}
		}
		if got := r.PickLive(key, func(s int) bool { return s != p }); got != next {
			t.Fatalf("PickLive(%d dead) = %d, want %d", p, got, next)
		}
	})
}
