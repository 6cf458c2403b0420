package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	gneterrors "github.com/panjf2000/gnet/v2/pkg/errors"
)

// Accepting connections.
//
// gnet's own acceptor treats every accept error except EAGAIN, EINTR,
// ECONNRESET and ECONNABORTED as fatal and stops the engine: one burst of
// clients past the file-descriptor limit (EMFILE) would end the process, and
// gnet.Run would even return nil. So the server accepts on a net.Listener of
// its own, in one goroutine, and hands each connection to the engine with
// Engine.Register: gnet dups the descriptor onto the least loaded event loop
// and closes the net.Conn. An accept (or dup) that fails for lack of
// resources is logged (at most once a second, with a count) and accepting
// pauses for Config.AcceptPause, as nginx does, while the loops keep serving
// the connections already open. A listener that fails for good stops the
// engine, and Serve returns the error.

// listen binds addr. A literal IPv4 host binds IPv4 only, as gnet's listener
// did ("0.0.0.0:80" is not also [::]:80).
func listen(addr string) (net.Listener, error) {
	network := "tcp"
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
			network = "tcp4"
		}
	}
	// KeepAlive -1: no TCP keep-alive probes, as before (ReadTimeout bounds
	// idle connections). Go sets TCP_NODELAY on accepted connections, and
	// the descriptor gnet dups shares the socket, so it keeps it.
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, addr)
}

// placeholderListener returns the address of the socket gnet listens on: a
// Unix socket in a fresh private directory. Engine.Register and Engine.Stop
// refuse to work on an engine without listeners, and gnet accepts only on
// what it listens on, so the socket must exist but never see a client: OnBoot
// removes its path once gnet has bound it, after which nothing can connect to
// it. dir is what to remove ("" when there is nothing). Where no temporary
// directory can be made, Linux falls back to an abstract socket with a random
// name.
func placeholderListener() (addr, dir string, err error) {
	dir, err = os.MkdirTemp("", "mcpage-")
	if err == nil {
		p := filepath.Join(dir, "g.sock")
		if len(p) < 100 { // sun_path is 104 or 108 bytes
			return "unix://" + p, dir, nil
		}
		_ = os.RemoveAll(dir)
		err = fmt.Errorf("temporary directory path %q too long for a unix socket", dir)
	}
	if runtime.GOOS == "linux" {
		return "unix://@mcpage-" + strconv.Itoa(os.Getpid()) + "-" + rand.Text(), "", nil
	}
	return "", "", fmt.Errorf("server: placeholder socket: %w", err)
}

// removePlaceholder removes the placeholder socket's directory; gnet's
// listener keeps working, unreachable.
func removePlaceholder(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// closeListener closes the server's listener, marking it closed by us so
// the accept goroutine ends quietly, and ends any pause in progress.
func (s *Server) closeListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lnClosed.Swap(true) {
		return
	}
	close(s.acceptStop)
	if s.ln != nil {
		_ = s.ln.Close()
	}
}

// acceptErrKind sorts accept and registration errors.
type acceptErrKind int

const (
	// errRetry: the connection failed before it was accepted (a reset
	// handshake, a network error the kernel passes on, a signal); accept
	// the next one at once.
	errRetry acceptErrKind = iota
	// errResource: out of descriptors or kernel memory; pause accepting.
	errResource
	// errFatal: the listener is gone or not a listener any more.
	errFatal
	// errOther: unexpected; log it and pause, as for resources.
	errOther
)

func classifyAcceptErr(err error) acceptErrKind {
	if errors.Is(err, net.ErrClosed) {
		return errFatal
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return errOther
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return errResource
	case syscall.EBADF, syscall.EINVAL, syscall.ENOTSOCK, syscall.EFAULT:
		return errFatal
	case syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
		syscall.EPERM, syscall.EPROTO, syscall.ENETDOWN, syscall.ENOPROTOOPT,
		syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.EOPNOTSUPP,
		syscall.ENETUNREACH, syscall.ETIMEDOUT:
		// accept(2): Linux passes pending network errors of the new
		// socket on as accept errors; retry like EAGAIN. EPERM is a
		// firewall rule refusing that one connection.
		return errRetry
	}
	return errOther
}

