package pagestore

import "time"

// entryOverhead approximates the memory an entry costs beyond its key and
// record: the entry struct, the cache library's node and hash-table slot.
// It is counted in the byte bound so that many small pages cannot exceed it.
const entryOverhead = 160

// entry is one stored page. It is immutable once published, so lookups on
// any loop may read it without locks.
type entry struct {
	key    []byte // the full key: lookups compare it, so a hash collision is a miss
	rec    []byte // the record, owned by the store
	ttl    time.Duration
	weight int64 // bytes counted against MaxBytes
}

// weigh returns the bytes an entry for key and rec counts against the bound.
func weigh(key, rec []byte) int64 {
	return int64(len(key)) + int64(len(rec)) + entryOverhead
}
