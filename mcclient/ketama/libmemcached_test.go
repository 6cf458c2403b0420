package ketama

import (
	"crypto/md5"
	"encoding/binary"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// placementLists are server lists whose placement must equal libmemcached's
// key for key. Each exercises something: one server (no hashing), port
// 11211 vs others in point names, weights, the float32 point counts (25
// equal servers get 156 points each, 26 get 160), IPv6 hosts (hashed
// without brackets), weights near 2^32 (the total is summed in 64 bits),
// a server whose share is too small for any point, and the longest host
// libmemcached accepts.
var placementLists = []struct {
	list   string
	spread bool // whether several servers own points, so keys must spread
}{
	{"cache1.example:11211", false},
	{"10.0.0.1:11211,10.0.0.2:11211", true},
	{"127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213", true},
	{"localhost:11211,127.0.0.1:11211", true},
	{"cache-a:11211:3,cache-b:11300:1,cache-c:11211:2", true},
	{"10.0.1.1:11211:600,10.0.1.2:11211:300,10.0.1.3:11211:200,10.0.1.4:11211:350,10.0.1.5:11211:1000,10.0.1.6:11211:800,10.0.1.7:11211:950,10.0.1.8:11211:100", true},
	{equalServers("h", 25, 11211), true},
	{equalServers("h", 26, 11212), true},
	{equalServers("node", 47, 11222), true},
	{equalServers("w", MaxServers, 11211), true}, // the most libmemcached accepts
	{"[::1]:11211,[::1]:11212,[2001:db8::7]:11211:2,[fe80::1%eth0]:11211", true},
	{"big:11211:4294967295,small:11211:1,mid:11211:1000000", false},
	{"tiny:11211:1,huge:11211:100000", false},
	{strings.Repeat("a", MaxHostLen) + ":11211," + strings.Repeat("b", MaxHostLen) + ":65535:7", true},
}

// TestPlacementMatchesLibmemcached compares Pick with libmemcached's
// memcached_generate_hash on every list and a few thousand keys of all
// shapes.
func TestPlacementMatchesLibmemcached(t *testing.T) {
	keys := mixedKeys(3000, 1)
	for _, c := range placementLists {
		list := c.list
		servers := mustParse(t, list)
		r := mustNew(t, servers)
		want := refPlace(t, servers, keys)
		bad := 0
		used := make([]int, len(servers))
		for i, k := range keys {
			got := r.Pick(k)
			used[got]++
			if got != want[i] {
				if bad++; bad <= 3 {
					t.Errorf("%.60s: key %.60q: Pick %d, libmemcached %d", list, k, got, want[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%.60s: %d of %d keys placed differently from libmemcached", list, bad, len(keys))
		}
		// Guard against a vacuous pass: rings with several servers owning
		// points spread keys.
		if c.spread && slices.Max(used) == len(keys) {
			t.Errorf("%.60s: every key on one server", list)
		}
	}
}

// TestTiesGoToLowerIndex: two servers whose point names hash to the same
// value. libmemcached orders equal points by server index, so the key just
// below the shared value goes to whichever server is listed first.
func TestTiesGoToLowerIndex(t *testing.T) {
	// Found by hashing "mc0-0" … "mc1023-39": these pairs share one value.
	for _, pair := range [][2]string{{"mc150", "mc511"}, {"mc635", "mc651"}} {
		a, b := testPoints(pair[0]), testPoints(pair[1])
		var tie uint32
		found := false
		for v := range a {
			if b[v] {
				tie, found = v, true
			}
		}
		if !found {
			t.Fatalf("%v: no shared point value", pair)
		}
		// The largest point of either server below the tie bounds the
		// range of hashes that land on it.
		var below uint32
		for _, m := range []map[uint32]bool{a, b} {
			for v := range m {
				if v < tie && v > below {
					below = v
				}
			}
		}
		key := keyHashingInto(t, below, tie)
		for _, order := range [][2]string{pair, {pair[1], pair[0]}} {
			servers := mustParse(t, order[0]+","+order[1])
			r := mustNew(t, servers)
			if got := r.Pick(key); got != 0 {
				t.Errorf("%v: key %.60q on the tie went to server %d, want 0 (first listed)", order, key, got)
			}
			if lib := refPlace(t, servers, [][]byte{key})[0]; lib != 0 {
				t.Errorf("%v: libmemcached put the tie key on %d; the test's premise is wrong", order, lib)
			}
			// The tied point of the second server is only reachable
			// when the first is dead.
			if got := r.PickLive(key, func(i int) bool { return i != 0 }); got != 1 {
				t.Errorf("%v: PickLive with server 0 dead: %d, want 1", order, got)
			}
		}
	}
}

// testPoints computes a server's point values on port 11211 with 160
// points, straight from the libmemcached description.
func testPoints(host string) map[uint32]bool {
	m := map[uint32]bool{}
	for j := 0; j < 40; j++ {
		d := md5.Sum([]byte(host + "-" + strconv.Itoa(j)))
		for k := 0; k < 4; k++ {
			m[binary.LittleEndian.Uint32(d[4*k:])] = true
		}
	}
	return m
}

// keyHashingInto finds a key whose MD5-based hash lies in (lo, hi].
func keyHashingInto(t *testing.T, lo, hi uint32) []byte {
	for i := 0; i < 50_000_000; i++ {
		k := []byte("tie-" + strconv.Itoa(i))
		d := md5.Sum(k)
		if h := binary.LittleEndian.Uint32(d[:4]); h > lo && h <= hi {
			return k
		}
	}
	t.Fatalf("no key hashes into (%08x, %08x]", lo, hi)
	return nil
}

// ejectCases: libmemcached's auto-eject rebuilds the continuum from the live
// servers. agrees says whether that equals PickLive on every key: yes when
// no live server's point count changes (equal weights, here); no when it
// does, through unequal weights or float32 rounding (26 → 25 equal servers:
// 160 → 156 points each).
var ejectCases = []struct {
	list   string
	dead   []int
	agrees bool
}{
	{"10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211,10.0.0.4:11211", []int{1}, true},
	{"10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211,10.0.0.4:11211", []int{0, 3}, true},
	{equalServers("h", 12, 11300), []int{5, 6, 7}, true},
	{equalServers("h", 26, 11211), []int{25}, false},
	{"10.0.1.1:11211:600,10.0.1.2:11211:300,10.0.1.3:11211:200,10.0.1.4:11211:350,10.0.1.5:11211:1000,10.0.1.6:11211:800,10.0.1.7:11211:950,10.0.1.8:11211:100", []int{4}, false},
	{"a:11211:2,b:11211:1,c:11211:1", []int{2}, false},
	{equalServers("w", 70, 11300), []int{3, 63, 64, 65, 69}, true}, // 70 and 65 servers: 160 points
	{equalServers("w", MaxServers, 11300), []int{3, 63}, false},    // 100: 156 points, 98: 160
}

// TestEjectionAgainstLibmemcached establishes what libmemcached does while
// servers are ejected (the rebuilt continuum equals a ring built from the
// live servers alone) and checks PickLive's documented relation to it.
func TestEjectionAgainstLibmemcached(t *testing.T) {
	keys := mixedKeys(3000, 2)
	for _, c := range ejectCases {
		servers := mustParse(t, c.list)
		r := mustNew(t, servers)
		lib := refPlace(t, servers, keys, c.dead...)

		var live []Server
		var orig []int // index in servers of live[i]
		for i, s := range servers {
			if !slices.Contains(c.dead, i) {
				live, orig = append(live, s), append(orig, i)
			}
		}
		rebuilt := mustNew(t, live)
		alive := func(i int) bool { return !slices.Contains(c.dead, i) }

		movedLive, disagree := 0, 0
		for i, k := range keys {
			if got := orig[rebuilt.Pick(k)]; got != lib[i] {
				t.Fatalf("%.60s dead %v: key %.60q: libmemcached %d, ring of the live servers %d",
					c.list, c.dead, k, lib[i], got)
			}
			pl := r.PickLive(k, alive)
			if pl != lib[i] {
				disagree++
				if c.agrees {
					t.Errorf("%.60s dead %v: key %.60q: PickLive %d, libmemcached %d", c.list, c.dead, k, pl, lib[i])
				}
			}
			if p := r.Pick(k); alive(p) {
				if pl != p {
					t.Fatalf("%.60s dead %v: key %.60q of live server %d moved to %d", c.list, c.dead, k, p, pl)
				}
				if lib[i] != p {
					movedLive++
				}
			}
		}
		if !c.agrees && (disagree == 0 || movedLive == 0) {
			t.Errorf("%.60s dead %v: expected libmemcached to move keys of live servers (moved %d, disagreements %d)",
				c.list, c.dead, movedLive, disagree)
		}
		t.Logf("%.40s… dead %v: libmemcached moved %d of %d keys between live servers; PickLive moved none",
			c.list, c.dead, movedLive, len(keys))
	}
}

// TestLibmemcachedServerLimit backs MaxServers: libmemcached takes
// MaxServers servers but aborts on one more, and so does New (with an error).
func TestLibmemcachedServerLimit(t *testing.T) {
	for _, n := range []int{MaxServers, MaxServers + 1} {
		servers := make([]Server, n)
		for i := range servers {
			servers[i] = Server{Addr: "h" + strconv.Itoa(i) + ":11211"}
		}
		cmd := exec.Command(refBin(t), append([]string{"place"}, refArgs(t, servers)...)...)
		cmd.Stdin = strings.NewReader("6b6579\n")
		out, err := cmd.CombinedOutput()
		if libOK := err == nil; libOK != (n <= MaxServers) {
			t.Errorf("%d servers: libmemcached ok = %v (%v): %.200s", n, libOK, err, out)
		}
		if _, err := New(servers); (err == nil) != (n <= MaxServers) {
			t.Errorf("%d servers: New: %v", n, err)
		}
	}
}