// acceptLoop accepts connections on ln and registers them with eng until ln
// is closed. It runs on its own goroutine, started by OnBoot.
func (s *Server) acceptLoop(eng gnet.Engine, ln net.Listener) {
	defer close(s.acceptDone)
	select {
	case <-s.loopsUp:
	case <-s.acceptStop:
		return
	case <-s.engineDone:
		return
	}
	lg := acceptLog{l: s.cfg.Logger, addr: ln.Addr().String()}
	// pressure is set after a resource error and cleared once a connection
	// is registered. Under pressure, two descriptors (what one connection
	// needs: the accepted socket and gnet's dup of it) are tried before
	// accepting, so that at the limit the server does not accept a queued
	// connection only to drop it when the dup fails.
	pressure := false
	for {
		if pressure {
			if err := probeDescriptors(); err != nil {
				lg.failed(err, s.cfg.AcceptPause)
				if !s.pauseAccept() {
					return
				}
				continue
			}
		}
		nc, err := ln.Accept()
		if err != nil {
			if s.lnClosed.Load() {
				return
			}
			switch classifyAcceptErr(err) {
			case errRetry:
				continue
			case errResource:
				pressure = true
				fallthrough
			case errOther:
				lg.failed(err, s.cfg.AcceptPause)
				if !s.pauseAccept() {
					return
				}
				continue
			default:
				s.acceptFailed(eng, lg.addr, err)
				return
			}
		}
		err = s.register(eng, nc)
		switch {
		case err == nil:
			pressure = false
			lg.ok()
		case errors.Is(err, errEngineGone):
			return
		default:
			// The connection is closed (by gnet, or register); only the
			// server's resources matter here.
			if classifyAcceptErr(err) == errResource {
				pressure = true
			}
			lg.failed(err, s.cfg.AcceptPause)
			if !s.pauseAccept() {
				return
			}
		}
	}
}

// errEngineGone: the engine stopped while a connection was handed over.
var errEngineGone = errors.New("server: engine stopped")

// register hands nc to the engine and waits until its event loop has opened
// it (OnOpen has run) or failed to; either way the net.Conn is closed when it
// returns: gnet keeps its own duplicate of the descriptor.
func (s *Server) register(eng gnet.Engine, nc net.Conn) error {
	res, err := eng.Register(gnet.NewNetConnContext(context.Background(), nc))
	if err != nil {
		_ = nc.Close()
		if errors.Is(err, gneterrors.ErrEngineInShutdown) || errors.Is(err, gneterrors.ErrEmptyEngine) {
			return errEngineGone
		}
		return fmt.Errorf("register: %w", err)
	}
	select {
	case r, ok := <-res:
		if !ok {
			return errors.New("register: no result")
		}
		if r.Err != nil {
			return fmt.Errorf("register: %w", r.Err)
		}
		return nil
	case <-s.engineDone:
		// The loop stopped before opening it: gnet's registration goroutine
		// waits for ever, holding nc. Close it so the client is not left
		// hanging.
		_ = nc.Close()
		return errEngineGone
	}
}

// pauseAccept waits Config.AcceptPause; false if the listener was closed
// meanwhile.
func (s *Server) pauseAccept() bool {
	t := time.NewTimer(s.cfg.AcceptPause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.acceptStop:
		return false
	case <-s.engineDone:
		return false
	}
}

// acceptFailed records a permanent listener failure and stops the engine;
// Serve returns the error.
func (s *Server) acceptFailed(eng gnet.Engine, addr string, err error) {
	s.cfg.Logger.Error("accept failed; stopping", "listen", addr, "err", err)
	s.mu.Lock()
	s.acceptErr = fmt.Errorf("server: accept: %w", err)
	s.mu.Unlock()
	_ = eng.Stop(context.Background())
}

// probeDescriptors reports whether two more file descriptors can be opened
// now, by opening (and closing) a pipe.
func probeDescriptors() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	r.Close()
	w.Close()
	return nil
}

// acceptLog logs accept failures at most once a second, with the number of
// failures since the last message, and one line when accepting works again.
// Only the accept goroutine uses it.
type acceptLog struct {
	l       *slog.Logger
	addr    string
	last    time.Time
	n       int  // failures not yet reported
	pending bool // a failure was reported and accepting has not resumed since
}

func (a *acceptLog) failed(err error, pause time.Duration) {
	a.n++
	now := time.Now()
	if !a.last.IsZero() && now.Sub(a.last) < time.Second {
		return
	}
	a.l.Error("accept failed; pausing new connections", "listen", a.addr, "err", err,
		"failures", a.n, "pause", pause)
	a.last, a.n, a.pending = now, 0, true
}

func (a *acceptLog) ok() {
	if a.pending {
		a.pending = false
		a.l.Info("accepting connections again", "listen", a.addr, "failures_unreported", a.n)
		a.n = 0
	}
}
