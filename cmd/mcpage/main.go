// Command mcpage is an edge caching reverse proxy: it answers repeat requests
// for anonymous pages from a page store (embedded, or memcached) and forwards
// everything else to the upstream application.
//
//	mcpage -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
//
// Run `mcpage -h` for every flag; README.md has the same table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, starts the server and blocks until SIGINT/SIGTERM. It
// returns the process exit code: 2 for bad flags, 1 for a failure to start or
// a server that stopped by itself, 0 after a signal.
func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err == errHelp {
		return 0
	}
	if err != nil {
		fail(stderr, err)
		return 2
	}
	logger := newLogger(stderr, cfg.level)
	cfg.cfg.Logger = logger
	cfg.src.logUnknown(logger)
	inh, err := takeInheritance() // the listeners of the process this one replaces (restart.go)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	cfg.cfg.Listener = inh.clientListener(cfg, logger)
	accessLog, closeAccessLog, err := openAccessLog(cfg.accessLog, logger)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	defer closeAccessLog() // after the server has stopped: it has written every line
	cfg.cfg.AccessLog = accessLog
	adminLn, err := inh.listenAdmin(cfg, logger) // before the server: a busy -admin address starts nothing
	if err != nil {
		fail(stderr, err)
		return 1
	}
	inh.closeUnclaimed(logger) // activation.go
	srv, err := newServer(cfg)
	if err != nil {
		closeListener(adminLn)
		fail(stderr, err)
		return 1
	}
	var closeAdmin func()
	if adminLn != nil {
		a := startAdmin(cfg, adminLn, srv)
		closeAdmin = sync.OnceFunc(func() { stopAdmin(a) })
		defer closeAdmin()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	rs := newRestarter(cfg, srv, adminLn, closeAdmin, inh, logger) // SIGUSR2 (restart.go)
	defer rs.close()
	return serve(rs.service(), rs.signals(sigs), stderr, logger, func() {
		logger.Info("mcpage ready", "listen", srv.Addr().String(), "upstream", cfg.upstream, "store", cfg.storeName())
		rs.ready()
	})
}

// service is what serve runs: *server.Server.
type service interface {
	Serve() error
	Ready() <-chan struct{}
	Shutdown(context.Context) error
}

// serve runs srv until a signal arrives (exit 0 once it has stopped cleanly)
// or Serve returns by itself, which is always a failure (exit 1): the server
// could not start, or stopped without being asked to. Every failure is one
// line on stderr naming the cause; log gets the diagnostics.
func serve(srv service, sigs <-chan os.Signal, stderr io.Writer, log *slog.Logger, ready func()) int {
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		return exited(stderr, err)
	case <-srv.Ready():
		ready()
	}
	select {
	case err := <-done:
		return exited(stderr, err)
	case sig := <-sigs:
		log.Info("mcpage stopping", "signal", sig.String())
	}
	code := 0
	if err := srv.Shutdown(context.Background()); err != nil {
		fail(stderr, err)
		code = 1
	}
	if err := <-done; err != nil {
		fail(stderr, err)
		return 1
	}
	return code
}

// exited is the exit code for Serve returning without a signal: it should
// not, so a nil error is reported too.
func exited(stderr io.Writer, err error) int {
	if err == nil {
		err = errors.New("server stopped unexpectedly")
	}
	fail(stderr, err)
	return 1
}

var oneLine = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", " ")

// fail writes err to stderr as one line.
func fail(stderr io.Writer, err error) {
	fmt.Fprintf(stderr, "mcpage: %s\n", oneLine.Replace(err.Error()))
}
