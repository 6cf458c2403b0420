package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpage/mcpage/server/pagestore"
)

// The loop side of the optional store hooks (pagestore/hooks.go).

// storeSweep runs a pagestore.Sweeper on its loop every SweepEvery: a timer
// hands the sweep to the loop with Execute, and the sweep re-arms the timer.
type storeSweep struct {
	l     *loop
	sw    pagestore.Sweeper
	t     *time.Timer
	every time.Duration
	done  bool // the store was closed
}

func (l *loop) startStoreSweep(sw pagestore.Sweeper) {
	every := sw.SweepEvery()
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	ss := &storeSweep{l: l, sw: sw, every: every}
	ss.t = time.AfterFunc(every, func() { _ = l.el.Execute(context.Background(), ss) })
	l.sweep = ss
}

// Run sweeps, on the loop, and re-arms the timer.
func (ss *storeSweep) Run(context.Context) error {
	if ss.done {
		return nil
	}
	ss.l.now = ss.l.s.clock()
	ss.sw.Sweep(ss.l.now)
	ss.l.batchEnd() // a batch held for an answer the sweep timed out
	ss.t.Reset(ss.every)
	return nil
}

// storesPending asks every loop's store how many operations it has in
// flight and returns the sum (0 for stores without the Pender hook, and for
// loops that did not answer within the context). Any goroutine.
func (s *Server) storesPending(ctx context.Context) int64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	s.mu.Lock()
	for _, l := range s.loops {
		if l.pender == nil {
			continue
		}
		wg.Add(1)
		p := l.pender
		if err := l.el.Execute(ctx, runFunc(func() {
			total.Add(int64(p.Pending()))
			wg.Done()
		})); err != nil {
			wg.Done()
		}
	}
	s.mu.Unlock()
	if waitCtx(ctx, &wg) {
		return total.Load()
	}
	return 0
}

// closeStores runs every loop's store Close on its loop and waits for them
// (within ctx). Any goroutine; called once by Shutdown before the engine
// stops.
func (s *Server) closeStores(ctx context.Context) {
	var wg sync.WaitGroup
	s.mu.Lock()
	for _, l := range s.loops {
		l := l
		wg.Add(1)
		if err := l.el.Execute(ctx, runFunc(func() {
			defer wg.Done()
			if l.sweep != nil {
				l.sweep.done = true
				l.sweep.t.Stop()
			}
			if l.closer != nil {
				l.closer.Close()
			}
		})); err != nil {
			wg.Done()
		}
	}
	s.mu.Unlock()
	waitCtx(ctx, &wg)
}

// runFunc adapts a function to gnet's Runnable.
type runFunc func()

func (f runFunc) Run(context.Context) error { f(); return nil }

// waitCtx waits for wg or ctx, reporting whether wg finished.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
