// Package mcstore is the page store over memcached: one Store per event
// loop, each driving its own mcclient.LoopClient connections on that loop, so
// that a lookup is a pipelined mg written and answered on the loop that owns
// the client connection, with no lock and no goroutine hop. Records are the
// same bytes the embedded store keeps (server/pagerecord), so another mcpage
// process, or an application, reads what this one wrote.
//
// A record larger than one memcached item (Config.ItemSize) is stored as
// chunks under derived keys and a manifest under the page key (chunk.go
// documents the layout and why a reader never serves a torn or mixed page).
// A value an application wrote under a page key without a record head is
// served as the body of a 200 response (raw.go).
package mcstore

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// ErrClosed is reported to lookups that arrive after Close.
var ErrClosed = errors.New("mcstore: closed")

// Store is one event loop's page store over memcached. Every method runs on
// that loop (the server calls them from its event handlers); results come
// back on it too, when the reply is read. It implements pagestore.Store and
// the hooks pagestore.Corker, Sweeper, Pender and Closer.
type Store struct {
	lc      *mcclient.LoopClient
	cfg     Config
	next    uint64             // id of the next operation
	lookups map[uint64]pending // mg in flight, by operation id
	purges  map[uint64]purgeOp // md of purges in flight, by operation id
	writes  writeHandler       // ms and md results: nothing waits on them
	closed  bool

	// Filler election (see Config.FillWait): keys this store won the right
	// to fill, with the placeholder's CAS; lookups parked behind another
	// process's fill, retried by Sweep.
	won     map[string]win
	parked  []parkedGet
	keyBufs [][]byte     // recycled key copies of lookups in flight
	waiting atomic.Int64 // len(parked), readable from any goroutine
	elect   bool         // FillTTL or Keep: lookups take part in elections

	// Chunked pages (chunk.go): Sets whose chunks are being written, by
	// operation id; chunk mg in flight, by operation id; assemblies in
	// flight, by page key, for lookups of the same chunk set to join; the
	// bytes of both, each bounded by ChunkMemory; the spare assembly
	// buffer; scratch for chunk keys.
	sets     map[uint64]*chunkSet
	fetches  map[uint64]chunkRef
	fetching map[string]*chunkFetch
	setBytes int
	getBytes int
	spare    []byte
	chunkKey []byte

	// Raw values (raw.go): the header block of their records, the buffer
	// their records are built in, and whether a PageLookup is using it.
	rawHead []byte
	rawBuf  []byte
	rawBusy bool

	// Statistics: the loop updates them, any goroutine reads them (Stats).
	chunkHits, chunkMisses, chunkDrops, rawHits atomic.Int64
}

// Stats counts what this store did with chunked pages and raw values.
type Stats struct {
	ChunkedHits   int64 // chunked pages assembled and handed to lookups
	ChunkedMisses int64 // chunked pages that were a miss: torn, too large, bad manifest, a chunk lookup failed
	ChunkedDrops  int64 // chunked stores that wrote no manifest: too large, over ChunkMemory, a chunk not stored
	RawHits       int64 // raw values served
}

// Stats returns the store's counters. Any goroutine (tests and metrics).
func (s *Store) Stats() Stats {
	return Stats{ChunkedHits: s.chunkHits.Load(), ChunkedMisses: s.chunkMisses.Load(),
		ChunkedDrops: s.chunkDrops.Load(), RawHits: s.rawHits.Load()}
}

