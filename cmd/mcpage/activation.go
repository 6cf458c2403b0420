package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
)

// Socket activation: systemd's sd_listen_fds(3) protocol, for a .socket
// unit that binds the listening sockets and starts mcpage with them
// (docs/mcpage.socket). With LISTEN_PID naming this process and
// LISTEN_FDS=n, descriptors 3 … 3+n-1 are listening sockets. Each is
// matched by address: the one bound to -listen serves clients, the one
// bound to -admin the admin endpoints; any other is closed with a warning,
// and a flag whose address no socket matches is bound as usual. Why a
// socket unit: a privileged port needs no capability in mcpage, the socket
// stays bound while the service is stopped or restarted by systemd (the
// kernel queues connections meanwhile), and mcpage can start on demand.
//
// The variables are removed from the environment once read, so a process
// a graceful restart starts (restart.go, which hands sockets over its own
// way) never takes them for its own.

// maxActivated bounds LISTEN_FDS: mcpage uses two sockets at most.
const maxActivated = 16

// activatedListeners returns the listening sockets systemd passed, or nil
// when it passed none to this process.
func activatedListeners() ([]net.Listener, error) {
	pid, okPID := os.LookupEnv("LISTEN_PID")
	fds, okFDs := os.LookupEnv("LISTEN_FDS")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		_ = os.Unsetenv(v)
	}
	if !okPID || !okFDs {
		return nil, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil // meant for another process (sd_listen_fds ignores them too)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > maxActivated {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want 0 to %d sockets", fds, maxActivated)
	}
	var lns []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		syscall.CloseOnExec(fd) // a restart hands over its own duplicates
		f := os.NewFile(uintptr(fd), "LISTEN_FDS:"+strconv.Itoa(fd))
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("LISTEN_FDS: descriptor %d: %w", fd, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// takeActivated removes and returns the activated socket bound to addr
// ("host:port" as -listen or -admin gives it), or nil.
func (inh *inheritance) takeActivated(addr string) net.Listener {
	if addr == "" {
		return nil
	}
	for i, ln := range inh.activated {
		if sameAddr(addr, ln.Addr()) {
			inh.activated = append(inh.activated[:i], inh.activated[i+1:]...)
			return ln
		}
	}
	return nil
}

// closeUnclaimed closes the activated sockets neither -listen nor -admin
// took, saying so: a socket unit and mcpage's flags that disagree.
func (inh *inheritance) closeUnclaimed(log *slog.Logger) {
	for _, ln := range inh.activated {
		log.Warn("socket activation: a passed socket is on neither -listen nor -admin; closing it", "socket", ln.Addr().String())
		ln.Close()
	}
	inh.activated = nil
}
