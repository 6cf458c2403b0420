package pagestore

import "time"

// Optional interfaces of a Store. A network store (memcached) needs more of
// its event loop than Get, Set and Delete: the server looks for these once
// per loop, when it builds the loop's store, and calls them on that loop
// only.

// Corker batches writes. The server calls Cork before it handles one client
// connection's bytes and Uncork after, so every lookup started by the
// requests of one read leaves in one write (pipelining). Calls nest.
type Corker interface {
	Cork()
	Uncork()
}

// Awaiter is a Corker whose answers arrive as events of its own connections
// on the loop (memcached's replies). While Awaiting is above 0 the loop is
// busy, and the server holds the store corked from one client event to the
// next, releasing it at the store's next connection event (OnOpen,
// OnTraffic, OnClose) or Sweep: the lookups of every client read meanwhile
// leave in one write per connection, as the answers they queue behind
// arrive. A store whose answers come another way must not implement it, or
// its writes wait for the next Sweep.
type Awaiter interface {
	Corker
	Awaiting() int
}

// Sweeper has timers (operation deadlines, reconnect backoff, probes of
// ejected servers). The server calls Sweep every SweepEvery, with the loop's
// clock, independently of the client read timeout.
type Sweeper interface {
	Sweep(now time.Time)
	SweepEvery() time.Duration
}

// Pender reports how many operations (lookups, stores, deletes) are in
// flight. Shutdown waits, within its deadline, until every loop's store
// reports 0, so that pages fetched before the shutdown are stored.
type Pender interface {
	Pending() int
}

// Closer is told that the engine is about to stop. Close runs on the loop,
// once, after Shutdown has waited for responses and Pending; it must answer
// every lookup still pending (PageLookup with an error) and close the
// store's connections. No method is called after it.
type Closer interface {
	Close()
}

// Abandoner is told when a cache fill that followed a miss stored nothing
// (the page was not storable, or the fetch failed). A store that elects one
// filler among processes (memcached's mg N placeholder) removes its
// placeholder then, so that the others stop waiting for a page that will not
// come. On the loop that looked the key up.
type Abandoner interface {
	Abandon(key []byte)
}

// PurgeHandler receives the answer to a Purger.Purge, on the loop.
type PurgeHandler interface {
	// PagePurged reports whether a page was stored under the key, or the
	// store failure that left it unknown.
	PagePurged(token uint64, found bool, err error)
}

// Purger purges a page on request (PURGE). Soft marks it stale, so that the
// next reader refreshes it while the others keep the old copy meanwhile;
// hard deletes it. The answer comes through h.PagePurged, now or later, on
// the loop. A store without it (the embedded one, which answers Get at once)
// is purged by the server through Get, Set and Delete.
type Purger interface {
	Purge(key []byte, soft bool, h PurgeHandler, token uint64)
}

// Elector is a store that elects one refresher per stale page among every
// process sharing it: its lookups say Refresh to the elected reader and
// Refreshing to the others (memcached's mg R). The server then refreshes a
// stale page only when elected, and leaves one it was not elected for (its
// record says stale a moment before the store's clock does) to whoever is.
// ElectsRefresher is asked once, when the loop builds its store.
type Elector interface {
	ElectsRefresher() bool
}
