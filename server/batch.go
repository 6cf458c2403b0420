package server

import "context"

// Batching store writes across client connections. Each client event runs
// with the loop's store corked, so the lookups of one read leave in one
// write per memcached connection; but under load an event-loop pass delivers
// many clients' reads, and writing one small mg per client costs a syscall
// each, for mcpage and for memcached (which then answers each in its own
// write too). When lookups are already in flight, the loop is busy: the
// first client event of a pass corks the store and queues batchEnd with
// EventLoop.Execute, which gnet runs after the I/O events of its next
// pass, so every lookup started meanwhile leaves in one write per
// connection. An idle loop (nothing in flight) writes at once: a lone
// request does not wait for a pass, and costs no Execute (which allocates).
//
//	pass k:   client A → cork, Execute(batchEnd), mg A queued
//	          client B → mg B queued            (no write yet)
//	pass k+1: memcached, client C → mg C queued
//	          batchEnd → uncork: "mg A, mg B, mg C" in one write

// batchCork reports whether the current client event runs under a batch
// cork (already held, or taken now); false means the caller corks around
// this event alone. On the loop.
func (l *loop) batchCork() bool {
	if l.batch {
		return true
	}
	if l.pender == nil || l.pender.Pending() == 0 {
		return false
	}
	l.batchEnd.l = l
	l.corker.Cork()
	l.batch = true
	if err := l.el.Execute(context.Background(), &l.batchEnd); err != nil {
		// The engine is stopping: nothing would uncork it.
		l.batch = false
		l.corker.Uncork()
		return false
	}
	return true
}

// batchEnd ends a batch cork: everything queued is written.
type batchEnd struct{ l *loop }

func (b *batchEnd) Run(context.Context) error {
	l := b.l
	l.now = l.s.clock()
	l.batch = false
	l.corker.Uncork()
	return nil
}
