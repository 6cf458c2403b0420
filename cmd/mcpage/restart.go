package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpage/mcpage/server"
)

// Graceful restart, on SIGUSR2 (SIGHUP reopens the access log).
//
// The running process starts the executable at its own path again (a new
// binary installed there is what runs), with the same arguments and
// environment, handing it duplicates of its listening sockets, the client
// one and -admin's, as inherited descriptors named in MCPAGE_LISTEN_FD and
// MCPAGE_ADMIN_FD, and the write end of a pipe in MCPAGE_READY_FD. The new
// process serves on those very sockets (so no connection waiting in the
// kernel's accept queue is lost, and the port is never unbound), writes
// -pid-file, and writes one byte to the pipe. Then the old process closes
// its admin endpoints and drains (server.Server.Drain, bounded by
// -drain-timeout): it accepts nothing more, answers each connection's next
// request with Connection: close, closes idle connections, waits for its
// fills and store writes, and exits 0. If the new process exits, or does not
// serve within startTimeout (it is then killed), the old one logs why and
// goes on serving. SIGTERM or SIGINT during the drain cut it short.
//
// SO_REUSEPORT, where the new process binds a socket of its own beside the
// old one's, is not used: Linux gives each such socket its own accept queue
// and resets the connections queued on the old one when it closes.

// The environment through which a restarting process passes descriptors to
// the one it starts; each is removed from this process's environment when
// read.
const (
	envListenFD = "MCPAGE_LISTEN_FD"
	envAdminFD  = "MCPAGE_ADMIN_FD"
	envReadyFD  = "MCPAGE_READY_FD"
)

// startTimeout bounds how long a new process may take to serve.
const startTimeout = 30 * time.Second

// inheritance is what this process took over from the one it replaces;
// every field is nil when it was not started by a restart.
type inheritance struct {
	listen, admin net.Listener
	ready         *os.File // written to once this process serves
	// activated: sockets systemd passed (activation.go), until -listen
	// and -admin claim theirs.
	activated []net.Listener
}

// takeInheritance builds the listeners and pipe a restarting process
// passed, from the environment.
func takeInheritance() (*inheritance, error) {
	activated, err := activatedListeners()
	if err != nil {
		return nil, err
	}
	inh := &inheritance{activated: activated}
	for _, v := range []struct {
		env string
		ln  *net.Listener
	}{{envListenFD, &inh.listen}, {envAdminFD, &inh.admin}, {envReadyFD, nil}} {
		s, ok := os.LookupEnv(v.env)
		if !ok {
			continue
		}
		_ = os.Unsetenv(v.env)
		fd, err := strconv.Atoi(s)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("%s=%q: not an inherited descriptor", v.env, s)
		}
		f := os.NewFile(uintptr(fd), strings.ToLower(v.env))
		if v.ln == nil {
			inh.ready = f
			continue
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s=%d: %w", v.env, fd, err)
		}
		*v.ln = ln
	}
	return inh, nil
}

// clientListener returns the inherited client listener when it listens on
// -listen's address (nil otherwise, so that -listen is bound anew: a
// restart may move the proxy to another port).
func (inh *inheritance) clientListener(o *options, log *slog.Logger) net.Listener {
	if ln := matchListener(inh.listen, "-listen", o.listen, log); ln != nil {
		return ln
	}
	return inh.takeActivated(o.listen)
}

// listenAdmin is listenAdmin, taking the inherited -admin listener when it
// is on the same address.
func (inh *inheritance) listenAdmin(o *options, log *slog.Logger) (net.Listener, error) {
	if ln := matchListener(inh.admin, "-admin", o.admin, log); ln != nil {
		return ln, nil
	}
	if ln := inh.takeActivated(o.admin); ln != nil {
		return ln, nil
	}
	return listenAdmin(o)
}

