// Package mcstore is the page store over memcached: one Store per event
// loop, each driving its own mcclient.LoopClient connections on that loop, so
// that a lookup is a pipelined mg written and answered on the loop that owns
// the client connection, with no lock and no goroutine hop. Records are the
// same bytes the embedded store keeps (server/pagerecord), so another mcpage
// process, or an application, reads what this one wrote.
package mcstore

import (
	"errors"
	"time"

	"github.com/mcpage/mcpage/mcclient"
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
	sweep   time.Duration
	next    uint64             // id of the next operation
	lookups map[uint64]pending // mg in flight, by operation id
	writes  writeHandler       // ms and md results: nothing waits on them
	closed  bool
}

// pending is the server's side of one lookup: who to answer, with which token.
type pending struct {
	h     pagestore.Handler
	token uint64
}

// New returns a Store driving lc, whose connections live on the loop that
// will call the Store. sweepEvery is how often the server should call Sweep
// (a tenth of the operation timeout is right: gnet has no deadlines).
func New(lc *mcclient.LoopClient, sweepEvery time.Duration) *Store {
	return &Store{lc: lc, sweep: sweepEvery, lookups: make(map[uint64]pending)}
}

// Get starts an mg for key; h.PageLookup runs once, later, on this loop, with
// the record (valid only during that call: it is a view into the
// connection's read buffer), nil on a miss, or the error that made it a miss
// (a server down, a timeout: the server then serves from the origin). If the
// command cannot even be queued, PageLookup runs before Get returns.
func (s *Store) Get(key []byte, h pagestore.Handler, token uint64) {
	if s.closed {
		h.PageLookup(token, nil, ErrClosed)
		return
	}
	s.next++
	id := s.next
	s.lookups[id] = pending{h: h, token: token}
	if err := s.lc.Get(key, mcclient.GetOptions{}, s, id); err != nil {
		delete(s.lookups, id)
		h.PageLookup(token, nil, err)
	}
}

// OnResult receives an mg's reply (mcclient.Handler), on the loop.
func (s *Store) OnResult(id uint64, res *mcclient.Result) {
	p, ok := s.lookups[id]
	if !ok {
		return
	}
	delete(s.lookups, id)
	switch res.Status {
	case mcclient.StatusOK:
		if len(res.Value) == 0 {
			// An empty item (e.g. a placeholder another client vivified) is
			// never a page.
			p.h.PageLookup(p.token, nil, nil)
			return
		}
		p.h.PageLookup(p.token, res.Value, nil)
	case mcclient.StatusMiss:
		p.h.PageLookup(p.token, nil, nil)
	default:
		p.h.PageLookup(p.token, nil, res.Err)
	}
}

// Set stores rec under key for ttl (whole seconds, at least 1) with a
// pipelined ms. Nothing waits for the reply: a store that fails (server
// down, value larger than the item size) leaves the page a miss.
func (s *Store) Set(key, rec []byte, ttl time.Duration) {
	if s.closed {
		return
	}
	if ttl <= 0 {
		s.Delete(key)
		return
	}
	secs := int32(min(ttl/time.Second, 1<<31-1))
	if secs < 1 {
		secs = 1
	}
	_ = s.lc.Set(key, rec, mcclient.SetOptions{TTL: secs}, &s.writes, 0)
}

// Delete removes key's page with a pipelined md.
func (s *Store) Delete(key []byte) {
	if s.closed {
		return
	}
	_ = s.lc.Delete(key, mcclient.DeleteOptions{}, &s.writes, 0)
}

// Cork and Uncork batch the commands started between them into one write
// (pagestore.Corker).
func (s *Store) Cork()   { s.lc.Cork() }
func (s *Store) Uncork() { s.lc.Uncork() }

// Sweep enforces operation deadlines and reconnects (pagestore.Sweeper).
func (s *Store) Sweep(now time.Time) { s.lc.Sweep(now) }

// SweepEvery is how often Sweep should run.
func (s *Store) SweepEvery() time.Duration { return s.sweep }

// Pending counts operations waiting for replies (pagestore.Pender).
func (s *Store) Pending() int { return s.lc.Pending() }

// Close fails every lookup still pending and closes the connections
// (pagestore.Closer).
func (s *Store) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.lc.Close() // answers every pending mg through OnResult with ErrClosed
}

// writeHandler receives ms and md replies: a failed store is a later miss.
type writeHandler struct{ failed uint64 }

func (w *writeHandler) OnResult(_ uint64, res *mcclient.Result) {
	if res.Status == mcclient.StatusFailed {
		w.failed++
	}
}