// Config tunes a Store. The zero value is usable.
type Config struct {
	// SweepEvery is how often the server should call Sweep: a tenth of the
	// memcached operation timeout is right (gnet has no deadlines). 0 → 10ms.
	SweepEvery time.Duration
	// FillTTL is the life, in seconds, of the placeholder a missing lookup
	// creates (mg N) so that one process fills a cold page while the others
	// wait for it: about the longest fill. 0 → no election: every process
	// that misses fetches the page itself.
	FillTTL uint32
	// FillWait bounds how long a lookup that finds another process filling
	// waits for the page (retrying at each Sweep) before fetching it itself.
	// 0 → 1s.
	FillWait time.Duration
	// Keep is how long past its freshness every page is kept (its memcached
	// TTL is the freshness its record has left, plus Keep), so that a page
	// may be served stale or revalidated; each mg asks R<Keep>, which elects
	// one reader, fleet-wide, to refresh a page once its freshness has ended
	// (pagestore.Refresh), while the others are told someone is
	// (pagestore.Refreshing). Every process sharing the cluster must use the
	// same Keep. 0 → pages are kept for the TTL the server gives, and
	// nobody is elected to refresh them.
	Keep time.Duration
	// Clock reads the time for FillWait, retries and record freshness. nil
	// → time.Now.
	Clock func() time.Time

	// ItemSize is the largest value sent as one memcached item: a record
	// longer than that is stored as chunks of ItemSize bytes and a manifest
	// (chunk.go). It must not exceed memcached's item size limit (-I) minus
	// ItemOverhead, nor the client's MaxValueSize. 0 → DefaultItemSize
	// (memcached's default -I 1m).
	ItemSize int
	// MaxPage is the largest chunked page stored or read: a manifest
	// announcing more is a miss, so a hostile one costs at most MaxPage
	// bytes and MaxChunks mg. The server's MaxItem (-max-item). 0 →
	// DefaultMaxPage.
	MaxPage int
	// ChunkMemory bounds the bytes of chunked pages in flight on this store,
	// writes and reads each: a chunked Set past it is dropped (a miss later),
	// a chunked lookup past it waits a sweep and retries, within FillWait,
	// then misses. One page is always let through, so it must be at least
	// MaxPage to be a bound at all. 0 → DefaultChunkMemory.
	ChunkMemory int
	// RawContentType is the Content-Type of values that applications wrote
	// under page keys without a record head (raw.go). "" →
	// DefaultRawContentType; one CheckRawContentType rejects is replaced by
	// it too.
	RawContentType string
	// RawGzipFlag: a raw value whose memcached client flags have any of
	// these bits is gzip-coded (nginx's memcached_gzip_flag convention). 0 →
	// raw values are identity.
	RawGzipFlag uint32
	// RawTTL is the freshness of a raw value stored without a memcached TTL
	// (a value with one is fresh for what it has left). 0 → DefaultRawTTL.
	RawTTL time.Duration
}

// maxTTL is the longest relative TTL memcached takes: larger values are read
// as a unix time.
const maxTTL = 30 * 24 * 60 * 60

// maxWon bounds the wins remembered; past it they are forgotten (a
// forgotten win only leaves its placeholder to expire by itself).
const maxWon = 1 << 14

// win is a right to fill or refresh a key that this store's lookup got: the
// CAS of what it read, and whether that was a page (mg R) or a placeholder
// (mg N).
type win struct {
	cas  uint64
	page bool
}

// pending is the server's side of one lookup: who to answer, with which token.
type pending struct {
	h     pagestore.Handler
	token uint64
	key   []byte // a copy of the key (from keyBufs), recycled once answered
	until time.Time
	final bool // the last lookup after waiting FillWait: answered whatever it finds
	// judged is the version of a chunked page this lookup found but could
	// not be answered with while it is refreshed (Judge): finding the same
	// manifest again, it waits on without fetching the chunks again.
	judged uint64
	// again: looked up a second time after finding a torn chunk set
	// (failFetch), which is not done twice.
	again bool
}

// parkedGet is a lookup waiting for another process's fill.
type parkedGet struct {
	pending
	retryAt time.Time
}

// New returns a Store driving lc, whose connections live on the loop that
// will call the Store.
func New(lc *mcclient.LoopClient, cfg Config) *Store {
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 10 * time.Millisecond
	}
	if cfg.FillWait <= 0 {
		cfg.FillWait = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ItemSize <= 0 {
		cfg.ItemSize = DefaultItemSize
	}
	if cfg.MaxPage <= 0 {
		cfg.MaxPage = DefaultMaxPage
	}
	if cfg.ChunkMemory <= 0 {
		cfg.ChunkMemory = DefaultChunkMemory
	}
	if cfg.RawContentType == "" || CheckRawContentType(cfg.RawContentType) != nil {
		cfg.RawContentType = DefaultRawContentType
	}
	if cfg.RawTTL < time.Second {
		cfg.RawTTL = DefaultRawTTL
	}
	return &Store{lc: lc, cfg: cfg, lookups: make(map[uint64]pending), purges: make(map[uint64]purgeOp),
		won: make(map[string]win), elect: cfg.FillTTL > 0 || cfg.Keep > 0,
		sets: make(map[uint64]*chunkSet), fetches: make(map[uint64]chunkRef), fetching: make(map[string]*chunkFetch),
		rawHead: rawHeader(cfg.RawContentType)}
}

// Waiting reports how many lookups wait for another process's fill. Any
// goroutine (tests and metrics).
func (s *Store) Waiting() int64 { return s.waiting.Load() }

