package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/admin"
)

// listenAdmin binds -admin; nil when it is not set.
func listenAdmin(o *options) (net.Listener, error) {
	if o.admin == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.admin)
	if err != nil {
		return nil, fmt.Errorf("-admin %q: %w", o.admin, err)
	}
	return ln, nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

// startAdmin serves the -admin endpoints for srv on ln: /metrics, /healthz,
// /readyz, and /debug/pprof/ with -admin-pprof. /readyz answers 503 until
// srv accepts clients, and again from the moment it begins shutting down.
func startAdmin(o *options, ln net.Listener, srv *server.Server) *admin.Admin {
	cfg := admin.Config{Listener: ln, Proxy: srv, Pprof: o.adminPprof, Logger: o.cfg.Logger}
	if o.mcLoops != nil {
		cfg.Memcached = o.mcLoops.States
	}
	a, err := admin.Start(cfg)
	if err != nil {
		panic(err) // only a Config without Proxy or listener fails
	}
	o.cfg.Logger.Info("mcpage admin listening", "admin", a.Addr().String(), "pprof", o.adminPprof)
	return a
}

// stopAdmin closes the admin listener once the proxy has stopped.
func stopAdmin(a *admin.Admin) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.Close(ctx)
}
