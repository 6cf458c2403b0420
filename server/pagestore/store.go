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
	// modified: copy what must outlive the call. state qualifies rec (always
	// 0 from the embedded store). err != nil reports a store failure (rec is
	// then nil and state 0); the caller treats it as a miss.
	PageLookup(token uint64, rec []byte, state State, err error)
}

// State qualifies a page a lookup found: what a store that elects one
// refresher among many processes (memcached's mg R/W/Z/X) told this reader.
// The zero value says nothing: the reader judges the page by its record
// alone and, when it is stale, coordinates a refresh within its process.
type State uint8

// State bits.
const (
	// Refresh: this reader was elected, among every process sharing the
	// store, to refresh the page (its freshness is ending, or it was purged).
	// If it does not store a new page, it must say so (Abandoner), so that
	// another reader is elected.
	Refresh State = 1 << iota
	// Refreshing: another reader holds the refresh. Do not start one; serve
	// the page if it may be served stale meanwhile. A store that asks a
	// Judge waits for the refresh instead when the page may not be.
	Refreshing
	// Invalidated: the page was purged softly (memcached md I). It is stale,
	// whatever its record says.
	Invalidated
)

// Judge is an optional part of a Handler. A store that elects one refresher
// asks it, on the loop, whether a reader that was not elected may be
// answered with rec while the page is refreshed: true when rec is fresh, or
// stale within what its response allows (stale-while-revalidate, grace). If
// not, the store waits (bounded) for the refreshed page before answering, as
// it waits for a cold page another process fills. rec is valid only during
// the call.
type Judge interface {
	MayServeWhileRefreshing(rec []byte, invalidated bool) bool
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