// Get starts an mg for key; h.PageLookup runs once, later, on this loop, with
// the record (valid only during that call: a view into the connection's read
// buffer, or into a buffer of the Store for a chunked page or a raw value),
// nil on a miss, or the error that made it a miss (a server down, a timeout:
// the server then serves from the origin). If the command cannot even be
// queued, PageLookup runs before Get returns.
func (s *Store) Get(key []byte, h pagestore.Handler, token uint64) {
	if s.closed {
		h.PageLookup(token, nil, 0, ErrClosed)
		return
	}
	// The reply does not name its key, and a win, a wait or a chunked page
	// needs it. The copy goes in a recycled buffer: no allocation.
	var buf []byte
	if n := len(s.keyBufs); n > 0 {
		buf, s.keyBufs = s.keyBufs[n-1], s.keyBufs[:n-1]
	}
	s.get(key, pending{h: h, token: token, key: append(buf[:0], key...)})
}

// release recycles p's key copy.
func (s *Store) release(p pending) {
	if p.key != nil && len(s.keyBufs) < 256 {
		s.keyBufs = append(s.keyBufs, p.key[:0])
	}
}

func (s *Store) get(key []byte, p pending) {
	s.next++
	id := s.next
	s.lookups[id] = p
	opts := mcclient.GetOptions{Vivify: s.cfg.FillTTL, Recache: uint32(min(s.cfg.Keep/time.Second, maxTTL))}
	if err := s.lc.Get(key, opts, s, id); err != nil {
		delete(s.lookups, id)
		s.release(p)
		p.h.PageLookup(p.token, nil, 0, err)
	}
}

// remember records a win for key (see win).
func (s *Store) remember(key []byte, w win) {
	if len(s.won) >= maxWon {
		clear(s.won)
	}
	s.won[string(key)] = w
}

// park queues p to be looked up again at the next sweep, until FillWait is
// over; the lookup after that is final.
func (s *Store) park(p pending) {
	now := s.cfg.Clock()
	if p.until.IsZero() {
		p.until = now.Add(s.cfg.FillWait)
	}
	s.parked = append(s.parked, parkedGet{pending: p, retryAt: now.Add(s.cfg.SweepEvery)})
	s.waiting.Store(int64(len(s.parked)))
}

// OnResult receives an mg's reply (mcclient.Handler), on the loop.
func (s *Store) OnResult(id uint64, res *mcclient.Result) {
	p, ok := s.lookups[id]
	if !ok {
		return
	}
	delete(s.lookups, id)
	switch {
	case res.Status == mcclient.StatusOK && isRecord(res.Value): // the ordinary hit: one prefix check more
		var st pagestore.State
		if res.Stale {
			st |= pagestore.Invalidated // soft-purged (md I)
		}
		switch {
		case res.Win && s.elect:
			// Elected to refresh it (R fired, or the first read after a
			// soft purge). Refreshing stores it with a plain ms, which
			// clears the election; Abandon re-arms it otherwise.
			st |= pagestore.Refresh
			s.remember(p.key, win{cas: res.CAS, page: true})
		case res.WinTaken:
			st |= pagestore.Refreshing
			if j, ok := p.h.(pagestore.Judge); ok && !p.final && s.elect &&
				!j.MayServeWhileRefreshing(res.Value, res.Stale) {
				// Not to be served stale: wait for the refresh, as for a
				// cold page another process fills.
				s.park(p)
				return
			}
		}
		s.release(p)
		p.h.PageLookup(p.token, res.Value, st, nil)
	case res.Status == mcclient.StatusOK && len(res.Value) > 0:
		// Not a record: a manifest (chunk.go), or a value an application
		// wrote (raw.go).
		if !isManifest(res.Value) {
			s.getRaw(p, res)
			return
		}
		var st pagestore.State
		if res.Stale {
			st |= pagestore.Invalidated
		}
		switch {
		case res.Win && s.elect:
			st |= pagestore.Refresh
			s.remember(p.key, win{cas: res.CAS, page: true})
		case res.WinTaken:
			st |= pagestore.Refreshing // judged once assembled (settleFetch)
		}
		s.getChunked(p, res, st)
	case res.Status == mcclient.StatusOK || res.Status == mcclient.StatusMiss:
		// A miss, or an empty item: the placeholder of a fill, never a page.
		switch {
		case res.Win && s.elect:
			// This process fills it; the placeholder goes if the page turns
			// out not to be stored (Abandon), and Set replaces it otherwise.
			s.remember(p.key, win{cas: res.CAS})
			s.release(p)
			p.h.PageLookup(p.token, nil, 0, nil)
		case res.WinTaken && s.elect && !p.final:
			// Another process fills it: retry at the next sweeps, until
			// FillWait is over; then fetch it ourselves rather than fail.
			s.park(p)
		default:
			s.release(p)
			p.h.PageLookup(p.token, nil, 0, nil)
		}
	default:
		s.release(p)
		p.h.PageLookup(p.token, nil, 0, res.Err)
	}
}

