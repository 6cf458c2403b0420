package mcclient

import "time"

// Config tunes a Client or LoopClient. Every zero field takes the default in
// its comment, so Config{} is a working configuration. Fields are read once,
// by New or NewLoopClient.
type Config struct {
	// ConnectTimeout bounds dialing one connection. Default 1s.
	ConnectTimeout time.Duration
	// OpTimeout is how long an operation may wait for its reply. When the
	// oldest pending operation of a connection passes it, every operation
	// pending there fails with ErrTimeout and the connection is replaced.
	// Default 1s.
	OpTimeout time.Duration
	// MaxPending bounds operations outstanding on one connection; more fail
	// at once with ErrQueueFull. Default 1024.
	MaxPending int
	// ConnsPerServer is how many connections a Client, or each LoopClient,
	// keeps to every server; operations are spread over them round-robin.
	// Default 1 (one connection pipelines well; raise it when one memcached
	// worker thread is the bottleneck).
	ConnsPerServer int
	// FailureLimit is how many failures in a row (failed connects, timeouts,
	// connections lost with operations pending) eject a server: its keys go
	// to the next server on the ring for RetryInterval, other keys stay put.
	// Default 3; negative disables ejection.
	FailureLimit int
	// RetryInterval is how long an ejected server is left alone before one
	// connection attempt probes it; on success it takes its keys back, on
	// failure it is ejected again. Default 2s.
	RetryInterval time.Duration
	// ReconnectBackoff is the wait before redialing a lost connection; it
	// doubles with each failure in a row up to MaxReconnectBackoff.
	// Operations for a server whose connection is waiting fail with
	// ErrServerDown. Defaults 50ms and 1s.
	ReconnectBackoff    time.Duration
	MaxReconnectBackoff time.Duration
	// MaxValueSize bounds values sent (larger ones fail with
	// ErrValueTooLarge before anything is sent) and values accepted in
	// replies. Default 1 MiB, memcached's default item size limit (-I); the
	// server itself stores at most that minus key length and ~59 bytes.
	MaxValueSize int
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, time.Second)
	def(&c.OpTimeout, time.Second)
	def(&c.RetryInterval, 2*time.Second)
	def(&c.ReconnectBackoff, 50*time.Millisecond)
	def(&c.MaxReconnectBackoff, time.Second)
	if c.MaxReconnectBackoff < c.ReconnectBackoff {
		c.MaxReconnectBackoff = c.ReconnectBackoff
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1024
	}
	if c.ConnsPerServer <= 0 {
		c.ConnsPerServer = 1
	}
	if c.FailureLimit == 0 {
		c.FailureLimit = 3
	}
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = 1 << 20
	}
	return c
}
