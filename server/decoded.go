package server

// decodedLRU keeps decompressed bodies of compressed stored pages for clients
// that cannot take the stored encoding (curl without --compressed, load
// tools, some bots), so a hot page is inflated once per loop, not per hit.
// It belongs to one loop: no locks. Entries are checked against the record's
// stored-at time and compressed length, so a page replaced in the store is
// never answered from a stale decoded copy.
type decodedLRU struct {
	budget int
	used   int
	m      map[string]*decEntry
	head   decEntry // sentinel of a circular list, most recent first
}

type decEntry struct {
	key        string
	storedAt   int64
	storedLen  int
	body       []byte
	prev, next *decEntry
}

func newDecodedLRU(budget int) *decodedLRU {
	d := &decodedLRU{budget: budget, m: make(map[string]*decEntry)}
	d.head.prev, d.head.next = &d.head, &d.head
	return d
}

// get returns the decoded body for key if it was decoded from the same record.
func (d *decodedLRU) get(key []byte, storedAt int64, storedLen int) ([]byte, bool) {
	e := d.m[string(key)] // no allocation: the compiler special-cases map index by string(bytes)
	if e == nil || e.storedAt != storedAt || e.storedLen != storedLen {
		return nil, false
	}
	d.unlink(e)
	d.pushFront(e)
	return e.body, true
}

// put remembers body (which the LRU now owns) for key, evicting the least
// recently used entries to stay within budget. Bodies over a quarter of the
// budget are not kept.
func (d *decodedLRU) put(key []byte, storedAt int64, storedLen int, body []byte) {
	size := len(body) + len(key) + 64
	if size > d.budget/4 {
		return
	}
	if e := d.m[string(key)]; e != nil {
		d.remove(e)
	}
	e := &decEntry{key: string(key), storedAt: storedAt, storedLen: storedLen, body: body}
	d.m[e.key] = e
	d.pushFront(e)
	d.used += size
	for d.used > d.budget && d.head.prev != &d.head {
		d.remove(d.head.prev)
	}
}

func (d *decodedLRU) remove(e *decEntry) {
	d.unlink(e)
	delete(d.m, e.key)
	d.used -= len(e.body) + len(e.key) + 64
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
