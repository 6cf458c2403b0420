package mcstore

// Pages larger than one memcached item: chunks under derived keys and a
// manifest under the page key.
//
// # Manifest, layout version 1
//
// A record longer than Config.ItemSize is split into chunks of ChunkSize
// bytes (the last one shorter), each stored as its own item, and the page
// key holds a 40-byte manifest instead of the record. Integers are
// big-endian and unsigned, as in the record (server/pagerecord).
//
//	offset  size  field       meaning
//	------  ----  ----------  -----------------------------------------------
//	     0     4  magic       the ASCII bytes "MCPC"
//	     4     1  layout      1
//	     5     3  reserved    must be 0
//	     8     8  version     random, per store: names this chunk set
//	    16     8  total       length of the whole record in bytes, ≥ 1
//	    24     4  chunk-size  bytes per chunk but the last, ≥ 1
//	    28     4  count       chunks: ceil(total / chunk-size), 1..MaxChunks
//	    32     8  checksum    xxHash64 (seed 0) of the whole record
//
// Chunk i (from 0) holds record bytes [i·chunk-size, min((i+1)·chunk-size,
// total)) under the key
//
//	page-key + " " + version (16 lower-case hex digits) + " " + i (decimal)
//
// or, when that could pass mcclient.MaxBinaryKeyLength (page keys longer
// than 165 bytes), under " " + base64url-without-padding(SHA-256(page-key))
// + the same suffix. Page keys (server/cachepolicy) hold only the bytes
// 0x21..0x7E, so a key with a space can never be a page key, and the two
// forms are disjoint (only the digest form starts with a space); mcclient
// sends such keys base64-encoded (the b flag), memcached stores the raw bytes.
//
// # Ordering
//
// A writer stores every chunk first and the manifest only once every chunk
// was acknowledged, so a manifest never names a chunk set that was not whole
// when it was written. The version is new at every store, so a newer page
// never overwrites the chunks an older manifest names: a reader that read
// the older manifest finds its own chunks or none. Chunks live
// chunkTTLMargin seconds longer than their manifest. A reader fetches every
// chunk, checks each one's length and the checksum of the whole, and serves
// nothing before that: a chunk missing (evicted, expired, deleted), of the
// wrong length, or a checksum mismatch (a chunk overwritten) is a miss, never
// a partial or mixed page. A hard purge deletes the manifest only; the chunks
// expire by themselves.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/server/pagestore"
)

// Manifest layout constants (see the package documentation in chunk.go).
const (
	// ManifestMagic is the 4-byte prefix of a manifest; a record starts with
	// pagerecord.Magic instead.
	ManifestMagic = "MCPC"
	// ManifestLayout is the manifest layout version this package writes and
	// reads.
	ManifestLayout = 1
	// ManifestSize is the length of a manifest.
	ManifestSize = 40
	// MaxChunks bounds the chunks of one page: a reader issues at most this
	// many mg for one lookup, whatever a manifest says. With memcached's
	// default 1 MiB items a page may be up to ~256 MiB.
	MaxChunks = 256
)

// ItemOverhead is what Config.ItemSize leaves of memcached's item size limit
// (-I) for the item's header and key: memcached 1.6.18 stores a value of at
// most -I − (key length + 59) bytes (measured for -I 512k, 1m, 2m and 4m),
// i.e. -I − 309 with a 250-byte key; 512 leaves room for a larger header in
// other versions.
const ItemOverhead = 512

// Defaults of Config fields.
const (
	DefaultItemSize    = 1<<20 - ItemOverhead // memcached's default -I 1m
	DefaultMaxPage     = 8 << 20
	DefaultChunkMemory = 32 << 20
)

// chunkTTLMargin is how many seconds chunks outlive their manifest, so that
// a manifest still in memcached always names chunks that are too (eviction
// and deletion aside, which readers detect).
const chunkTTLMargin = 60

// Errors of manifest decoding (a lookup that finds such a manifest is a miss).
var (
	// ErrManifest: the value starts with ManifestMagic but is not a
	// well-formed manifest (length, reserved bytes, zero or inconsistent
	// sizes, too many chunks).
	ErrManifest = errors.New("mcstore: malformed chunk manifest")
	// ErrManifestLayout: a manifest layout this version does not know (a
	// newer mcpage wrote it); left alone.
	ErrManifestLayout = errors.New("mcstore: unknown chunk manifest layout")
	// ErrPageTooLarge: the manifest's page is larger than Config.MaxPage.
	ErrPageTooLarge = errors.New("mcstore: chunked page larger than the page limit")
)

