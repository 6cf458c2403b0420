package ketama

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixture8 is libmemcached's own ketama test ring (test/fixtures/ketama.hpp
// and test/tests/memcached/ketama.cpp in awesomized/libmemcached 1.1.4).
const fixture8 = "10.0.1.1:11211:600,10.0.1.2:11211:300,10.0.1.3:11211:200,10.0.1.4:11211:350," +
	"10.0.1.5:11211:1000,10.0.1.6:11211:800,10.0.1.7:11211:950,10.0.1.8:11211:100"

// TestLibmemcachedFixture replays a sample of libmemcached's own test
// vectors on fixture8: the key hash, the continuum point the key lands on,
// and the server.
func TestLibmemcachedFixture(t *testing.T) {
	r := mustRing(t, fixture8)
	for _, c := range []struct {
		key         string
		hash, point uint32
		server      string
	}{
		{"SVa_]_V41)", 443691461, 445379617, "10.0.1.7"},
		{"/XLN0@+36;", 1623269830, 1627683651, "10.0.1.1"},
		{"cDT0)Z5P6,", 176485284, 178675413, "10.0.1.5"},
		{"*Xc+V0P>32", 536016577, 539988520, "10.0.1.7"},
		{".=54)_c;=T", 2497691631, 2502731301, "10.0.1.1"},
		{"XY\\X::LX50", 1749241099, 1752196488, "10.0.1.6"},
		{"aPb3E1WD4K", 2500489218, 2502731301, "10.0.1.1"},
		{"bV2,`a.PY9", 1962228869, 1962648654, "10.0.1.1"},
		{"NP:=FR\\OaA", 3837333776, 3837792034, "10.0.1.7"},
		{"?K2NF@3=IU", 381218851, 383925769, "10.0.1.1"},
		{"\\R^7=9UCG`", 126218373, 129199837, "10.0.1.5"},
		{"\\[a\\^=V_M0", 689410119, 698690782, "10.0.1.6"},
		{"FL;\\GWacaV", 458449508, 467374054, "10.0.1.4"},
	} {
		k := []byte(c.key)
		if h := r.Hash(k); h != c.hash {
			t.Errorf("Hash(%q) = %d, libmemcached %d", c.key, h, c.hash)
		}
		if p := r.values[r.first(r.Hash(k))]; p != c.point {
			t.Errorf("%q lands on point %d, libmemcached %d", c.key, p, c.point)
		}
		if addr := r.Servers()[r.Pick(k)].Addr; addr != c.server+":11211" {
			t.Errorf("%q on %s, libmemcached %s", c.key, addr, c.server)
		}
	}
}

// TestWrapAround: "VDEAAAAA" hashes to fffcd1b5, past fixture8's last point
// fffbdf7f, so it wraps to the first point (libmemcached's ketama.cpp).
func TestWrapAround(t *testing.T) {
	r := mustRing(t, fixture8)
	k := []byte("VDEAAAAA")
	if h := r.Hash(k); h != 0xfffcd1b5 {
		t.Fatalf("Hash = %08x, want fffcd1b5", h)
	}
	if last := r.values[len(r.values)-1]; last != 0xfffbdf7f {
		t.Fatalf("last point %08x, want fffbdf7f", last)
	}
	if got, want := r.Pick(k), int(r.owners[0]); got != want {
		t.Fatalf("Pick = %d, want %d (the first point's server)", got, want)
	}
	// Dead owner of point 0: the walk goes on from point 0, not from the end.
	first := int(r.owners[0])
	next := -1
	for _, o := range r.owners {
		if int(o) != first {
			next = int(o)
			break
		}
	}
	if got := r.PickLive(k, func(i int) bool { return i != first }); got != next {
		t.Fatalf("PickLive = %d, want %d", got, next)
	}
}

func TestHash(t *testing.T) {
	r := mustRing(t, "a:1,b:2")
	for _, c := range []struct {
		key  string
		want uint32
	}{
		{"", 0xd98c1dd4},         // MD5("") = d41d8cd9…, little-endian
		{"VDEAAAAA", 0xfffcd1b5}, // libmemcached ketama.cpp
		{"SVa_]_V41)", 443691461},
	} {
		if got := r.Hash([]byte(c.key)); got != c.want {
			t.Errorf("Hash(%q) = %08x, want %08x", c.key, got, c.want)
		}
	}
}