func matchListener(ln net.Listener, flag, want string, log *slog.Logger) net.Listener {
	if ln == nil {
		return nil
	}
	if want != "" && sameAddr(want, ln.Addr()) {
		return ln
	}
	log.Warn("restart: the inherited listener is not on "+flag+"; binding "+flag+" anew", "inherited", ln.Addr().String(), flag, want)
	ln.Close()
	return nil
}

// sameAddr reports whether want ("host:port" as a flag gives it) names the
// address got is bound to.
func sameAddr(want string, got net.Addr) bool {
	g, ok := got.(*net.TCPAddr)
	if !ok {
		return false
	}
	w, err := net.ResolveTCPAddr("tcp", want)
	if err != nil || w.Port != g.Port {
		return false
	}
	unspec := func(ip net.IP) bool { return ip == nil || ip.IsUnspecified() }
	return w.IP.Equal(g.IP) || unspec(w.IP) && unspec(g.IP)
}

// restarter carries out graceful restarts for run: it watches SIGUSR2 (and,
// during a drain, SIGTERM and SIGINT), and stands between serve and the
// server so that the stop serve asks for after a restart is a drain. Its
// goroutine (watch) runs restart, start and cutDrain; serve's goroutine
// runs ready and the service's Shutdown; run's, close. What they share is
// atomic, or under mu.
type restarter struct {
	srv        *server.Server
	adminLn    net.Listener // nil without -admin
	closeAdmin func()       // stops the admin endpoints; nil without -admin
	inh        *inheritance
	o          *options
	log        *slog.Logger

	usr2     chan os.Signal
	out      chan os.Signal // what serve reads: the stop signals, and SIGUSR2 once handed over
	serving  atomic.Bool    // the server accepts clients: a restart may begin
	stopping atomic.Bool    // a stop signal went to serve: no restart any more
	handed   atomic.Bool    // a new process serves: stop by draining
	stop     chan struct{}
	stopOnce sync.Once

	mu          sync.Mutex
	cancelDrain context.CancelFunc // the drain in progress
	cut         bool               // SIGTERM/SIGINT came while handed over
}

func newRestarter(o *options, srv *server.Server, adminLn net.Listener, closeAdmin func(), inh *inheritance, log *slog.Logger) *restarter {
	r := &restarter{srv: srv, adminLn: adminLn, closeAdmin: closeAdmin, inh: inh, o: o, log: log,
		usr2: make(chan os.Signal, 1), out: make(chan os.Signal, 1), stop: make(chan struct{})}
	signal.Notify(r.usr2, syscall.SIGUSR2)
	return r
}

// signals returns what serve should read instead of sigs (SIGINT, SIGTERM):
// those, and SIGUSR2 once a new process serves. It starts the goroutine
// that handles SIGUSR2; close ends it.
func (r *restarter) signals(sigs <-chan os.Signal) <-chan os.Signal {
	go r.watch(sigs)
	return r.out
}

func (r *restarter) watch(sigs <-chan os.Signal) {
	for {
		select {
		case <-r.stop:
			return
		case sig := <-sigs:
			if r.handed.Load() {
				r.cutDrain(sig)
				continue
			}
			r.stopping.Store(true)
			select {
			case r.out <- sig:
			default: // serve is stopping already
			}
		case <-r.usr2:
			switch {
			case r.handed.Load():
				r.log.Warn("restart: SIGUSR2 ignored: already handed over, draining")
			case r.stopping.Load():
				r.log.Warn("restart: SIGUSR2 ignored: stopping")
			case !r.serving.Load():
				r.log.Warn("restart: SIGUSR2 ignored: not serving yet")
			default:
				r.restart()
			}
		}
	}
}

