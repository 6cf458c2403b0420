// Package ketama places memcached keys on servers exactly as libmemcached does
// with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (PHP's OPT_LIBKETAMA_COMPATIBLE,
// pylibmc's "ketama_weighted"), so mcpage, PHP and Python clients sharing a
// cluster agree on where every page lives.
//
// The algorithm (libmemcached hosts.cc, hash.cc): each server gets
// floor(float32(weight/total × 160/4 × n) + 1e-10) × 4 points, computed in
// single precision as libmemcached does (so some server counts get 156
// points, not 160); the strings "host-j" (port 11211) or "host:port-j" are
// MD5-hashed and each digest yields four little-endian uint32 points; points
// are sorted with ties broken by server order. A key hashes to the
// little-endian uint32 of MD5(key)[0:4] and goes to the first point at or
// after it, wrapping to the first point. With one server there is no hashing.
//
// Ejection: libmemcached rebuilds its continuum without an ejected server,
// which can move keys between live servers too. mcpage instead skips the dead
// server's points (PickLive), so only the dead server's keys move, each to the
// next live server on the ring, and every other key stays put.
package ketama

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors.
var (
	// ErrNoServers is returned when the list names no server.
	ErrNoServers = errors.New("ketama: no servers")
	// ErrBadServer is returned for an entry that is not host[:port[:weight]].
	ErrBadServer = errors.New("ketama: bad server entry")
)

// DefaultPort is used when an entry names no port.
const DefaultPort = 11211

const pointsPerServer = 160 // MEMCACHED_POINTS_PER_SERVER_KETAMA

// Server is one memcached server. Addr is "host:port"; Weight 0 means 1.
type Server struct {
	Addr   string
	Weight uint32
}

// Parse reads "h1:11211,h2:11212:3": port defaults to 11211, weight to 1.
func Parse(list string) ([]Server, error) {
	var out []Server
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		host, port, weight := e, strconv.Itoa(DefaultPort), uint32(1)
		if h, p, err := net.SplitHostPort(e); err == nil {
			host, port = h, p
		} else if parts := strings.Split(e, ":"); len(parts) == 3 {
			host, port = parts[0], parts[1]
			w, err := strconv.ParseUint(parts[2], 10, 32)
			if err != nil || w == 0 {
				return nil, errors.Join(ErrBadServer, errors.New(e))
			}
			weight = uint32(w)
		} else if strings.Contains(e, ":") {
			return nil, errors.Join(ErrBadServer, errors.New(e))
		}
		p, err := strconv.Atoi(port)
		if host == "" || err != nil || p < 1 || p > 65535 {
			return nil, errors.Join(ErrBadServer, errors.New(e))
		}
		out = append(out, Server{Addr: net.JoinHostPort(host, port), Weight: weight})
	}
	if len(out) == 0 {
		return nil, ErrNoServers
	}
	return out, nil
}

type point struct {
	value  uint32
	server int32
}

// Ring is an immutable continuum, safe for concurrent use.
type Ring struct {
	servers []Server
	points  []point
}

// New builds the ring for servers in list order.
func New(servers []Server) (*Ring, error) {
	if len(servers) == 0 {
		return nil, ErrNoServers
	}
	r := &Ring{servers: slices.Clone(servers)}
	var total float32
	for i := range r.servers {
		if r.servers[i].Weight == 0 {
			r.servers[i].Weight = 1
		}
		total += float32(r.servers[i].Weight)
	}
	n := float32(len(r.servers))
	for idx, s := range r.servers {
		host, port, err := net.SplitHostPort(s.Addr)
		if err != nil {
			return nil, errors.Join(ErrBadServer, err)
		}
		prefix := host + ":" + port + "-"
		if port == strconv.Itoa(DefaultPort) {
			prefix = host + "-"
		}
		// Single precision throughout, as libmemcached's C expression.
		pct := float32(s.Weight) / total
		v := float32(float32(float32(pct*pointsPerServer)/4)*n) + float32(1e-10)
		strings := int(math.Floor(float64(v)))
		for j := 0; j < strings; j++ {
			d := md5.Sum([]byte(prefix + strconv.Itoa(j)))
			for k := 0; k < 4; k++ {
				r.points = append(r.points, point{binary.LittleEndian.Uint32(d[4*k:]), int32(idx)})
			}
		}
	}
	slices.SortFunc(r.points, func(a, b point) int {
		if a.value != b.value {
			if a.value < b.value {
				return -1
			}
			return 1
		}
		return int(a.server - b.server)
	})
	return r, nil
}

// Len is the number of servers.
func (r *Ring) Len() int { return len(r.servers) }

// Servers returns a copy of the server list.
func (r *Ring) Servers() []Server { return slices.Clone(r.servers) }

// Hash is libmemcached's key hash in this mode: MD5(key)[0:4], little-endian.
func (r *Ring) Hash(key []byte) uint32 {
	d := md5.Sum(key)
	return binary.LittleEndian.Uint32(d[:4])
}

// first returns the index of the first point ≥ h, wrapping to 0.
func (r *Ring) first(h uint32) int {
	lo, hi := 0, len(r.points)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.points[m].value < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(r.points) {
		return 0
	}
	return lo
}

// Pick returns the index of key's server. No allocation.
func (r *Ring) Pick(key []byte) int {
	if len(r.servers) == 1 {
		return 0
	}
	return int(r.points[r.first(r.Hash(key))].server)
}

// PickLive returns the server of the first point at or after key's hash
// whose server is alive, or -1 when none is. No allocation.
func (r *Ring) PickLive(key []byte, alive func(i int) bool) int {
	if len(r.servers) == 1 {
		if alive(0) {
			return 0
		}
		return -1
	}
	start := r.first(r.Hash(key))
	tried := 0
	for i := start; tried < len(r.points); i, tried = (i+1)%len(r.points), tried+1 {
		if s := int(r.points[i].server); alive(s) {
			return s
		}
	}
	return -1
}