// TestPointCounts checks the per-server point counts against numbers from
// libmemcached's C expression compiled with gcc on x86-64.
func TestPointCounts(t *testing.T) {
	perServer := func(r *Ring) []int {
		n := make([]int, r.Len())
		for _, o := range r.owners {
			n[o]++
		}
		return n
	}
	for _, c := range []struct {
		list string
		want []int
	}{
		{fixture8, []int{176, 88, 56, 104, 296, 236, 280, 28}}, // total 1264
		{"one:11211", []int{160}},
		{"a:1,b:1,c:1,d:1", []int{160, 160, 160, 160}},
		// 100000/100001 × 40 × 2 = 79.9992 → 79 digests; 1/100001 × 80 → 0.
		{"tiny:11211:1,huge:11211:100000", []int{0, 316}},
	} {
		r := mustRing(t, c.list)
		if got := perServer(r); !slices.Equal(got, c.want) {
			t.Errorf("%.40s: points %v, want %v", c.list, got, c.want)
		}
	}
	// Equal weights: libmemcached gives 156 instead of 160 points for these
	// server counts (float32 rounding of 1/n × 40 × n), 160 for all others.
	short := []int{25, 47, 50, 55, 61, 71, 94, 100, 107, 109, 110, 115, 122, 142, 159, 163, 188, 193}
	for n := 1; n < 200; n++ {
		want := 160
		if slices.Contains(short, n) {
			want = 156
		}
		if got := pointsFor(1, uint64(n), n); got != want {
			t.Errorf("%d equal servers: %d points each, want %d", n, got, want)
		}
	}
	r := mustRing(t, equalServers("h", 25, 11211))
	if got := perServer(r); slices.ContainsFunc(got, func(n int) bool { return n != 156 }) {
		t.Errorf("25 equal servers: %v", got)
	}
}

func TestPointName(t *testing.T) {
	for _, c := range []struct {
		host       string
		port, j    int
		want       string
		definition string
	}{
		{"10.0.1.1", 11211, 0, "10.0.1.1-0", "port 11211 is left out"},
		{"cache", 11212, 39, "cache:11212-39", "other ports are named"},
		{"::1", 11211, 7, "::1-7", "IPv6 without brackets"},
		{"::1", 11300, 1, "::1:11300-1", "IPv6 without brackets, port named"},
	} {
		if got := string(pointName(nil, c.host, c.port, c.j)); got != c.want {
			t.Errorf("%s: %q, want %q", c.definition, got, c.want)
		}
	}
}

func TestSingleServer(t *testing.T) {
	r := mustRing(t, "only:11300:9")
	calls := 0
	for _, k := range mixedKeys(200, 3) {
		if got := r.Pick(k); got != 0 {
			t.Fatalf("Pick = %d", got)
		}
		if got := r.PickLive(k, func(int) bool { calls++; return true }); got != 0 {
			t.Fatalf("PickLive = %d", got)
		}
		if got := r.PickLive(k, func(int) bool { return false }); got != -1 {
			t.Fatalf("PickLive, dead = %d", got)
		}
	}
	if calls != 200 {
		t.Fatalf("alive called %d times for 200 keys", calls)
	}
}

// TestPickLive checks PickLive against its definition, walking the points
// one by one, for several rings and sets of dead servers.
func TestPickLive(t *testing.T) {
	keys := mixedKeys(4000, 4)
	for _, c := range []struct {
		list string
		dead []int
	}{
		{"a:11211,b:11211,c:11211,d:11212", []int{2}},
		{"a:11211,b:11211,c:11211,d:11212", []int{0, 1, 3}},
		{fixture8, []int{4, 6}},
		{equalServers("n", 40, 11211), []int{0, 5, 9, 13, 22, 39}},
		{"tiny:11211:1,huge:11211:100000,other:11211:100000", []int{1}},
		// Dead servers in several words of PickLive's bitmap.
		{equalServers("w", MaxServers, 11211), []int{0, 63, 64, 65, 98, 99}},
	} {
		r := mustRing(t, c.list)
		dead := make([]bool, r.Len())
		for _, d := range c.dead {
			dead[d] = true
		}
		moved := 0
		for _, k := range keys {
			asked := make([]int, r.Len())
			got := r.PickLive(k, func(i int) bool { asked[i]++; return !dead[i] })
			if got < 0 || dead[got] {
				t.Fatalf("%.30s: key %.60q on dead or no server %d", c.list, k, got)
			}
			if slices.Max(asked) > 1 {
				t.Fatalf("%.30s: alive asked twice about a server: %v", c.list, asked)
			}
			// Definition: walk from the key's hash to the first live point.
			h := r.Hash(k)
			want := -1
			for j := range 2 * len(r.values) {
				p := j % len(r.values)
				if j < len(r.values) && r.values[p] < h {
					continue
				}
				if !dead[r.owners[p]] {
					want = int(r.owners[p])
					break
				}
			}
			if got != want {
				t.Fatalf("%.30s: key %.60q: PickLive %d, walk %d", c.list, k, got, want)
			}
			if p := r.Pick(k); !dead[p] && got != p {
				t.Fatalf("%.30s: key %.60q moved from live %d to %d", c.list, k, p, got)
			} else if dead[p] {
				moved++
			}
		}
		if moved == 0 {
			t.Errorf("%.30s: no key lived on a dead server; the case tests nothing", c.list)
		}
	}
}

