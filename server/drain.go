package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Handing the clients over to another process (a graceful restart).
//
// The new process takes over the very listening socket (ListenerFile, passed
// to it as an inherited descriptor and given to its server as
// Config.Listener), so connections waiting in the kernel's accept queue are
// never lost: there is one queue, and from the moment the new process serves
// both processes accept from it. Then the old one calls Drain:
//
//   - it closes its own descriptor of the listener (the socket lives on in
//     the new process) and accepts nothing more; a connection it had just
//     accepted is still served;
//   - every request it parses from then on is answered with
//     "Connection: close", after which the connection is closed: a keep-alive
//     client finishes the request it is sending and reconnects, to the new
//     process;
//   - a connection idle for drainIdle, with no request bytes buffered, is
//     closed (a client that sends on it at that very moment sees the close,
//     as with any keep-alive close, and retries); one in the middle of a
//     request head is left to ReadTimeout;
//   - once every client connection is gone, it waits for the cache fills
//     and background refreshes still in flight and for the store's pending
//     writes (memcached), then stops the loops.
//
// ctx bounds all of it: at its deadline what is left is cut off, as Shutdown
// does at its own.
//
// SO_REUSEPORT (two listening sockets on one port) is not used for this:
// Linux gives each such socket its own accept queue, and connections queued
// on the old process's socket when it closes are reset.

// drainIdle is how long a connection must have been idle, with nothing
// buffered, before a draining server closes it rather than wait for its next
// request (to answer it with Connection: close). A client that is using its
// connection sends its next request well within it.
const drainIdle = time.Second

// drainState is the server's part in a hand-over.
type drainState struct {
	// gentle: Drain (not Shutdown) is stopping the server: connections are
	// served to their end rather than cut off. Set before Server.draining.
	gentle atomic.Bool
	// conns counts the client connections open: newConn adds one, release
	// takes it back.
	conns atomic.Int64
}

// ListenerFile returns a new descriptor of the client listener, for another
// process to inherit (exec.Cmd.ExtraFiles) and serve on with
// Config.Listener. The caller closes it once the other process has started.
// It is a plain duplicate: unlike net.TCPListener.File, handing it to
// exec.Cmd does not switch the socket, which both processes then share, to
// blocking mode. Any goroutine, while the server is serving.
func (s *Server) ListenerFile() (*os.File, error) {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil || s.lnClosed.Load() {
		return nil, errors.New("server: listener not open")
	}
	return DupListener(ln)
}

// DupListener returns a duplicate of ln's descriptor as an *os.File that
// exec.Cmd.ExtraFiles passes on without changing the socket's blocking mode
// (the *os.File of net.TCPListener.File is put in blocking mode when its Fd
// is taken, and the mode belongs to the socket, so the process keeping ln
// would block in accept). ln must be a *net.TCPListener or *net.UnixListener.
func DupListener(ln net.Listener) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("server: listener %T has no descriptor", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var dupErr error
	err = rc.Control(func(fd uintptr) {
		syscall.ForkLock.RLock() // no exec between dup and close-on-exec
		nfd, dupErr = syscall.Dup(int(fd))
		if dupErr == nil {
			syscall.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, fmt.Errorf("server: dup listener: %w", err)
	}
	return os.NewFile(uintptr(nfd), "mcpage-listener "+ln.Addr().String()), nil
}

// listenConfigured is Serve's listener: Config.Listener when set, else a
// new one bound to Config.Listen.
func (s *Server) listenConfigured(addr string) (net.Listener, error) {
	if s.cfg.Listener != nil {
		return s.cfg.Listener, nil
	}
	return listen(addr)
}

// Drain stops the server without dropping a client (see above): it stops
// accepting, answers each connection's next request with Connection: close,
// closes idle connections, waits for what is in flight, then stops the
// loops; Serve returns after that. ctx bounds the whole drain. Safe from any
// goroutine; after Drain or Shutdown, both return nil at once.
func (s *Server) Drain(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	s.drain.gentle.Store(true)
	s.draining.Store(true)
	s.closeListener()
	s.mu.Lock()
	booted := s.bootedNow()
	s.mu.Unlock()
	if !booted {
		return nil
	}
	// The accept goroutine ends at once now that the listener is closed;
	// a connection it was handing over has been opened (and counted) when
	// it has.
	select {
	case <-s.acceptDone:
	case <-ctx.Done():
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		conns, fills := s.drain.conns.Load(), s.fills.size()
		if conns == 0 && fills == 0 && s.storesPending(ctx) == 0 {
			return s.closeAndStop()
		}
		select {
		case <-ctx.Done():
			s.cfg.Logger.Warn("drain: cut short at its deadline", "connections", conns,
				"requests_in_flight", s.inflight.Load(), "fills_in_flight", fills)
			return s.closeAndStop()
		case <-s.engineDone: // the loops stopped by themselves; Serve says why
			return nil
		case <-t.C:
		}
	}
}

// drainClose reports whether the timeout sweep, while the server drains,
// closes c, an idle connection: at once for Shutdown; for Drain once it has
// been idle for drainIdle with no request bytes buffered. On c's loop.
func (l *loop) drainClose(c *conn) bool {
	if !l.s.drain.gentle.Load() {
		return true
	}
	return c.since <= l.now.Add(-drainIdle).UnixNano() && c.gc.InboundBuffered() == 0
}

// size is the number of fills and background refreshes in flight. Any
// goroutine.
func (f *fillRegistry) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
