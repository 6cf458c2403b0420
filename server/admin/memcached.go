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
type LoopClients struct {
	mu   sync.Mutex
	list []loopClient
}

type loopClient struct {
	el gnet.EventLoop
	lc *mcclient.LoopClient
}

// Add records lc, whose loop is el. Any goroutine.
func (c *LoopClients) Add(el gnet.EventLoop, lc *mcclient.LoopClient) {
	c.mu.Lock()
	c.list = append(c.list, loopClient{el, lc})
	c.mu.Unlock()
}

// States returns every server's state summed over the loops that answer
// before ctx ends, in ring order. A loop that does not answer in time (or
// whose engine has stopped) is left out.
func (c *LoopClients) States(ctx context.Context) []MemcachedServer {
	c.mu.Lock()
	list := append([]loopClient(nil), c.list...)
	c.mu.Unlock()
	// Buffered for every loop: a loop answering after ctx ended never blocks.
	answers := make(chan []mcclient.ServerState, len(list))
	asked := 0
	for _, x := range list {
		lc := x.lc
		err := x.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			answers <- lc.ServerStates(nil)
			return nil
		}))
		if err == nil {
			asked++
		}
	}
	var out []MemcachedServer
	index := map[string]int{}
	for ; asked > 0; asked-- {
		var states []mcclient.ServerState
		select {
		case states = <-answers:
		case <-ctx.Done():
			return out
		}
		for _, st := range states {
			i, ok := index[st.Addr]
			if !ok {
				i = len(out)
				index[st.Addr] = i
				out = append(out, MemcachedServer{Addr: st.Addr})
			}
			m := &out[i]
			m.Loops++
			if st.Ejected {
				m.EjectedLoops++
			}
			m.ConnsUp += st.ConnsUp
			m.Conns += st.Conns
			m.Pending += st.Pending
		}
	}
	return out
}