// TestPickLiveNoneAlive: -1, after asking each server with points once.
func TestPickLiveNoneAlive(t *testing.T) {
	for _, list := range []string{"a:1,b:2", fixture8, "tiny:11211:1,huge:11211:100000", equalServers("w", MaxServers, 11211)} {
		r := mustRing(t, list)
		asked := map[int]int{}
		if got := r.PickLive([]byte("k"), func(i int) bool { asked[i]++; return false }); got != -1 {
			t.Errorf("%.30s: PickLive = %d, want -1", list, got)
		}
		if len(asked) != r.withPoints {
			t.Errorf("%.30s: asked about %d servers, %d own points", list, len(asked), r.withPoints)
		}
	}
	// Only the server owning no point is alive: nothing can be picked.
	r := mustRing(t, "tiny:11211:1,huge:11211:100000")
	if got := r.PickLive([]byte("k"), func(i int) bool { return i == 0 }); got != -1 {
		t.Errorf("point-less server picked: %d", got)
	}
}

func TestServersIsACopy(t *testing.T) {
	in := []Server{{Addr: "a:11211"}, {Addr: "[::1]:011300", Weight: 4}}
	r := mustNew(t, in)
	in[0].Addr = "changed:1"
	got := r.Servers()
	want := []Server{{Addr: "a:11211", Weight: 1}, {Addr: "[::1]:11300", Weight: 4}}
	if !slices.Equal(got, want) {
		t.Fatalf("Servers = %v, want %v", got, want)
	}
	got[0].Addr = "mutated:1"
	if r.Servers()[0].Addr != "a:11211" {
		t.Fatal("Servers shares its slice with the ring")
	}
	if r.Len() != 2 {
		t.Fatalf("Len = %d", r.Len())
	}
}

func TestNewErrors(t *testing.T) {
	many := make([]Server, MaxServers+1)
	for i := range many {
		many[i] = Server{Addr: "h" + strconv.Itoa(i) + ":11211"}
	}
	for _, c := range []struct {
		servers []Server
		want    error
	}{
		{nil, ErrNoServers},
		{many, ErrTooManyServers},
		{[]Server{{Addr: "nohost"}}, ErrBadHost},
		{[]Server{{Addr: ":11211"}}, ErrBadHost},
		{[]Server{{Addr: "bad host:11211"}}, ErrBadHost},
		{[]Server{{Addr: "[not-v6]:11211"}}, ErrBadHost},
		{[]Server{{Addr: strings.Repeat("a", MaxHostLen+1) + ":1"}}, ErrBadHost},
		{[]Server{{Addr: "h:0"}}, ErrBadPort},
		{[]Server{{Addr: "h:65536"}}, ErrBadPort},
		{[]Server{{Addr: "h:+1"}}, ErrBadPort},
		{[]Server{{Addr: "h:"}}, ErrBadPort},
		{[]Server{{Addr: "a:11211"}, {Addr: "a:011211"}}, ErrDuplicateServer},
	} {
		if _, err := New(c.servers); !errors.Is(err, c.want) {
			t.Errorf("New(%.40v) = %v, want %v", c.servers, err, c.want)
		}
	}
	if _, err := New(many[:MaxServers]); err != nil {
		t.Errorf("New with MaxServers servers: %v", err)
	}
}

// TestAllocs pins the hot paths at zero allocations (exact without -race
// too: nothing here uses sync.Pool).
func TestAllocs(t *testing.T) {
	r := mustRing(t, fixture8)
	one := mustRing(t, "only:11211")
	k := []byte("example.com/some/page?x=1")
	alive := func(i int) bool { return i != r.Pick(k) }
	none := func(int) bool { return false }
	for name, f := range map[string]func(){
		"Hash":              func() { r.Hash(k) },
		"Pick":              func() { r.Pick(k) },
		"PickLive":          func() { r.PickLive(k, alive) },
		"PickLive all dead": func() { r.PickLive(k, none) },
		"Pick one server":   func() { one.Pick(k) },
	} {
		if a := testing.AllocsPerRun(200, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range []struct {
		name string
		list string
	}{
		{"servers=8", fixture8},
		{"servers=64", equalServers("h", 64, 11211)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := mustRing(b, bc.list)
			k := []byte("www.example.com/news/2026/11/25/some-article?page=2")
			b.SetBytes(int64(len(k)))
			b.ReportAllocs()
			for b.Loop() {
				r.Pick(k)
			}
		})
	}
}

func BenchmarkPickLive(b *testing.B) {
	r := mustRing(b, fixture8)
	k := []byte("www.example.com/news/2026/11/25/some-article?page=2")
	dead := r.Pick(k)
	alive := func(i int) bool { return i != dead }
	b.SetBytes(int64(len(k)))
	b.ReportAllocs()
	for b.Loop() {
		r.PickLive(k, alive)
	}
}

func BenchmarkNew(b *testing.B) {
	servers := mustParse(b, equalServers("h", 64, 11211))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(servers); err != nil {
			b.Fatal(err)
		}
	}
}
