package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// Variants (RFC 9111 §4.1). A response whose Vary names request fields
// besides Accept-Encoding is stored as one variant among several under the
// same URL, through nothing but the stores' Get, Set and Delete, so that it
// works alike on the embedded store and on memcached, across processes:
//
//   - The URL's key K holds a variant index: a record flagged
//     pagerecord.FlagVaryIndex whose selector is
//     "I" epoch[8] count[1] count×digest[32] names
//     (names as cachepolicy.VaryNames gives them). It is never served.
//   - Each variant lives under its own key, prefix "#" base64url(digest),
//     digest = SHA-256(K "\nvary\n" epoch "\n" selecting), where selecting is
//     the request's normalised values of the names (cachepolicy.Selecting).
//     Its record is an ordinary page whose selector is "V" epoch selecting.
//
// A reader gets K; finding an index, it computes its own selecting values
// for the index's names, derives the variant key and gets that. It serves
// the variant only if the variant's selector is exactly "V", the index's
// epoch and its own selecting values. Why a reader can never pair an index
// with a variant of another version: the epoch is part of both the variant's
// key and its selector, and a new epoch is drawn whenever the index is
// written anew (first variant, different Vary names, after a purge). Two
// processes racing to write a new index each store their variant under
// their own epoch; the last index written wins and the other's variant is
// simply unreachable (a later miss), never served for the wrong request.
// The selector check also makes a hash collision, or a hostile key, cost a
// miss at worst.
//
// The index lists at most MaxVariants digests, oldest first. A writer
// storing a new variant under the current epoch appends its digest, drops
// the oldest past the bound (deleting that variant) and writes the index
// back; a variant stored anew under a listed digest leaves the index alone.
// Writers in different processes may overwrite each other's index update:
// a variant then missing from the list is still served (readers do not
// consult the list) and expires by itself, so the bound is exact per process
// and approximate across a fleet.
//
// Purges and invalidations act on K: deleting the index orphans every
// variant (a new epoch follows); purging softly marks the index stale
// (memcached md I, or the embedded store's rewrite), and a reader then
// treats its variant as purged too: served stale where allowed while it is
// refreshed, and the refresh writes a new index under a new epoch. The
// index's store TTL is long (indexTTL) and renewed by the reader a store
// elects for it (memcached mg R), so it never drives a page refresh itself.

// Selector kinds.
const (
	selIndex   = 'I'
	selVariant = 'V'
)

const (
	epochLen  = 8
	digestLen = sha256.Size
	// indexTTL is how long a variant index is kept: at least this, or the
	// longest store TTL of a variant written with it.
	indexTTL = 7 * 24 * time.Hour
	// maxIndexTTL keeps an index's memcached TTL (plus the store's stale
	// keep) under memcached's 30-day relative limit.
	maxIndexTTL = 28 * 24 * time.Hour
	// DefaultMaxVariants is Config.MaxVariants' zero value.
	DefaultMaxVariants = 16
	// maxVariantsCap bounds Config.MaxVariants: the index lists a count in
	// one byte.
	maxVariantsCap = 255
)

// varyIndex is a parsed index selector: views into it.
type varyIndex struct {
	epoch   []byte
	digests []byte // count × digestLen
	names   []byte
}

// parseIndex reads an index selector; ok is false for anything else.
func parseIndex(sel []byte) (ix varyIndex, ok bool) {
	if len(sel) < 1+epochLen+1 || sel[0] != selIndex {
		return ix, false
	}
	n := int(sel[1+epochLen])
	rest := sel[2+epochLen:]
	if len(rest) < n*digestLen {
		return ix, false
	}
	ix = varyIndex{epoch: sel[1 : 1+epochLen], digests: rest[:n*digestLen], names: rest[n*digestLen:]}
	if len(ix.names) == 0 {
		return ix, false
	}
	return ix, true
}

// appendIndexSelector appends an index selector.
func appendIndexSelector(dst, epoch, digests, names []byte) []byte {
	dst = append(dst, selIndex)
	dst = append(dst, epoch...)
	dst = append(dst, byte(len(digests)/digestLen))
	dst = append(dst, digests...)
	return append(dst, names...)
}

