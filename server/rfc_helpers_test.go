package server_test

import (
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/server"
)

// eachStore runs fn once with the embedded store (mod a no-op) and once with a
// real memcached (mod wires it), as subtests. A page stored by a miss is a
// hit for the next request on the same client connection with either: the
// same loop's store answers it, and memcached's replies keep the order of
// one connection's commands.
func eachStore(t *testing.T, fn func(t *testing.T, mod func(*server.Config))) {
	t.Run("embedded", func(t *testing.T) { fn(t, func(*server.Config) {}) })
	t.Run("memcached", func(t *testing.T) {
		mc := mctest.Start(t)
		fn(t, withMemcached(t, time.Second, mc.Addr))
	})
}
