package server

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/mcpage/mcpage/server/pagerecord"
)

// recordID tells stored records apart for what the loop keeps derived from
// them (decoded bodies: decoded.go, decodehit.go). Stored-at time and body
// length alone are not enough: a page purged and refetched within the same
// second, on another loop or another process sharing memcached, often
// compresses to the same length, and its old decoded body would be served
// under the new record's headers. sum fingerprints the content: a gzip body's
// trailer (CRC-32 and length of the decoded bytes, free to read); any other
// body's hash.
type recordID struct {
	storedAt int64
	n        int
	sum      uint64
}

// idSeed keys the content hash of non-gzip bodies; per process, so that an
// origin cannot aim for collisions.
var idSeed = maphash.MakeSeed()

// idOf returns r's recordID. It reads 8 bytes of a gzip body and hashes any
// other; no allocation. Any goroutine that may read r.
func idOf(r *pagerecord.Record) recordID {
	id := recordID{storedAt: r.StoredAt, n: len(r.Body)}
	if r.Encoding == pagerecord.Gzip && len(r.Body) >= 18 { // 10-byte header + 8-byte trailer
		id.sum = binary.LittleEndian.Uint64(r.Body[len(r.Body)-8:])
	} else {
		id.sum = maphash.Bytes(idSeed, r.Body)
	}
	return id
}
