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
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, starts the server and blocks until SIGINT/SIGTERM. It
// returns the process exit code: 2 for bad flags, 1 for a failure to start.
func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err == errHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcpage: %v\n", err)
		return 2
	}
	srv, err := newServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mcpage: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(stderr, "mcpage: %v\n", err)
			return 1
		}
		return 0
	case <-srv.Ready():
		slog.Info("mcpage ready", "listen", cfg.listen, "upstream", cfg.upstream, "store", cfg.storeName())
	}
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(stderr, "mcpage: %v\n", err)
			return 1
		}
		return 0
	case sig := <-sigs:
		slog.Info("mcpage stopping", "signal", sig.String())
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		fmt.Fprintf(stderr, "mcpage: %v\n", err)
	}
	if err := <-done; err != nil {
		fmt.Fprintf(stderr, "mcpage: %v\n", err)
		return 1
	}
	return 0
}
