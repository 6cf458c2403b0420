package ketama

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
)

// pointsPerServer is libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA: the
// points an average-weight server gets, four per MD5 digest.
const pointsPerServer = 160

// pointsFor is libmemcached's per-server point count (update_continuum in
// hosts.cc):
//
//	pct = (float)weight / (float)total_weight;
//	floor((float)(pct * 160 / 4 * (float)live_servers + 0.0000000001F)) * 4
//
// evaluated in single precision, one rounding per operation, as gcc does on
// x86-64. The float32 rounding is part of the placement: with 25 equal
// servers 1/25 × 40 × 25 comes out just under 40, so each server gets 156
// points, not 160. Every intermediate is converted explicitly because Go
// may otherwise fuse a multiply and an add (FMA on arm64) and skip a rounding.
func pointsFor(weight uint32, total uint64, live int) int {
	pct := float32(weight) / float32(total)
	v := float32(pct * pointsPerServer)
	v = float32(v / 4)
	v = float32(v * float32(live))
	v = float32(v + 1e-10)
	return int(math.Floor(float64(v))) * 4
}

// pointName appends the string libmemcached hashes for the j-th digest of a
// server: "host-j" when the port is 11211, else "host:port-j"
// (update_continuum, non-SPY branch). The host is the bare host as added to
// libmemcached, so an IPv6 host is hashed without brackets.
func pointName(dst []byte, host string, port, j int) []byte {
	dst = append(dst, host...)
	if port != DefaultPort {
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(port), 10)
	}
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(j), 10)
}

// point is one continuum entry before the ring splits it into columns.
type point struct {
	value  uint32
	server uint16
}

// buildContinuum returns the sorted point values and, in step, the server
// index owning each. hosts and ports are the servers' bare hosts and ports,
// weights are ≥ 1; all three have the same length, at most MaxServers.
func buildContinuum(hosts []string, ports []int, weights []uint32) (values []uint32, owners []uint16) {
	var total uint64
	for _, w := range weights {
		total += uint64(w)
	}
	pts := make([]point, 0, pointsPerServer*len(hosts))
	name := make([]byte, 0, MaxHostLen+16)
	for i := range hosts {
		n := pointsFor(weights[i], total, len(hosts))
		for j := 0; j < n/4; j++ {
			name = pointName(name[:0], hosts[i], ports[i], j)
			d := md5.Sum(name)
			// Each digest gives four points, little-endian words
			// (ketama_server_hash).
			for k := 0; k < 4; k++ {
				pts = append(pts, point{binary.LittleEndian.Uint32(d[4*k:]), uint16(i)})
			}
		}
	}
	// Ties between equal values go to the lower server index, as
	// continuum_item_cmp orders them; Pick then finds the first of them.
	slices.SortFunc(pts, func(a, b point) int {
		if a.value != b.value {
			if a.value < b.value {
				return -1
			}
			return 1
		}
		return int(a.server) - int(b.server)
	})
	values = make([]uint32, len(pts))
	owners = make([]uint16, len(pts))
	for i, p := range pts {
		values[i], owners[i] = p.value, p.server
	}
	return values, owners
}