// Abandon is told that the fill or refresh this store won for key stored
// nothing (the page was not storable, or the origin failed): a placeholder
// is deleted, so other processes stop waiting; a page is marked stale (md I),
// which elects the next reader to try again. Either only if it is still what
// this store's lookup read (CAS).
func (s *Store) Abandon(key []byte) {
	w, ok := s.won[string(key)]
	if !ok {
		return
	}
	delete(s.won, string(key))
	s.abandonWin(key, w)
}

// abandonWin hands back the win w on key (see Abandon).
func (s *Store) abandonWin(key []byte, w win) {
	if !s.closed {
		_ = s.lc.Delete(key, mcclient.DeleteOptions{CAS: w.cas, Invalidate: w.page}, &s.writes, 0)
	}
}

// Set stores rec under key for ttl (whole seconds, at least 1) with a
// pipelined ms; a record longer than ItemSize as chunks, then a manifest
// once every chunk is stored (chunk.go). Nothing waits for the replies: a
// store that fails (server down, page over MaxPage or ChunkMemory) leaves the
// page a miss. rec is not kept (LoopClient copies what it sends).
func (s *Store) Set(key, rec []byte, ttl time.Duration) {
	if s.closed {
		return
	}
	if ttl <= 0 {
		s.Delete(key)
		return
	}
	if len(s.sets) > 0 {
		s.cancelSets(key)
	}
	if len(rec) > s.cfg.ItemSize {
		s.setChunked(key, rec, s.ttl(rec, ttl))
		return
	}
	delete(s.won, string(key)) // the page replaces any placeholder
	_ = s.lc.Set(key, rec, mcclient.SetOptions{TTL: s.ttl(rec, ttl)}, &s.writes, 0)
}

// ttl is the memcached TTL of a record stored for ttl: with Keep, the
// freshness the record has left plus Keep, so that mg R<Keep> fires when
// freshness ends; else ttl. Whole seconds, at least 1, at most 30 days
// (past that memcached reads a unix time).
//
// The record's freshness ends on a whole second of the writer's clock, and
// memcached counts whole seconds of its own: R could fire up to two seconds
// after readers see the record stale, and nobody would refresh it
// meanwhile. So a record with more than a second left is given a second
// less: R fires about when the record goes stale, or a moment before (the
// elected reader then refreshes a page still fresh). A record with one
// second left keeps it, or every refresh would be elected again at once.
func (s *Store) ttl(rec []byte, ttl time.Duration) int32 {
	secs := int64(ttl / time.Second)
	if s.cfg.Keep > 0 {
		var r pagerecord.Record
		if pagerecord.Decode(rec, &r) == nil {
			rem := max(r.Remaining(s.cfg.Clock().Unix()), 0)
			if rem > 1 {
				rem--
			}
			secs = rem + int64(s.cfg.Keep/time.Second)
		}
	}
	return int32(min(max(secs, 1), maxTTL))
}

// Delete removes key's page with a pipelined md: the manifest of a chunked
// page (its chunks expire by themselves).
func (s *Store) Delete(key []byte) {
	if s.closed {
		return
	}
	if len(s.sets) > 0 {
		s.cancelSets(key)
	}
	_ = s.lc.Delete(key, mcclient.DeleteOptions{}, &s.writes, 0)
}

// Cork and Uncork batch the commands started between them into one write
// (pagestore.Corker).
func (s *Store) Cork()   { s.lc.Cork() }
func (s *Store) Uncork() { s.lc.Uncork() }

