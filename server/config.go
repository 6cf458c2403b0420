package server

import (
	"log/slog"
	"regexp"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

// Config is everything a Server needs. cmd/mcpage builds it from flags; the
// zero value of every field except Listen and Upstream.Addrs is a documented,
// usable default.
type Config struct {
	// Listen is the TCP address to accept clients on, "host:port". Required.
	Listen string

	// Loops is the number of gnet event loops. 0 → GOMAXPROCS.
	Loops int

	// Upstream configures the origin pools (addresses, timeouts, connection caps).
	Upstream upstream.Config

	// NewStore returns the page store handle for one event loop; it is called once
	// per loop, on that loop, before the loop serves its first request. nil → one
	// embedded in-process store of StoreSize bytes shared by all loops.
	NewStore func(loop int) pagestore.Store

	// StoreSize bounds the embedded store in bytes. 0 → 256 MiB.
	StoreSize int64

	// Policy is the response storage policy (-ttl, -max-ttl).
	Policy cachepolicy.Rules

	// BypassCookie matches cookie names whose presence makes a request skip the
	// cache. nil → any cookie bypasses.
	BypassCookie *regexp.Regexp

	// KeyPrefix is prepended to every cache key.
	KeyPrefix string

	// CompressMin: pages of at least this many bytes that arrive uncompressed are
	// stored gzip-compressed. 0 → 2048; negative → never compress.
	CompressMin int

	// MaxItem is the largest stored record in bytes (after compression); larger
	// pages are served but not stored. 0 → 8 MiB.
	MaxItem int

	// ReadTimeout closes a connection that is idle, or has sent part of a request,
	// for this long. Connections waiting on the upstream are governed by
	// Upstream.Timeout instead. 0 → 30s.
	ReadTimeout time.Duration

	// Limits bounds request heads and bodies (-max-header-bytes, -max-body-bytes).
	Limits httpparse.Limits

	// MaxPipeline bounds the requests one connection may have outstanding; past it
	// the server stops reading that connection until responses drain. 0 → 64.
	MaxPipeline int

	// ShutdownTimeout bounds how long Shutdown waits for responses in flight. 0 → 10s.
	ShutdownTimeout time.Duration

	// Logger receives operational messages. nil → slog.Default().
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.StoreSize == 0 {
		d.StoreSize = 256 << 20
	}
	if d.CompressMin == 0 {
		d.CompressMin = 2048
	}
	if d.MaxItem == 0 {
		d.MaxItem = 8 << 20
	}
	if d.ReadTimeout == 0 {
		d.ReadTimeout = 30 * time.Second
	}
	if d.MaxPipeline == 0 {
		d.MaxPipeline = 64
	}
	if d.ShutdownTimeout == 0 {
		d.ShutdownTimeout = 10 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return d
}
