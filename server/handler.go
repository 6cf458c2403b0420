package server

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/mcclient"
)

// engineHandler is what the gnet engine calls. It is unexported so that the
// Server's API is not the engine's: nobody outside can feed a Server fake
// events. Not every connection on a loop is a client: a network page store
// enrolls its own connections on the loops (mcclient's LoopClient: its
// connections' contexts implement mcclient.LoopConnHandler), and their
// events go to their owner, after the loop's clock has been read, so that a
// store reply handled on the loop sees the time of its own event.
type engineHandler struct {
	gnet.BuiltinEventEngine
	s *Server
}

// OnBoot records the engine so Shutdown can stop it, removes the placeholder
// socket's path (nobody can connect to it from now on) and starts the accept
// goroutine. If Shutdown came first, the engine is not started.
func (h *engineHandler) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.s
	removePlaceholder(s.placeholder)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped.Load() {
		s.stopCalled.Store(true)
		return gnet.Shutdown
	}
	s.engine = eng
	close(s.booted)
	go s.acceptLoop(eng, s.ln)
	return gnet.None
}

// OnOpen attaches client connection state, or hands a store connection to
// its owner. While draining, new client connections are closed at once:
// Shutdown closes the listener first, but a connection the accept goroutine
// was handing over may still arrive.
func (h *engineHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if o := mcclient.LoopConn(c); o != nil {
		l := s.loopOf(c.EventLoop())
		if l == nil {
			return o.OnOpen(c)
		}
		l.now = h.s.clock()
		out, action := o.OnOpen(c) // writes what queued while dialing
		l.batchEnd()
		return out, action
	}
	if s.draining.Load() && !s.drain.gentle.Load() { // Drain serves it (drain.go)
		return nil, gnet.Close
	}
	l := s.loopFor(c.EventLoop())
	c.SetContext(l.newConn(c))
	s.stats.Conns.Add(1)
	return nil, gnet.None
}

// OnClose releases a client connection's state (responses still being
// fetched are dropped when they come back), or tells a store connection's
// owner, which fails the operations pending on it.
func (h *engineHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *conn:
		x.release()
	case mcclient.LoopConnHandler:
		l := h.s.loopOf(c.EventLoop())
		if l == nil {
			return x.OnClose(c, err)
		}
		l.now = h.s.clock()
		action := x.OnClose(c, err) // fails what was pending on it
		l.batchEnd()
		return action
	}
	return gnet.None
}

// OnTraffic parses and dispatches every complete request in a client's
// buffer, with the loop's store corked so that every lookup the requests
// start leaves in one write; or hands a store connection's bytes to its
// owner.
func (h *engineHandler) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *conn:
		l := x.l // onTraffic reads the clock
		if l.corker != nil && !l.batchCork() {
			l.corker.Cork()
			defer l.corker.Uncork()
		}
		return x.onTraffic()
	case mcclient.LoopConnHandler:
		l := h.s.loopOf(c.EventLoop())
		if l == nil {
			return x.OnTraffic(c)
		}
		l.now = h.s.clock()
		// The replies first (their hits are written, what they start is
		// queued), then the batch held since (batch.go): one write.
		action := x.OnTraffic(c)
		l.batchEnd()
		return action
	}
	return gnet.Close
}

// OnTick opens the accept goroutine's gate on the first tick (the ticker
// goroutine starts after every event loop is registered, so from then on
// Engine.Register may be called), then hands the timeout sweep to every loop;
// the sweep itself runs on the loop, since connection state is loop-only.
func (h *engineHandler) OnTick() (time.Duration, gnet.Action) {
	s := h.s
	select {
	case <-s.loopsUp:
	default:
		close(s.loopsUp) // only the engine's single ticker goroutine gets here
	}
	s.mu.Lock()
	for _, l := range s.loops {
		_ = l.el.Execute(context.Background(), l)
	}
	s.mu.Unlock()
	return sweepInterval(s.cfg.ReadTimeout), gnet.None
}