// variantDigest is the digest naming the variant of base for epoch and
// selecting values: SHA-256 of base "\nvary\n" epoch "\n" selecting, hashed
// from scratch (its buffer, grown and returned for reuse: the hit path
// passes the loop's, so it allocates nothing once grown).
func variantDigest(scratch, base, epoch, selecting []byte) ([digestLen]byte, []byte) {
	b := append(scratch[:0], base...)
	b = append(b, "\nvary\n"...)
	b = append(b, epoch...)
	b = append(b, '\n')
	b = append(b, selecting...)
	return sha256.Sum256(b), b
}

// appendVariantKey appends the store key of a variant digest.
func appendVariantKey(dst, prefix []byte, d *[digestLen]byte) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, '#')
	var enc [cachepolicy.DigestLen - 1]byte
	base64.RawURLEncoding.Encode(enc[:], d[:])
	return append(dst, enc[:]...)
}

// appendSelectingFromRequest builds req's selecting values for names into s.
// ok is false when they are too long to use the cache with.
func appendSelectingFromRequest(s *cachepolicy.Selecting, names []byte, req *httpparse.Request) ([]byte, bool) {
	s.Reset()
	for len(names) > 0 {
		name, rest, _ := bytes.Cut(names, comma)
		names = rest
		s.Start(name)
		for i := range req.Headers {
			h := &req.Headers[i]
			if httpbytes.EqualFold(h.Name, name) {
				s.Add(h.Value)
			}
		}
		s.End()
	}
	return s.Bytes()
}

// appendSelectingFromBlock is appendSelectingFromRequest over a header
// block of the request's fields (exchange.reqFields).
func appendSelectingFromBlock(s *cachepolicy.Selecting, names []byte, block []byte) ([]byte, bool) {
	s.Reset()
	for len(names) > 0 {
		name, rest, _ := bytes.Cut(names, comma)
		names = rest
		s.Start(name)
		eachField(block, func(n, v []byte) {
			if httpbytes.EqualFold(n, name) {
				s.Add(v)
			}
		})
		s.End()
	}
	return s.Bytes()
}

var comma = []byte(",")

// slotVary is a pending request's variant state, set when its lookup found
// a variant index (varyLookup). Slot buffers: reused, no allocation once
// grown.
type slotVary struct {
	base  []byte // the URL's key, holding the index (p.key is the variant's)
	index []byte // the index selector as found
	sel   []byte // this request's selecting values for the index's names
	// purged: the index was purged softly (or is stale): every variant of
	// it counts as invalidated.
	purged bool
	// win: the store elected this reader for the index (pagestore.Refresh);
	// it must write the index or give the election up.
	win bool
	// passive: the store says another reader holds the index's refresh.
	passive bool
}

func (v *slotVary) reset() {
	v.base, v.index, v.sel = v.base[:0], v.index[:0], v.sel[:0]
	v.purged, v.win, v.passive = false, false, false
}

// on reports whether the slot's lookup went through an index.
func (v *slotVary) on() bool { return len(v.base) > 0 }

// varyLookup continues slot p's lookup from the variant index idx found
// under its key: the request's variant is looked up under its own key, with
// the same token. On the loop, from PageLookup; idx is valid only during
// the call.
func (c *conn) varyLookup(p *pending, token uint64, idx *pagerecord.Record, st pagestore.State) {
	l := c.l
	if p.vary.on() {
		// An index where a variant should be: a hostile or corrupt store.
		c.varyMiss(p, token)
		return
	}
	ix, ok := parseIndex(idx.Selector)
	if !ok {
		l.store.Delete(p.key)
		if st&pagestore.Refresh != 0 {
			l.abandon(p.key)
		}
		req, raw := c.requestOf(p, token)
		if req != nil {
			c.fetch(p, req, raw, nil, 0, false)
		}
		return
	}
	purged := st&pagestore.Invalidated != 0 || !idx.Fresh(l.now.Unix())
	if st&pagestore.Refresh != 0 && !purged {
		// Elected because the index's long store TTL is running out: it is
		// not a page, so renew it rather than refresh anything.
		l.renewIndex(p.key, idx)
		st &^= pagestore.Refresh
	}
	req, raw := c.requestOf(p, token)
	if req == nil {
		if st&pagestore.Refresh != 0 {
			l.abandon(p.key)
		}
		return
	}
	sel, ok := appendSelectingFromRequest(&l.selecting, ix.names, req)
	if !ok {
		// Selecting values too long to key a variant by: the cache stays
		// out of it.
		if st&pagestore.Refresh != 0 {
			l.abandon(p.key)
		}
		c.forward(p, req, nil, kindPass)
		return
	}
	v := &p.vary
	v.base = append(v.base[:0], p.key...)
	v.index = append(v.index[:0], idx.Selector...)
	v.sel = append(v.sel[:0], sel...)
	v.purged = purged
	v.win = st&pagestore.Refresh != 0
	v.passive = st&pagestore.Refreshing != 0
	var d [digestLen]byte
	d, l.varyScratch = variantDigest(l.varyScratch, v.base, ix.epoch, v.sel)
	p.key = appendVariantKey(p.key[:0], l.s.keyPrefix, &d)
	if !c.l.syncStore && len(p.raw) == 0 {
		p.raw = append(p.raw, raw...)
	}
	l.store.Get(p.key, c, token)
}

