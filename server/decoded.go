package server

import "time"

// decodedLRU keeps decompressed bodies of compressed stored pages for clients
// that cannot take the stored encoding (curl without --compressed, load
// tools, some bots), so a hot page is inflated once per loop, not per hit.
// Bodies too large to keep are remembered by their decoded size only, so the
// next decode of the same record reserves exactly what it needs and the loop
// does not try to inflate it inline again (decode.go).
// It belongs to one loop: no locks. Entries are checked against the record's
// stored-at time and compressed length, so a page replaced in the store is
// never answered from a stale decoded copy.
//
// It also holds the loop's off-loop decodes in flight (decodehit.go) and
// the reservations of decoded bodies whose responses are not yet written
// (decode.go).
type decodedLRU struct {
	budget int
	used   int
	m      map[string]*decEntry
	head   decEntry // sentinel of a circular list, most recent first

	inflight      map[string]*hitDecode  // off-loop decodes in flight, by key (decodehit.go)
	held          []*decodeHold          // budget held by decoded bodies of responses still queued
	live          map[string]*decodeHold // the held ones that are stored pages' bodies, by key
	pollScheduled bool
	pollTimer     *time.Timer
}

type decEntry struct {
	key  string
	id   recordID
	kept bool   // body is the decoded body; otherwise only size is known
	body []byte // when kept
	// size is the decoded length; when not kept, sizeAbove means only that
	// the body is larger than decodeInlineMax.
	size       int
	prev, next *decEntry
}

// sizeAbove marks an entry whose decoded size is unknown but above
// decodeInlineMax.
const sizeAbove = -1

func newDecodedLRU(budget int) *decodedLRU {
	d := &decodedLRU{
		budget:   budget,
		m:        make(map[string]*decEntry),
		inflight: make(map[string]*hitDecode),
		live:     make(map[string]*decodeHold),
	}
	d.head.prev, d.head.next = &d.head, &d.head
	return d
}

// lookup returns the entry for key if it was made from the same record.
func (d *decodedLRU) lookup(key []byte, id recordID) *decEntry {
	e := d.m[string(key)] // no allocation: the compiler special-cases map index by string(bytes)
	if e == nil || e.id != id {
		return nil
	}
	d.unlink(e)
	d.pushFront(e)
	return e
}

// get returns the decoded body for key if it was decoded from the same record.
func (d *decodedLRU) get(key []byte, id recordID) ([]byte, bool) {
	if e := d.lookup(key, id); e != nil && e.kept {
		return e.body, true
	}
	return nil, false
}

// size returns what is known of the decoded size of key's record: its exact
// length, sizeAbove, or ok false when nothing is known.
func (d *decodedLRU) size(key []byte, id recordID) (n int, ok bool) {
	if e := d.lookup(key, id); e != nil {
		return e.size, true
	}
	return 0, false
}

// keeps reports whether put would keep a body of n bytes for key.
func (d *decodedLRU) keeps(key []byte, n int) bool {
	return n+len(key)+64 <= d.budget/4
}

// put remembers body (which the LRU now owns) for key, evicting the least
// recently used entries to stay within budget. Bodies over a quarter of the
// budget are not kept; their size is remembered instead.
func (d *decodedLRU) put(key []byte, id recordID, body []byte) {
	if !d.keeps(key, len(body)) {
		d.putSize(key, id, len(body))
		return
	}
	d.insert(&decEntry{key: string(key), id: id, kept: true, body: body, size: len(body)})
}

// putSize remembers only the decoded size of key's record (n, or sizeAbove).
func (d *decodedLRU) putSize(key []byte, id recordID, n int) {
	if len(key)+64 > d.budget/4 {
		return
	}
	d.insert(&decEntry{key: string(key), id: id, size: n})
}

// forget drops what is known of key.
func (d *decodedLRU) forget(key []byte) {
	if e := d.m[string(key)]; e != nil {
		d.remove(e)
	}
}

func (d *decodedLRU) insert(e *decEntry) {
	if old := d.m[e.key]; old != nil {
		d.remove(old)
	}
	d.m[e.key] = e
	d.pushFront(e)
	d.used += e.cost()
	for d.used > d.budget && d.head.prev != &d.head {
		d.remove(d.head.prev)
	}
}

func (e *decEntry) cost() int { return len(e.body) + len(e.key) + 64 }

func (d *decodedLRU) remove(e *decEntry) {
	d.unlink(e)
	delete(d.m, e.key)
	d.used -= e.cost()
}

func (d *decodedLRU) unlink(e *decEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
}

func (d *decodedLRU) pushFront(e *decEntry) {
	e.next = d.head.next
	e.prev = &d.head
	d.head.next.prev = e
	d.head.next = e
}
