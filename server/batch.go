package server

// Batching store writes across client connections. Each client event runs
// with the loop's store corked, so the lookups of one read leave in one
// write per memcached connection; but under load an event-loop pass delivers
// many clients' reads, and writing one small mg per client costs a syscall
// each, for mcpage and for memcached (which then answers each in its own
// write too). So while the store awaits replies (pagestore.Awaiter), the
// loop is busy: the first client event corks the store and leaves it
// corked, and the store's next connection event uncorks it after handling
// its replies, so every lookup started meanwhile leaves in one write per
// connection, together with whatever those replies started. An idle loop
// (nothing awaited) writes at once: a lone request waits for nothing.
//
//	client A → nothing awaited: mg A written at once
//	client B → A awaited: cork, mg B queued
//	client C → mg C queued                         (no write yet)
//	memcached answers A → hit A written; uncork: "mg B, mg C" in one write
//
// The reply is sure to come, or the connection's close, or the operation's
// deadline at the store's Sweep, which uncorks too; so a held cork delays a
// lookup by at most the store's answer to the one before it. The batch is
// one for every server: while a hung server owes replies, lookups for the
// others wait for any server's next reply or the next Sweep (every 10 ms
// with cmd/mcpage's defaults), until the hung server's operations time out
// and it is ejected (TestBatchReleasedWhenServerDies kills one instead). Ending the
// batch on the store's own events, rather than at the end of the loop's
// pass with EventLoop.Execute, costs no allocation and no eventfd wake-up.

// batchCork reports whether the current client event runs under a batch
// cork (already held, or taken now); false means the caller corks around
// this event alone. On the loop.
func (l *loop) batchCork() bool {
	if l.batch {
		return true
	}
	if l.awaiter == nil || l.awaiter.Awaiting() == 0 {
		return false
	}
	l.awaiter.Cork()
	l.batch = true
	return true
}

// batchEnd ends a batch cork, if one is held: everything queued is
// written. On the loop, after a store connection event or Sweep.
func (l *loop) batchEnd() {
	if l.batch {
		l.batch = false
		l.awaiter.Uncork()
	}
}