// Manifest is a decoded manifest (see the layout above). Exported, with
// AppendManifest, DecodeManifest, AppendChunkKey and Checksum, for tools and
// tests that read or write chunked pages themselves.
type Manifest struct {
	Version   uint64 // names the chunk set
	Total     uint64 // the record's length
	ChunkSize uint32 // bytes per chunk but the last
	Count     uint32 // chunks
	Sum       uint64 // Checksum of the record
}

// ChunkLen is the length of chunk i of a manifest DecodeManifest accepted.
func (m *Manifest) ChunkLen(i int) int {
	off := uint64(i) * uint64(m.ChunkSize)
	return int(min(uint64(m.ChunkSize), m.Total-off))
}

// AppendManifest appends m's serialised form (ManifestSize bytes) to dst. It
// does not validate m. Any goroutine.
func AppendManifest(dst []byte, m *Manifest) []byte {
	var b [ManifestSize]byte
	copy(b[0:4], ManifestMagic)
	b[4] = ManifestLayout
	binary.BigEndian.PutUint64(b[8:16], m.Version)
	binary.BigEndian.PutUint64(b[16:24], m.Total)
	binary.BigEndian.PutUint32(b[24:28], m.ChunkSize)
	binary.BigEndian.PutUint32(b[28:32], m.Count)
	binary.BigEndian.PutUint64(b[32:40], m.Sum)
	return append(dst, b[:]...)
}

// isManifest reports whether v claims to be a manifest (its prefix).
func isManifest(v []byte) bool { return len(v) >= 4 && string(v[:4]) == ManifestMagic }

// DecodeManifest parses b into m, rejecting a page over maxTotal bytes. Every
// field is checked, so what a hostile manifest may cost a reader is bounded
// by maxTotal bytes and MaxChunks mg. Returns ErrManifest, ErrManifestLayout
// or ErrPageTooLarge; on error m is zeroed. Any goroutine; no allocation.
func DecodeManifest(b []byte, maxTotal int, m *Manifest) error {
	*m = Manifest{}
	if !isManifest(b) {
		return ErrManifest
	}
	if len(b) >= 5 && b[4] != ManifestLayout {
		return ErrManifestLayout
	}
	if len(b) != ManifestSize || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return ErrManifest
	}
	d := Manifest{
		Version:   binary.BigEndian.Uint64(b[8:16]),
		Total:     binary.BigEndian.Uint64(b[16:24]),
		ChunkSize: binary.BigEndian.Uint32(b[24:28]),
		Count:     binary.BigEndian.Uint32(b[28:32]),
		Sum:       binary.BigEndian.Uint64(b[32:40]),
	}
	switch {
	case d.Total == 0 || d.ChunkSize == 0 || d.Count == 0 || d.Count > MaxChunks:
		return ErrManifest
	case (d.Total-1)/uint64(d.ChunkSize)+1 != uint64(d.Count): // ceil, without overflow
		return ErrManifest
	case maxTotal < 0 || d.Total > uint64(maxTotal):
		return ErrPageTooLarge
	}
	*m = d
	return nil
}

// maxPlainChunkBase is the longest page key whose chunk keys are the page key
// plus a suffix: the suffix is at most 1+16+1+3 bytes (MaxChunks ≤ 999), and
// a key with a space goes base64-encoded, where at most
// mcclient.MaxBinaryKeyLength raw bytes fit.
const maxPlainChunkBase = mcclient.MaxBinaryKeyLength - (1 + 16 + 1 + 3)

// appendChunkBase appends the part of every chunk key of version of the page
// under key that comes before the chunk index (see the layout above).
func appendChunkBase(dst, key []byte, version uint64) []byte {
	if len(key) <= maxPlainChunkBase {
		dst = append(dst, key...)
	} else {
		sum := sha256.Sum256(key)
		dst = append(dst, ' ')
		dst = base64.RawURLEncoding.AppendEncode(dst, sum[:])
	}
	dst = append(dst, ' ')
	const hex = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hex[version>>uint(shift)&0xf])
	}
	return append(dst, ' ')
}

// AppendChunkKey appends the key of chunk i of chunk set version of the page
// under key (see the layout above). Any goroutine.
func AppendChunkKey(dst, key []byte, version uint64, i int) []byte {
	return strconv.AppendUint(appendChunkBase(dst, key, version), uint64(i), 10)
}