// restart starts the new process and, once it serves, hands over. Signals
// wait meanwhile (at most startTimeout).
func (r *restarter) restart() {
	r.log.Info("restart: starting a new process")
	pid, err := r.start()
	if err != nil {
		r.log.Error("restart failed; still serving", "err", err)
		return
	}
	r.log.Info("restart: the new process serves; draining", "pid", pid, "drain_timeout", r.o.drainTimeout)
	r.handed.Store(true)
	if r.closeAdmin != nil {
		r.closeAdmin() // the new process answers /readyz now
	}
	select {
	case r.out <- syscall.SIGUSR2: // serve stops the server: Shutdown, which drains
	default: // serve is stopping already (SIGTERM): it drains too
	}
}

// start runs the new process with the listeners and waits for it to serve;
// on failure the new process is gone.
func (r *restarter) start() (pid int, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close() // the new process has its own
		}
	}()
	env := os.Environ()
	add := func(name string, f *os.File) {
		env = append(env, name+"="+strconv.Itoa(3+len(files)))
		files = append(files, f)
	}
	lf, err := r.srv.ListenerFile()
	if err != nil {
		return 0, err
	}
	add(envListenFD, lf)
	if r.adminLn != nil {
		af, err := server.DupListener(r.adminLn)
		if err != nil {
			return 0, err
		}
		add(envAdminFD, af)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	add(envReadyFD, pw)

	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env, cmd.ExtraFiles = env, files
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pw.Close() // only the new process holds the write end now: EOF when it exits
	files = files[:len(files)-1]
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps a process that failed
	ready := make(chan bool, 1)
	go func() {
		var b [1]byte
		n, _ := pr.Read(b[:])
		ready <- n == 1
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case ok := <-ready:
		if ok {
			return cmd.Process.Pid, nil
		}
		return 0, fmt.Errorf("the new process (pid %d) exited before serving: %v", cmd.Process.Pid, <-exited)
	case <-t.C:
		_ = cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("the new process (pid %d) did not serve within %v; killed", cmd.Process.Pid, startTimeout)
	}
}

// ready runs once the server accepts clients: it writes -pid-file and tells
// the process this one replaces, if any, that it may drain.
func (r *restarter) ready() {
	if r.o.pidFile != "" {
		if err := writePIDFile(r.o.pidFile); err != nil {
			r.log.Error("cannot write -pid-file", "err", err)
		}
	}
	if f := r.inh.ready; f != nil {
		if _, err := f.Write([]byte{1}); err != nil {
			r.log.Error("restart: cannot tell the old process", "err", err)
		}
		f.Close()
		r.inh.ready = nil
	}
	r.serving.Store(true)
}

// cutDrain ends the drain in progress (or the one about to start) now.
func (r *restarter) cutDrain(sig os.Signal) {
	r.log.Info("restart: drain cut short", "signal", sig.String())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	if r.cancelDrain != nil {
		r.cancelDrain()
	}
}

// close stops watching signals and removes -pid-file if it still names this
// process (a new process has written its own).
func (r *restarter) close() {
	r.stopOnce.Do(func() {
		signal.Stop(r.usr2)
		close(r.stop)
	})
	if r.o.pidFile != "" {
		if b, err := os.ReadFile(r.o.pidFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
			_ = os.Remove(r.o.pidFile)
		}
	}
}

// service is the server as serve sees it: its stop is a drain once a new
// process serves.
func (r *restarter) service() service { return restartable{r.srv, r} }

type restartable struct {
	*server.Server
	r *restarter
}

// Shutdown stops the server: Server.Drain within -drain-timeout after a
// restart, else Server.Shutdown.
func (s restartable) Shutdown(ctx context.Context) error {
	r := s.r
	if !r.handed.Load() {
		return s.Server.Shutdown(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.drainTimeout)
	defer cancel()
	r.mu.Lock()
	r.cancelDrain = cancel
	if r.cut {
		cancel()
	}
	r.mu.Unlock()
	return s.Server.Drain(ctx)
}

// writePIDFile writes this process's ID to path, replacing it whole.
func writePIDFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return errors.Join(errors.New("-pid-file "+path), err)
	}
	return nil
}
