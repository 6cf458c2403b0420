package mcclient

import "github.com/panjf2000/gnet/v2"

// LoopConnHandler receives the gnet events of a connection a LoopClient
// enrolled on its event loop. Such a connection's Context() implements it
// from the start (it is attached at Enroll, before OnOpen). The host
// engine's EventHandler sees those connections like its own, so it must
// forward these three events, on the loop, for every connection whose
// context implements LoopConnHandler (LoopConn tells), and otherwise leave
// those connections alone. Only mcclient implements it.
type LoopConnHandler interface {
	OnOpen(c gnet.Conn) (out []byte, action gnet.Action)
	OnTraffic(c gnet.Conn) gnet.Action
	OnClose(c gnet.Conn, err error) gnet.Action
	loopConnHandler()
}

// LoopConn returns the handler of c if c is a LoopClient connection, else
// nil. Call it on c's loop, from the host's OnOpen, OnTraffic and OnClose.
func LoopConn(c gnet.Conn) LoopConnHandler {
	h, _ := c.Context().(LoopConnHandler)
	return h
}

// LoopHost is the smallest host EventHandler: it forwards events of
// LoopClient connections and closes any other connection. Embed it, or copy
// its three methods, in an engine that has no other clients to serve; tests
// and benchmarks use it as is. Override OnOpen to get hold of event loops
// (c.EventLoop() of an accepted connection) for NewLoopClient.
type LoopHost struct {
	gnet.BuiltinEventEngine
}

// OnOpen forwards to the connection's LoopConnHandler; other connections are closed.
func (LoopHost) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if h := LoopConn(c); h != nil {
		return h.OnOpen(c)
	}
	return nil, gnet.Close
}

// OnTraffic forwards to the connection's LoopConnHandler; other connections are closed.
func (LoopHost) OnTraffic(c gnet.Conn) gnet.Action {
	if h := LoopConn(c); h != nil {
		return h.OnTraffic(c)
	}
	return gnet.Close
}

// OnClose forwards to the connection's LoopConnHandler.
func (LoopHost) OnClose(c gnet.Conn, err error) gnet.Action {
	if h := LoopConn(c); h != nil {
		return h.OnClose(c, err)
	}
	return gnet.None
}
