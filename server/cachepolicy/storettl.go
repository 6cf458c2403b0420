package cachepolicy

import "time"

// StoreTTL is how long the page store keeps a page that is fresh for ttl
// (Decision.TTL). A page that can be revalidated (its stored header block
// has a validator, ETag or Last-Modified: pagerecord.Record.Revalidatable)
// is kept past its freshness, so that once stale it can be revalidated with a
// conditional request (a 304 costs the origin no body) instead of being
// fetched again: kept as long again as it was fresh, at least a minute more,
// at most a day more. A page that may be served stale is kept for staleFor
// past its freshness (the longest of the proxy's grace and the response's
// stale-while-revalidate and stale-if-error, as the caller allows), whichever
// is longer. Any other page is kept exactly ttl.
//
// Called by whoever writes a record to the store (fill, freshen, purge). Any
// goroutine; no allocation.
func StoreTTL(ttl time.Duration, revalidatable bool, staleFor time.Duration) time.Duration {
	keep := max(staleFor, 0)
	if revalidatable {
		keep = max(keep, min(max(ttl, time.Minute), 24*time.Hour))
	}
	return ttl + keep
}