// relookup looks slot p's request up again from its URL's key, after the
// fill it waited for stored a variant that may not be its own. p.raw holds
// the request (joinFill copied it). On the loop.
func (c *conn) relookup(p *pending) {
	if p.vary.on() {
		p.key = append(p.key[:0], p.vary.base...)
		p.vary.reset()
	}
	c.l.store.Get(p.key, c, p.token)
}

// varyMiss forwards slot p as a miss of its variant.
func (c *conn) varyMiss(p *pending, token uint64) {
	req, raw := c.requestOf(p, token)
	if req != nil {
		c.missFetch(p, req, raw)
	}
}

// variantState qualifies a variant's lookup with what the index's lookup
// said: a purged index makes its variants purged, and the election for it
// is the election for the variant's refresh.
func (v *slotVary) variantState(st pagestore.State) pagestore.State {
	if !v.purged {
		return st
	}
	st |= pagestore.Invalidated
	switch {
	case v.win:
		st |= pagestore.Refresh
		st &^= pagestore.Refreshing
	case v.passive && st&pagestore.Refresh == 0:
		st |= pagestore.Refreshing
	}
	return st
}

// matches reports whether the variant record r was stored for this
// request's selecting values under the index's epoch.
func (v *slotVary) matches(r *pagerecord.Record) bool {
	ix, ok := parseIndex(v.index)
	s := r.Selector
	return ok && len(s) == 1+epochLen+len(v.sel) && s[0] == selVariant &&
		bytes.Equal(s[1:1+epochLen], ix.epoch) && bytes.Equal(s[1+epochLen:], v.sel)
}

// renewIndex writes the index idx back with its store TTL renewed.
func (l *loop) renewIndex(key []byte, idx *pagerecord.Record) {
	r := *idx
	r.StoredAt = l.now.Unix()
	r.TTL = seconds(indexTTL)
	r.AgeAtStore = 0
	l.store.Set(key, pagerecord.AppendRecord(make([]byte, 0, r.Size()), &r), indexTTL)
}

// purgeIndex purges a URL whose key holds the variant index idx, in a store
// that answers Get at once: softly, the index is marked stale (every
// variant then counts as purged, see varyLookup); hard, the index and every
// variant it lists are deleted. On the loop.
func (l *loop) purgeIndex(key []byte, idx *pagerecord.Record, soft bool) {
	if soft {
		r := *idx
		r.StoredAt = l.now.Unix()
		r.TTL = 0
		l.store.Set(key, pagerecord.AppendRecord(make([]byte, 0, r.Size()), &r), indexTTL)
		return
	}
	if ix, ok := parseIndex(idx.Selector); ok {
		for i := 0; i+digestLen <= len(ix.digests); i += digestLen {
			var d [digestLen]byte
			var kb [cachepolicy.MaxKeyLen]byte // key may be in l.keyb
			copy(d[:], ix.digests[i:])
			l.store.Delete(appendVariantKey(kb[:0], l.s.keyPrefix, &d))
		}
	}
	l.store.Delete(key)
}

// exchangeVary is the variant state a fill carries to its worker.
type exchangeVary struct {
	base   []byte // the URL's key when the lookup went through an index
	index  []byte // that index's selector; nil when purged or none
	win    bool   // elected for the index: write it or give it up
	fields []byte // the request's header fields, as a header block
}

// takeVary copies slot p's variant state and req's fields into x, for a
// fill or revalidation, into arena a. On the loop.
func (x *exchange) takeVary(a *arena, p *pending, req *httpparse.Request) {
	v := &p.vary
	if v.on() {
		x.vary.base = a.keep(v.base)
		if !v.purged {
			x.vary.index = a.keep(v.index)
		}
		x.vary.win = v.win
	}
	start := len(a.b)
	for i := range req.Headers {
		h := &req.Headers[i]
		a.b = appendField(a.b, h.Name, h.Value)
	}
	x.vary.fields = a.b[start:len(a.b):len(a.b)]
}

