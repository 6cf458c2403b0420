// Package pagestore is where stored pages live: the Store interface every
// event loop uses, and Embedded, the in-process store used when no memcached
// is configured.
//
// Values are opaque bytes to this package; the server stores
// pagerecord-encoded records in them.
package pagestore

import "time"

// Handler receives lookup results on the event loop that asked.
type Handler interface {
	// PageLookup is called exactly once per Get, on the loop that called Get:
	// token is the one given to Get; rec is the stored record bytes, nil on a
	// miss. rec is valid only until PageLookup returns and must not be
	// modified: copy what must outlive the call. err != nil reports a store
	// failure (rec is then nil); the caller treats it as a miss.
	PageLookup(token uint64, rec []byte, err error)
}

// Store is one event loop's handle on the page store. Every method is called
// on that loop only, and callbacks run on it too: synchronously inside Get for
// the embedded store, later (from the loop's own event processing) for
// network-backed stores. Callers must therefore be ready for PageLookup both
// before and after Get returns, and find their request by token rather than
// by call order.
type Store interface {
	// Get looks up key and reports the result to h.PageLookup(token, …)
	// exactly once. key is not retained after Get returns (a store that needs
	// it later copies it).
	Get(key []byte, h Handler, token uint64)
	// Set stores rec under key for ttl. The store owns rec after the call:
	// the caller must not modify it again. key is copied if kept. A ttl ≤ 0
	// removes the key instead. Set reports nothing: a store may drop a page
	// (too large, evicted at once, backend down) and the next Get misses.
	Set(key []byte, rec []byte, ttl time.Duration)
	// Delete removes key's page, if any. key is not retained.
	Delete(key []byte)
}
