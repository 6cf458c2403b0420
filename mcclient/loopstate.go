package mcclient

// ServerState is what one LoopClient knows of one memcached server, for
// monitoring: its state now, and counters since the client was created.
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

	// Counters: they only grow.
	//
	// Ops counts the operations (Get, Set, Delete, Arith) whose key the
	// ring gave this server, taken or refused (not those rejected for their
	// arguments, such as ErrKeyTooLong, nor those that found every server
	// ejected: ErrNoServer names none). Each of them is, at any time,
	// pending, answered (Replies), or failed without an answer (Errors of
	// every kind but ErrKindServer, whose operations are among Replies), so
	// Ops = Pending + Replies + those Errors, until the client is closed
	// (operations failed with ErrClosed are not counted).
	Ops uint64
	// Replies counts the replies received, error replies included.
	Replies uint64
	// Errors counts the operations that failed, by kind.
	Errors [NumErrorKinds]uint64
	// Ejections counts the times the server was ejected: FailureLimit
	// failures in a row, or a failed probe after RetryInterval. Other
	// connections failing while it is ejected do not count again.
	Ejections uint64
	// ConnFailures counts connections lost with operations pending, timed
	// out, or that could not be opened: the failures that lead to ejection.
	ConnFailures uint64
	// Writes counts the writes handed to gnet: Ops/Writes is how many
	// commands a write carries on average (the batching Cork buys).
	Writes uint64
}

// ErrorKind classifies failed operations for ServerState.Errors.
type ErrorKind uint8

const (
	// ErrKindTimeout: ErrTimeout; the operation (or the oldest on its
	// connection, which then fails them all) passed Config.OpTimeout.
	ErrKindTimeout ErrorKind = iota
	// ErrKindConnection: ErrConnClosed, ErrConnect; the connection was
	// lost or could not be opened with the operation pending.
	ErrKindConnection
	// ErrKindProtocol: a reply that broke the protocol (ErrMalformedReply,
	// ErrOpaqueMismatch, ErrUnexpectedReply, ...); the connection is closed
	// and every operation pending on it fails.
	ErrKindProtocol
	// ErrKindServer: memcached answered CLIENT_ERROR or SERVER_ERROR (out
	// of memory, object too large); the connection stays usable.
	ErrKindServer
	// ErrKindRefused: not sent: ErrServerDown (the connection is backing
	// off) or ErrQueueFull (Config.MaxPending).
	ErrKindRefused
	// NumErrorKinds is the number of kinds.
	NumErrorKinds
)

var errorKindNames = [NumErrorKinds]string{"timeout", "connection", "protocol", "server", "refused"}

// String names the kind: "timeout", "connection", "protocol", "server",
// "refused" (the metrics' label values).
func (k ErrorKind) String() string {
	if k < NumErrorKinds {
		return errorKindNames[k]
	}
	return "invalid"
}

// errorKind classifies an error that fails the operations pending on a
// connection.
func errorKind(err error) ErrorKind {
	switch err {
	case ErrTimeout:
		return ErrKindTimeout
	case ErrConnClosed, ErrConnect:
		return ErrKindConnection
	case ErrServerDown, ErrQueueFull:
		return ErrKindRefused
	}
	return ErrKindProtocol // what receive returns: the reply stream cannot be trusted
}

// serverStats are one server's counters on one LoopClient. Plain integers:
// only the client's loop touches them, and ServerStates copies them out
// there. Replies and error replies are counted per connection (connState).
type serverStats struct {
	ops          uint64
	errs         [NumErrorKinds]uint64
	ejections    uint64
	connFailures uint64
}

// ServerStates appends every server's state, in ring order, to dst. It
// reads the client's loop-only state, so it must run on the loop, like
// every other method: from another goroutine, through EventLoop.Execute.
// It costs the loop nothing when not called.
func (lc *LoopClient) ServerStates(dst []ServerState) []ServerState {
	for i := range lc.servers {
		s := &lc.servers[i]
		st := ServerState{Addr: s.addr, Ejected: s.h.ejectedUntil != 0 && !lc.closed, Fails: s.h.fails, Conns: len(s.conns),
			Ops: s.stats.ops, Errors: s.stats.errs, Ejections: s.stats.ejections, ConnFailures: s.stats.connFailures}
		for _, c := range s.conns {
			if c.phase == phaseUp {
				st.ConnsUp++
			}
			st.Pending += c.st.pending()
			st.Writes += c.writes
			st.Replies += c.st.answered
			st.Errors[ErrKindServer] += c.st.errorReplies
		}
		dst = append(dst, st)
	}
	return dst
}
