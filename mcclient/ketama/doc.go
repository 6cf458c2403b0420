// Package ketama places memcached keys on servers exactly as libmemcached
// does with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, the mode behind PHP's
// Memcached::OPT_LIBKETAMA_COMPATIBLE and pylibmc's "ketama_weighted", so
// mcpage and PHP or Python clients sharing a cluster agree on where every
// page lives.
//
// The algorithm (libmemcached 1.1.4 hosts.cc update_continuum, hash.cc
// dispatch_host):
//
//   - Server i of n, in list order, gets
//     floor(weight_i/total × 160/4 × n + 1e-10) × 4 points, computed in
//     float32 (see pointsFor: some server counts get 156 points, not 160).
//   - Its j-th name is "host-j" when the port is 11211, else
//     "host:port-j"; each name's MD5 digest gives four points, the
//     little-endian uint32 words of the digest.
//   - Points are sorted by value, ties by server index.
//   - A key hashes to the little-endian uint32 of MD5(key)[0:4] and goes to
//     the first point at or after that value, wrapping past the last point to
//     the first. A one-server ring needs no hashing.
//
// This is neither the original libketama (which always hashes "host:port-j")
// nor twemproxy's default (fnv1a_64 key hash), which place keys differently.
//
// Ejection is where mcpage deliberately differs: see Ring.PickLive.
//
// Nothing in the package contacts a server; mcclient dials Server.Addr.
package ketama