// newVersion returns a random chunk set version. math/rand/v2's global
// source is seeded per process (ChaCha8), so versions differ across the
// processes sharing a cluster; 0 is avoided only to keep it visibly "set".
func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// Checksum is the manifest's checksum of a whole record. xxHash64 (seed 0):
// deterministic across processes and machines, as a checksum every process
// sharing the cluster recomputes must be, ~10 GB/s, and 64 bits, so a torn or
// mixed chunk set slips through with probability 2^-64 rather than CRC-32's
// 2^-32. github.com/cespare/xxhash/v2 is in go.mod already.
func Checksum(b []byte) uint64 { return xxhash.Sum64(b) }

// ---- writing ----

// chunkSet is a chunked Set in flight: its chunks' ms are out; the manifest
// is written once each was acknowledged.
type chunkSet struct {
	key      []byte // the page key (owned)
	head     [ManifestSize]byte
	ttl      int32 // the manifest's memcached TTL
	size     int   // the record's length, counted in Store.setBytes
	left     int   // chunk replies outstanding
	issuing  bool  // still sending chunks: not settled before the last is out
	failed   bool  // a chunk was not stored: no manifest
	canceled bool  // superseded by a later Set, Delete or Purge of the key
	w        win   // the win this store held for key when Set ran
	won      bool
}

// setChunked stores rec, longer than ItemSize, as chunks and a manifest. On
// the loop, from Set.
func (s *Store) setChunked(key, rec []byte, ttl int32) {
	is := s.cfg.ItemSize
	n := (len(rec) + is - 1) / is
	w, won := s.won[string(key)]
	delete(s.won, string(key))
	if len(rec) > s.cfg.MaxPage || n > MaxChunks {
		// No reader would take it (a configuration that cmd refuses).
		// memcached deletes the old value of a key whose ms is too large;
		// do the same, so that an outdated page is not served on.
		s.chunkDrops.Add(1)
		_ = s.lc.Delete(key, mcclient.DeleteOptions{}, &s.writes, 0)
		return
	}
	if s.setBytes > 0 && s.setBytes+len(rec) > s.cfg.ChunkMemory {
		// Too much in flight: drop this store, like a failed ms. A win is
		// handed back so that another reader is elected to try again.
		s.chunkDrops.Add(1)
		if won {
			s.abandonWin(key, w)
		}
		return
	}
	headTTL := min(ttl, maxTTL-chunkTTLMargin)
	m := Manifest{Version: newVersion(), Total: uint64(len(rec)), ChunkSize: uint32(is), Count: uint32(n),
		Sum: Checksum(rec)}
	cs := &chunkSet{key: append([]byte(nil), key...), ttl: headTTL, size: len(rec), w: w, won: won, issuing: true}
	AppendManifest(cs.head[:0], &m)
	s.next++
	id := s.next
	s.sets[id] = cs
	s.setBytes += len(rec)
	kb := appendChunkBase(s.chunkKey[:0], key, m.Version)
	base := len(kb)
	opt := mcclient.SetOptions{TTL: headTTL + chunkTTLMargin}
	s.lc.Cork()
	for i := 0; i < n; i++ {
		kb = strconv.AppendUint(kb[:base], uint64(i), 10)
		// LoopClient.Set copies the value: rec is not kept.
		if err := s.lc.Set(kb, rec[i*is:min((i+1)*is, len(rec))], opt, chunkSetReplies{s}, id); err != nil {
			cs.failed = true
			break
		}
		cs.left++
	}
	s.chunkKey = kb[:0]
	cs.issuing = false
	s.settleSet(id, cs)
	s.lc.Uncork()
}

// chunkSetReplies receives the ms replies of chunks; the token is the set's id.
type chunkSetReplies struct{ s *Store }

func (r chunkSetReplies) OnResult(id uint64, res *mcclient.Result) {
	cs, ok := r.s.sets[id]
	if !ok {
		return
	}
	cs.left--
	if res.Status != mcclient.StatusOK {
		cs.failed = true
	}
	r.s.settleSet(id, cs)
}

// settleSet writes cs's manifest once every chunk reply is in and each was
// stored; a failed set writes nothing and hands back its win.
func (s *Store) settleSet(id uint64, cs *chunkSet) {
	if cs.issuing || cs.left > 0 {
		return
	}
	delete(s.sets, id)
	s.setBytes -= cs.size
	switch {
	case cs.canceled || s.closed:
	case cs.failed:
		s.chunkDrops.Add(1)
		if cs.won {
			s.abandonWin(cs.key, cs.w)
		}
	default:
		if err := s.lc.Set(cs.key, cs.head[:], mcclient.SetOptions{TTL: cs.ttl}, &s.writes, 0); err != nil && cs.won {
			s.abandonWin(cs.key, cs.w)
		}
	}
}