// Sweep enforces operation deadlines and reconnects (pagestore.Sweeper),
// and retries the lookups parked behind another process's fill.
func (s *Store) Sweep(now time.Time) {
	s.lc.Sweep(now)
	now = s.cfg.Clock()
	if len(s.parked) == 0 {
		return
	}
	s.lc.Cork()
	keep := s.parked[:0]
	for _, pg := range s.parked {
		switch {
		case s.closed:
			s.release(pg.pending)
			pg.h.PageLookup(pg.token, nil, 0, ErrClosed)
		case !now.Before(pg.until):
			// Waited long enough: one last look, answered whatever it
			// finds (a miss: this process fetches the page itself).
			pg.final = true
			s.get(pg.key, pg.pending)
		case !now.Before(pg.retryAt):
			s.get(pg.key, pg.pending)
		default:
			keep = append(keep, pg)
		}
	}
	clear(s.parked[len(keep):])
	s.parked = keep
	s.waiting.Store(int64(len(s.parked)))
	s.lc.Uncork()
}

// ElectsRefresher reports whether lookups elect one refresher per stale page
// (Config.Keep; pagestore.Elector).
func (s *Store) ElectsRefresher() bool { return s.cfg.Keep > 0 }

// SweepEvery is how often Sweep should run.
func (s *Store) SweepEvery() time.Duration { return s.cfg.SweepEvery }

// Awaiting counts the operations whose replies are awaited on the store's
// connections (pagestore.Awaiter): each ends in an event of one of them, or
// at Sweep.
func (s *Store) Awaiting() int { return s.lc.Pending() }

// Pending counts operations waiting for replies, lookups waiting for another
// process's fill, and chunked Sets whose manifest is still to be written
// (pagestore.Pender).
func (s *Store) Pending() int { return s.lc.Pending() + len(s.parked) + len(s.sets) }

// Close fails every lookup still pending and closes the connections
// (pagestore.Closer). Chunked Sets in flight write no manifest; chunked
// lookups are answered ErrClosed.
func (s *Store) Close() {
	if s.closed {
		return
	}
	s.closed = true
	// Answers every pending operation through its handler with ErrClosed:
	// mg of lookups and of chunks (which fails their assemblies), ms of
	// chunks (which settles their Sets).
	s.lc.Close()
	for _, pg := range s.parked {
		s.release(pg.pending)
		pg.h.PageLookup(pg.token, nil, 0, ErrClosed)
	}
	s.parked = nil
	s.waiting.Store(0)
	// Nothing should be left; if anything is, it is answered, not leaked.
	for id, ref := range s.fetches {
		delete(s.fetches, id)
		ref.f.left--
		s.failFetch(ref.f, ErrClosed, false)
		s.settleFetch(ref.f)
	}
	clear(s.sets)
	s.setBytes = 0
	s.spare, s.rawBuf = nil, nil
}

// Purge purges key with an md: with soft, md I marks the item stale (the
// next mg gets X and W: that reader refreshes it, the others keep the old
// copy meanwhile); otherwise it is deleted (pagestore.Purger). Either acts on
// a chunked page's manifest only: once it is deleted nothing names the
// chunks, which expire by themselves; a stale manifest still names whole
// chunks, which readers assemble and may serve stale. A chunked Set of key
// in flight on this store writes no manifest after it.
func (s *Store) Purge(key []byte, soft bool, h pagestore.PurgeHandler, token uint64) {
	if s.closed {
		h.PagePurged(token, false, ErrClosed)
		return
	}
	if len(s.sets) > 0 {
		s.cancelSets(key)
	}
	delete(s.won, string(key))
	s.next++
	id := s.next
	s.purges[id] = purgeOp{h: h, token: token}
	if err := s.lc.Delete(key, mcclient.DeleteOptions{Invalidate: soft}, purgeReplies{s}, id); err != nil {
		delete(s.purges, id)
		h.PagePurged(token, false, err)
	}
}

// purgeOp is a purge waiting for its md reply.
type purgeOp struct {
	h     pagestore.PurgeHandler
	token uint64
}

// purgeReplies receives md replies of purges.
type purgeReplies struct{ s *Store }

func (r purgeReplies) OnResult(id uint64, res *mcclient.Result) {
	op, ok := r.s.purges[id]
	if !ok {
		return
	}
	delete(r.s.purges, id)
	switch res.Status {
	case mcclient.StatusOK:
		op.h.PagePurged(op.token, true, nil)
	case mcclient.StatusNotFound:
		op.h.PagePurged(op.token, false, nil)
	default:
		op.h.PagePurged(op.token, false, res.Err)
	}
}

// writeHandler receives ms and md replies: a failed store is a later miss.
type writeHandler struct{ failed uint64 }

func (w *writeHandler) OnResult(_ uint64, res *mcclient.Result) {
	if res.Status == mcclient.StatusFailed {
		w.failed++
	}
}
