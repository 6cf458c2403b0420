package server

import (
	"context"
	"errors"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// The loop's inbox: what upstream workers hand back to a loop (exchange
// results, interim responses, relayed slices, decode reservations) goes
// through one FIFO per loop, and the loop is woken once per batch rather
// than once per result. EventLoop.Execute allocates twice per call (its
// closure and its queue node) and writes the loop's eventfd when the loop
// sleeps; under load one wake-up now carries every result that arrived
// while the loop was busy. One queue for every kind keeps their order: an
// exchange's interim response is posted before its final one, and runs
// before it.
//
//	worker A: post(A) → queue [A], wake: Execute(inbox)
//	worker B: post(B) → queue [A B], already woken
//	loop:     inbox.Run → takes [A B], runs A then B
//	worker C: post(C) → queue [C], wake (the loop took the last batch)

// errInboxClosed: the loop's engine refused the wake-up (it is stopping);
// the result is dropped, as Execute's refusal did before.
var errInboxClosed = errors.New("server: loop is gone")

type inbox struct {
	l     *loop
	mu    sync.Mutex
	q     []gnet.Runnable // posted, not yet taken by the loop
	spare []gnet.Runnable // the batch the loop ran last, emptied, for reuse
	woken bool            // an Execute(inbox) is queued and has not yet taken q
	dead  bool            // Execute refused: the engine is stopping
	runs  int             // batches run, for tests
}

// post queues r to run on the loop, after everything posted before it.
// Any goroutine. It fails only when the loop's engine is stopping; r then
// never runs (nor does anything posted later).
func (l *loop) post(r gnet.Runnable) error {
	ib := &l.inbox
	ib.mu.Lock()
	if ib.dead {
		ib.mu.Unlock()
		return errInboxClosed
	}
	ib.q = append(ib.q, r)
	wake := !ib.woken
	ib.woken = true
	ib.mu.Unlock()
	if !wake {
		return nil
	}
	if err := l.el.Execute(context.Background(), ib); err != nil {
		ib.mu.Lock()
		ib.dead = true
		clear(ib.q)
		ib.q = ib.q[:0]
		ib.mu.Unlock()
		return errInboxClosed
	}
	return nil
}

// Run takes the queued batch and runs it, on the loop. Posts that arrive
// meanwhile start a new batch and wake the loop again.
func (ib *inbox) Run(ctx context.Context) error {
	ib.mu.Lock()
	batch := ib.q
	ib.q, ib.spare = ib.spare[:0], nil
	ib.woken = false
	ib.runs++
	ib.mu.Unlock()
	for i, r := range batch {
		_ = r.Run(ctx)
		batch[i] = nil
	}
	ib.mu.Lock()
	if cap(batch) <= maxInboxBatch {
		ib.spare = batch[:0]
	}
	ib.mu.Unlock()
	return nil
}

// maxInboxBatch: a batch slice larger than this is not kept for reuse.
const maxInboxBatch = 4096
