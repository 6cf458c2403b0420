package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// parseLevel reads -log-level: debug, info, warn or error (any case).
func parseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", v)
}

// newLogger is the process's diagnostics: slog's text format (key=value)
// on w, from level up. It goes into server.Config.Logger (and the event
// engine's messages through it).
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// accessLogFile is -access-log PATH: opened for appending (so that
// logrotate's copytruncate works), reopened at the same path on SIGHUP (so
// that a rotation that renames the file works too). Only the server's one
// writer goroutine writes; the lock is for the swap.
type accessLogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (a *accessLogFile) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Write(p)
}

// reopen opens the path again and closes the file written so far.
func (a *accessLogFile) reopen() error {
	f, err := openAppend(a.path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	return old.Close()
}

func (a *accessLogFile) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.f.Close()
}

// openAccessLog opens -access-log: nothing for "", stdout for "-", else the
// file, which SIGHUP reopens. stop undoes it once the server has stopped.
func openAccessLog(path string, logger *slog.Logger) (w io.Writer, stop func(), err error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return os.Stdout, func() {}, nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, nil, fmt.Errorf("-access-log %q: %v", path, err)
	}
	a := &accessLogFile{path: path, f: f}
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-hup:
				if err := a.reopen(); err != nil {
					logger.Error("access log: reopen failed; still writing the old file", "path", path, "err", err)
				} else {
					logger.Info("access log reopened", "path", path)
				}
			case <-done:
				return
			}
		}
	}()
	return a, func() {
		signal.Stop(hup)
		close(done)
		a.close()
	}, nil
}