// cancelSets makes every chunked Set of key in flight write no manifest: a
// later Set, Delete or Purge of the key must not be undone by an older
// page's manifest landing after it.
func (s *Store) cancelSets(key []byte) {
	for _, cs := range s.sets {
		if string(cs.key) == string(key) {
			cs.canceled = true
		}
	}
}

// ---- reading ----

// chunkFetch is the assembly of one chunked page: its chunks' mg are out,
// and every lookup that read the same manifest meanwhile waits for it.
type chunkFetch struct {
	key     []byte // the page key (owned)
	m       Manifest
	cas     uint64 // the manifest's CAS, to delete a damaged chunk set
	buf     []byte // m.Total bytes, filled as chunks arrive
	left    int    // chunk replies outstanding
	issuing bool
	failed  bool // answered already with a miss
	waiters []chunkWaiter
}

// chunkWaiter is a lookup waiting for a chunkFetch, with the state bits its
// own manifest reply gave.
type chunkWaiter struct {
	p  pending
	st pagestore.State
}

// chunkRef is one chunk mg in flight.
type chunkRef struct {
	f *chunkFetch
	i int
}

// getChunked answers lookup p, whose mg found the manifest res.Value with
// state bits st: it fetches and assembles the chunks (or joins a fetch of
// the same chunk set in flight) and answers when they are in. On the loop,
// from OnResult.
func (s *Store) getChunked(p pending, res *mcclient.Result, st pagestore.State) {
	var m Manifest
	if err := DecodeManifest(res.Value, s.cfg.MaxPage, &m); err != nil {
		if err == ErrManifest {
			// Nobody can read it, so nobody may ever replace it by
			// reading a miss: delete it (unless rewritten meanwhile).
			s.dropHead(p.key, res.CAS)
		}
		s.chunkMisses.Add(1)
		s.release(p)
		p.h.PageLookup(p.token, nil, 0, nil)
		return
	}
	if st&pagestore.Refreshing != 0 && p.judged == m.Version && s.elect && !p.final {
		// The page this lookup may not be answered with, still being
		// refreshed: a page only grows staler, so wait on.
		s.park(p)
		return
	}
	if f := s.fetching[string(p.key)]; f != nil && f.m == m {
		f.waiters = append(f.waiters, chunkWaiter{p: p, st: st})
		return
	}
	if s.getBytes > 0 && s.getBytes+int(m.Total) > s.cfg.ChunkMemory {
		// Assemblies use all the memory they may: wait a sweep and look
		// again, like a lookup waiting for another process's fill, unless
		// this reader was elected to refresh the page (it would hold the
		// election while waiting) or has waited long enough.
		if s.elect && st&pagestore.Refresh == 0 && !p.final {
			s.park(p)
			return
		}
		s.chunkMisses.Add(1)
		s.release(p)
		p.h.PageLookup(p.token, nil, 0, nil)
		return
	}
	f := &chunkFetch{key: append([]byte(nil), p.key...), m: m, cas: res.CAS, buf: s.takeBuf(int(m.Total)),
		issuing: true, waiters: []chunkWaiter{{p: p, st: st}}}
	s.getBytes += len(f.buf)
	s.fetching[string(f.key)] = f
	kb := appendChunkBase(s.chunkKey[:0], f.key, m.Version)
	base := len(kb)
	s.lc.Cork()
	for i := 0; i < int(m.Count); i++ {
		kb = strconv.AppendUint(kb[:base], uint64(i), 10)
		s.next++
		id := s.next
		s.fetches[id] = chunkRef{f: f, i: i}
		if err := s.lc.Get(kb, mcclient.GetOptions{}, chunkGetReplies{s}, id); err != nil {
			delete(s.fetches, id)
			s.failFetch(f, err, false)
			break
		}
		f.left++
	}
	s.chunkKey = kb[:0]
	f.issuing = false
	s.settleFetch(f)
	s.lc.Uncork()
}

// chunkGetReplies receives the mg replies of chunks.
type chunkGetReplies struct{ s *Store }

