package admin

import (
	"context"
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/mcclient"
)

// LoopClients gathers the memcached clients of a server's event loops, one
// per loop, as the server's Config.NewStore creates them (Add), and reads
// their servers' state for Config.Memcached (States). A LoopClient's state
// belongs to its loop and is never locked, so States does not read it from
// the asking goroutine: it runs one task on each loop (EventLoop.Execute),
// which copies the state there. The loops pay for that only when asked.
//
// Its methods may be called from any goroutine, concurrently.
type LoopClients struct {
	mu   sync.Mutex
	list []*loopClient
}

type loopClient struct {
	el gnet.EventLoop
	lc *mcclient.LoopClient
	// last holds the largest counters each server has reported from this
	// loop (under LoopClients.mu), which States uses for a loop that does
	// not answer in time, so that the sums never go backwards.
	last []mcclient.ServerState
}

// Add records lc, whose loop is el. Any goroutine.
func (c *LoopClients) Add(el gnet.EventLoop, lc *mcclient.LoopClient) {
	c.mu.Lock()
	c.list = append(c.list, &loopClient{el: el, lc: lc})
	c.mu.Unlock()
}

// States returns every server's state summed over the loops, in ring
// order. The state now (Loops, EjectedLoops, ConnsUp, Conns, Pending)
// comes from the loops that answer before ctx ends (one whose engine has
// stopped never does); the counters (Ops, Errors, ...) from every loop
// that ever answered, its last answer standing in when it does not answer
// now, so that they are monotonic as Prometheus counters must be.
func (c *LoopClients) States(ctx context.Context) []MemcachedServer {
	c.mu.Lock()
	list := append([]*loopClient(nil), c.list...)
	c.mu.Unlock()
	type answer struct {
		i      int
		states []mcclient.ServerState
	}
	// Buffered for every loop: a loop answering after ctx ended never blocks.
	answers := make(chan answer, len(list))
	asked := 0
	for i, x := range list {
		lc := x.lc
		err := x.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			answers <- answer{i, lc.ServerStates(nil)}
			return nil
		}))
		if err == nil {
			asked++
		}
	}
	now := make([][]mcclient.ServerState, len(list))
wait:
	for ; asked > 0; asked-- {
		select {
		case a := <-answers:
			now[a.i] = a.states
		case <-ctx.Done():
			break wait
		}
	}

	var out []MemcachedServer
	index := map[string]int{}
	server := func(addr string) *MemcachedServer {
		i, ok := index[addr]
		if !ok {
			i = len(out)
			index[addr] = i
			out = append(out, MemcachedServer{Addr: addr})
		}
		return &out[i]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range list {
		for _, st := range now[i] {
			m := server(st.Addr)
			m.Loops++
			if st.Ejected {
				m.EjectedLoops++
			}
			m.ConnsUp += st.ConnsUp
			m.Conns += st.Conns
			m.Pending += st.Pending
		}
		x.keep(now[i])
		for j := range x.last {
			m := server(x.last[j].Addr)
			m.add(&x.last[j])
		}
	}
	return out
}

// keep merges a loop's answer into last: each counter the larger of the
// two, since concurrent States calls may store their answers out of order.
// The caller holds LoopClients.mu.
func (x *loopClient) keep(states []mcclient.ServerState) {
	if len(states) == 0 {
		return
	}
	if len(x.last) != len(states) { // the first answer: a client's servers never change
		x.last = append(x.last[:0], states...)
		return
	}
	for j := range states {
		l, s := &x.last[j], &states[j]
		l.Ops = max(l.Ops, s.Ops)
		l.Replies = max(l.Replies, s.Replies)
		for k := range l.Errors {
			l.Errors[k] = max(l.Errors[k], s.Errors[k])
		}
		l.Ejections = max(l.Ejections, s.Ejections)
		l.ConnFailures = max(l.ConnFailures, s.ConnFailures)
		l.Writes = max(l.Writes, s.Writes)
	}
}
