package server

import "context"

// HeldState is what the connections of a server hold in their response
// queues (held.go), summed over them, for tests.
type HeldState struct {
	Held     int // bytes the queued slots own
	Looking  int // network store lookups in flight
	Deferred int // slots whose lookup waits for room under MaxHeld
	Queued   int // slots not yet written whole
	Waiting  int // slots neither answered nor deferred (a lookup or fetch in flight)
}

// HeldState reads every loop's connections on that loop (EventLoop.Execute)
// and sums them; any goroutine but a loop's.
func (s *Server) HeldState() HeldState {
	var sum HeldState
	view := s.loopView.Load()
	if view == nil {
		return sum
	}
	for el, l := range *view {
		done := make(chan HeldState, 1)
		err := el.Execute(context.Background(), runFunc(func() {
			var h HeldState
			for c := range l.conns {
				h.Held += c.held
				h.Looking += c.looking
				h.Deferred += c.deferred
				h.Queued += len(c.q)
				for _, p := range c.q {
					if !p.ready && !p.deferred {
						h.Waiting++
					}
				}
			}
			done <- h
		}))
		if err != nil {
			continue
		}
		h := <-done
		sum.Held += h.Held
		sum.Looking += h.Looking
		sum.Deferred += h.Deferred
		sum.Queued += h.Queued
		sum.Waiting += h.Waiting
	}
	return sum
}