func (r chunkGetReplies) OnResult(id uint64, res *mcclient.Result) {
	s := r.s
	ref, ok := s.fetches[id]
	if !ok {
		return
	}
	delete(s.fetches, id)
	f := ref.f
	f.left--
	if !f.failed {
		switch want := f.m.ChunkLen(ref.i); {
		case res.Status == mcclient.StatusOK && len(res.Value) == want:
			copy(f.buf[ref.i*int(f.m.ChunkSize):], res.Value)
		case res.Status == mcclient.StatusFailed:
			s.failFetch(f, res.Err, false) // the server, not the data: leave the page
		default:
			s.failFetch(f, nil, true) // missing, or not this set's chunk: torn
		}
	}
	s.settleFetch(f)
}

// settleFetch completes f once every chunk reply is in: it checks the
// checksum and answers the waiters with the page, then recycles the buffer.
func (s *Store) settleFetch(f *chunkFetch) {
	if f.issuing || f.left > 0 {
		return
	}
	if !f.failed && Checksum(f.buf) != f.m.Sum {
		s.failFetch(f, nil, true) // a chunk overwritten, or chunks of two sets
	}
	if !f.failed {
		s.unfetch(f)
		ws := f.waiters
		f.waiters = nil
		judge := s.elect
		// Counted before the answers: a reader that looks at Stats once
		// answered must find its hit there.
		s.chunkHits.Add(1)
		for _, w := range ws {
			switch {
			case s.closed:
				s.release(w.p)
				w.p.h.PageLookup(w.p.token, nil, 0, ErrClosed)
				continue
			case judge && w.st&pagestore.Refreshing != 0 && !w.p.final:
				// As for a single-item page (OnResult), judged on the whole
				// record.
				if j, ok := w.p.h.(pagestore.Judge); ok && !j.MayServeWhileRefreshing(f.buf, w.st&pagestore.Invalidated != 0) {
					w.p.judged = f.m.Version
					s.park(w.p)
					continue
				}
			}
			s.release(w.p)
			w.p.h.PageLookup(w.p.token, f.buf, w.st, nil)
		}
	}
	s.getBytes -= len(f.buf)
	s.putBuf(f.buf)
	f.buf = nil
}

// failFetch answers every lookup waiting for f with a miss (err, if the
// memcached operation failed, else nil) at once; the chunk replies still
// outstanding are then ignored. damaged: the chunk set is torn, so the
// manifest is deleted (if it is still the one read) and the waiters are
// looked up again, behind the delete: the page is now cold, so the first
// of them wins the fill (mg N) and the others, here and in every process,
// wait for its page instead of each fetching one. A lookup is repeated
// once; torn again (the delete went out on another connection and was
// overtaken), it is a plain miss.
func (s *Store) failFetch(f *chunkFetch, err error, damaged bool) {
	if f.failed {
		return
	}
	f.failed = true
	s.unfetch(f)
	if damaged {
		s.dropHead(f.key, f.cas)
	}
	s.chunkMisses.Add(1)
	ws := f.waiters
	f.waiters = nil
	for _, w := range ws {
		if damaged && !w.p.again && !s.closed {
			w.p.again = true
			s.get(w.p.key, w.p)
			continue
		}
		s.release(w.p)
		w.p.h.PageLookup(w.p.token, nil, 0, err)
	}
}

// unfetch removes f from the fetches later lookups may join.
func (s *Store) unfetch(f *chunkFetch) {
	if s.fetching[string(f.key)] == f {
		delete(s.fetching, string(f.key))
	}
}

// dropHead deletes the manifest under key if its CAS is still cas, and
// forgets a win on it.
func (s *Store) dropHead(key []byte, cas uint64) {
	if w, ok := s.won[string(key)]; ok && w.cas == cas {
		delete(s.won, string(key))
	}
	if !s.closed && cas != 0 {
		_ = s.lc.Delete(key, mcclient.DeleteOptions{CAS: cas}, &s.writes, 0)
	}
}

// takeBuf returns an n-byte assembly buffer, the spare one if it is large
// enough.
func (s *Store) takeBuf(n int) []byte {
	if cap(s.spare) >= n {
		b := s.spare[:n]
		s.spare = nil
		return b
	}
	return make([]byte, n)
}

// putBuf keeps b as the spare assembly buffer if it is larger than the
// spare: one buffer per store, at most MaxPage bytes, so that a page served
// over and over is assembled without allocating.
func (s *Store) putBuf(b []byte) {
	if cap(b) > cap(s.spare) {
		s.spare = b[:0]
	}
}
