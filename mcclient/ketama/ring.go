package ketama

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// Ring is libmemcached's KETAMA_WEIGHTED continuum over a fixed server list.
// It is immutable once New returns: every method may be called from any
// number of goroutines at once without locking.
type Ring struct {
	servers []Server // canonical Addr, Weight ≥ 1, in list order
	// values holds the point values in ascending order (ties: lower server
	// index first); owners[i] is the server index of values[i]. Two columns
	// keep the binary search on 4-byte entries.
	values []uint32
	owners []uint16
	// withPoints counts servers owning at least one point. A server whose
	// weight share is tiny gets none, in libmemcached as here, and is never
	// picked.
	withPoints int
}

// New builds the ring for servers in list order; the order matters, as in
// libmemcached (it breaks ties between equal points). New copies servers, so
// the caller may reuse the slice. Each Addr must be "host:port" with a host
// and port Parse would accept; Weight 0 means 1. Errors wrap ErrNoServers,
// ErrTooManyServers, ErrBadHost, ErrBadPort or ErrDuplicateServer.
//
// New may be called from any goroutine. It hashes up to 40 MD5 digests per
// server, so build a ring once per configuration, not per request.
func New(servers []Server) (*Ring, error) {
	if len(servers) == 0 {
		return nil, ErrNoServers
	}
	if len(servers) > MaxServers {
		return nil, fmt.Errorf("%w: %d > %d", ErrTooManyServers, len(servers), MaxServers)
	}
	r := &Ring{servers: make([]Server, len(servers))}
	hosts := make([]string, len(servers))
	ports := make([]int, len(servers))
	weights := make([]uint32, len(servers))
	seen := make(map[string]struct{}, len(servers))
	for i, s := range servers {
		host, port, err := splitAddr(s.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: server %d %q", err, i, clip(s.Addr))
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if _, dup := seen[addr]; dup {
			return nil, fmt.Errorf("%w: server %d %q", ErrDuplicateServer, i, clip(s.Addr))
		}
		seen[addr] = struct{}{}
		w := s.Weight
		if w == 0 {
			w = 1
		}
		r.servers[i] = Server{Addr: addr, Weight: w}
		hosts[i], ports[i], weights[i] = host, port, w
	}
	r.values, r.owners = buildContinuum(hosts, ports, weights)
	var has [MaxServers]bool
	for _, o := range r.owners {
		if !has[o] {
			has[o] = true
			r.withPoints++
		}
	}
	return r, nil
}

// Len returns the number of servers, including any that own no point.
func (r *Ring) Len() int { return len(r.servers) }

// Servers returns a fresh copy of the server list, index i being the server
// Pick and PickLive call i: Addr canonical ("host:port", IPv6 in brackets),
// Weight at least 1. The caller owns the slice.
func (r *Ring) Servers() []Server { return slices.Clone(r.servers) }

// Hash returns libmemcached's key hash in this mode: the little-endian uint32
// of MD5(key)[0:4] (hashkit_md5). No namespace or prefix is added, matching
// libmemcached without HASH_WITH_PREFIX_KEY. It does not allocate, and key
// is not retained.
func (r *Ring) Hash(key []byte) uint32 {
	d := md5.Sum(key)
	return binary.LittleEndian.Uint32(d[:4])
}

// first returns the index of the first point whose value is ≥ h, wrapping
// past the last point to point 0 (dispatch_host in libmemcached's hash.cc).
func (r *Ring) first(h uint32) int {
	i, _ := slices.BinarySearch(r.values, h) // the earliest of equal values
	if i == len(r.values) {
		return 0
	}
	return i
}

// Pick returns the index (into Servers) of the server libmemcached would
// send key to. With a single server it is 0 without hashing, as in
// libmemcached. A server whose weight share rounds down to no point (say
// weight 1 beside 100000) is never returned, as in libmemcached. Pick does
// not allocate, and key is not retained.
func (r *Ring) Pick(key []byte) int {
	if len(r.servers) == 1 {
		return 0
	}
	return int(r.owners[r.first(r.Hash(key))])
}

// PickLive is Pick with ejected servers skipped: it returns the server of
// the first point at or after key's hash (wrapping) for which alive reports
// true, or -1 when no server owning a point is alive. While a server is
// ejected its keys go to the next live server on the ring and no other key
// moves; once it is alive again every key is back where Pick puts it.
//
// This is not what libmemcached does. Its auto-eject (REMOVE_FAILED_SERVERS
// with a dead timeout) rebuilds the continuum from the live servers alone,
// recomputing every live server's point count from the live weights and
// server count. Where no live server's count changes, which is the case for
// equal weights except where float32 rounding differs (26 → 25 equal
// servers: 160 → 156 points), the rebuilt ring sends every key exactly where
// PickLive does. Otherwise libmemcached also moves keys between live servers
// (weights 3,1,1,2 losing the second: a few percent of all keys), and PickLive
// deliberately does not: a flapping server should not churn the others'
// caches. The tests check all of this against libmemcached, both through
// its continuum and through a real ejection on running memcached servers.
//
// alive is called synchronously on the caller's goroutine, at most once per
// server index per call, and must not retain anything. PickLive does not
// allocate beyond what alive does, and key is not retained.
func (r *Ring) PickLive(key []byte, alive func(i int) bool) int {
	if len(r.servers) == 1 {
		if alive(0) {
			return 0
		}
		return -1
	}
	// dead remembers servers alive already refused, so each is asked once
	// and the walk can stop as soon as every server with points is dead.
	var dead [(MaxServers + 63) / 64]uint64
	ndead := 0
	i := r.first(r.Hash(key))
	for range r.values {
		s := r.owners[i]
		if dead[s/64]&(1<<(s%64)) == 0 {
			if alive(int(s)) {
				return int(s)
			}
			dead[s/64] |= 1 << (s % 64)
			if ndead++; ndead == r.withPoints {
				return -1
			}
		}
		if i++; i == len(r.values) {
			i = 0
		}
	}
	return -1
}