// fieldsLen is what takeVary's copy of req's fields takes.
func fieldsLen(req *httpparse.Request) int {
	n := 0
	for i := range req.Headers {
		n += len(req.Headers[i].Name) + len(req.Headers[i].Value) + 4
	}
	return n
}

// baseKey is the URL's key of x's fill.
func (x *exchange) baseKey() []byte {
	if x.vary.base != nil {
		return x.vary.base
	}
	return x.key
}

// placeVariant decides where the record r of a fill whose response varies
// (names, from cachepolicy.Response.VaryNames) and is kept for keep is
// stored: it sets r's
// selector, x.storeKey, and the index to write (x.indexRec), reusing the
// index the lookup found when its names are the same. It reports false
// when the request's selecting values are too long to store under. Worker
// goroutine only.
func (x *exchange) placeVariant(r *pagerecord.Record, names []byte, keep time.Duration, now time.Time) bool {
	s := x.l.s
	var sc cachepolicy.Selecting
	sel, ok := appendSelectingFromBlock(&sc, names, x.vary.fields)
	if !ok {
		return false
	}
	base := x.baseKey()
	var epoch, digests []byte
	if ix, ok := parseIndex(x.vary.index); ok && bytes.Equal(ix.names, names) {
		epoch, digests = ix.epoch, ix.digests
	} else {
		var e [epochLen]byte
		if _, err := rand.Read(e[:]); err != nil {
			binary.BigEndian.PutUint64(e[:], uint64(now.UnixNano()))
		}
		epoch = e[:]
	}
	r.Selector = append(append([]byte{selVariant}, epoch...), sel...)
	d, _ := variantDigest(nil, base, epoch, sel)
	x.storeKey = appendVariantKey(nil, s.keyPrefix, &d)
	listed := false
	for i := 0; i+digestLen <= len(digests); i += digestLen {
		if bytes.Equal(digests[i:i+digestLen], d[:]) {
			listed = true
			break
		}
	}
	if listed && !x.vary.win {
		return true // same epoch, already listed: the index stays as it is
	}
	var list []byte
	for i := 0; i+digestLen <= len(digests); i += digestLen {
		if !bytes.Equal(digests[i:i+digestLen], d[:]) {
			list = append(list, digests[i:i+digestLen]...)
		}
	}
	list = append(list, d[:]...)
	for len(list)/digestLen > s.maxVariants {
		var old [digestLen]byte
		copy(old[:], list[:digestLen])
		x.invalidate = append(x.invalidate, appendVariantKey(nil, s.keyPrefix, &old))
		list = list[digestLen:]
	}
	ttl := min(max(indexTTL, keep), maxIndexTTL)
	idx := pagerecord.Record{
		Status:   200,
		Flags:    pagerecord.FlagVaryIndex,
		StoredAt: now.Unix(),
		TTL:      seconds(ttl),
		Selector: appendIndexSelector(nil, epoch, list, names),
	}
	x.indexRec = pagerecord.AppendRecord(nil, &idx)
	x.indexTTL = ttl
	return true
}

// storeVaried stores a fill's result on the loop (exchange.Run): the
// record under its key, then the index (a reader finding the index first
// misses the variant at worst), and settles the elections its lookups
// may hold: every key looked up that gets no new record is given up.
func (x *exchange) storeVaried() {
	l := x.l
	key := x.key
	if x.storeKey != nil {
		key = x.storeKey
	}
	base := x.baseKey()
	if x.rec != nil {
		l.store.Set(key, x.rec, x.ttl)
		l.s.stats.Stores.Add(1)
		if x.indexRec != nil {
			l.store.Set(base, x.indexRec, x.indexTTL)
		}
	} else if x.drop {
		l.store.Delete(key)
	}
	wrote := func(k []byte) bool {
		return x.rec != nil && (bytes.Equal(k, key) || (x.indexRec != nil && bytes.Equal(k, base)))
	}
	if x.kind == kindFill || x.kind == kindRevalidate {
		if !wrote(x.key) {
			l.abandon(x.key)
		}
		if x.vary.win && !bytes.Equal(base, x.key) && !wrote(base) {
			l.abandon(base)
		}
	}
}
