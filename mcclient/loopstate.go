package mcclient

// ServerState is what one LoopClient knows of one memcached server, for
// monitoring.
type ServerState struct {
	Addr string
	// Ejected: the server failed Config.FailureLimit times in a row and
	// has not answered since; its keys go to the next server on the ring
	// (it is probed again once Config.RetryInterval is over).
	Ejected bool
	Fails   int // failures in a row
	ConnsUp int // connections open now
	Conns   int // connections kept to it (Config.ConnsPerServer)
	Pending int // operations waiting for a reply
}

// ServerStates appends every server's state, in ring order, to dst. It
// reads the client's loop-only state, so it must run on the loop, like
// every other method: from another goroutine, through EventLoop.Execute.
// It costs the loop nothing when not called.
func (lc *LoopClient) ServerStates(dst []ServerState) []ServerState {
	for i := range lc.servers {
		s := &lc.servers[i]
		st := ServerState{Addr: s.addr, Ejected: s.h.ejectedUntil != 0 && !lc.closed, Fails: s.h.fails, Conns: len(s.conns)}
		for _, c := range s.conns {
			if c.phase == phaseUp {
				st.ConnsUp++
			}
			st.Pending += c.st.pending()
		}
		dst = append(dst, st)
	}
	return dst
}
