package server

import (
	"context"
	"errors"
	"sync"
)

// errDecodeBusy: the decode budget stayed exhausted for decodeWait (or the
// reservation is larger than the whole budget). The request is answered 503.
var errDecodeBusy = errors.New("server: decode memory budget exhausted")

// decodeBudget is a byte semaphore shared by the whole Server
// (Config.MaxDecodeMemory): every body inflated outside the loops' small
// inline path reserves its bytes here before inflating and gives them back
// once they are no longer held (its response written, or it failed).
// Waiters are served in FIFO order, so a large reservation is not starved by
// a stream of small ones. Safe for concurrent use; acquire never runs on an
// event loop (tryAcquire may).
type decodeBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters []*budgetWaiter // FIFO
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once n has been granted
}

func newDecodeBudget(size int64) *decodeBudget { return &decodeBudget{size: size} }

// tryAcquire reserves n bytes if they are free now and nobody is waiting.
func (b *decodeBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		return true
	}
	return false
}

// acquire reserves n bytes, waiting (in FIFO order) until they are free or ctx
// ends; then it fails with errDecodeBusy and holds nothing. A reservation
// larger than the whole budget fails at once.
func (b *decodeBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if n > b.size {
		b.mu.Unlock()
		return errDecodeBusy
	}
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready:
		// Granted while we were giving up: hand it back.
		b.used -= n
	default:
		for i, o := range b.waiters {
			if o == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	// Either way the head of the queue may fit now.
	b.grantLocked()
	b.mu.Unlock()
	return errDecodeBusy
}

// release gives back n bytes reserved earlier and wakes the waiters that now
// fit, in order.
func (b *decodeBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("server: decode budget released more than it reserved")
	}
	b.grantLocked()
	b.mu.Unlock()
}

func (b *decodeBudget) grantLocked() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}

// inUse reports the bytes reserved now.
func (b *decodeBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
