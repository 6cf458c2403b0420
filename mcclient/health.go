package mcclient

import "time"

// health tracks one server's failures in a row and its ejection. It is not
// safe for concurrent use: the LoopClient keeps one per server on its loop,
// the Client guards each with the server's mutex.
type health struct {
	fails        int
	ejectedUntil int64 // unix nanoseconds; 0 when not ejected
}

// failure records a failure at now and reports whether the server is ejected
// from now on. A server probed after its ejection that fails again is
// ejected again at once, since its failure count never went back below
// the limit.
func (h *health) failure(now int64, cfg *Config) bool {
	h.fails++
	if cfg.FailureLimit < 0 || h.fails < cfg.FailureLimit {
		return false
	}
	h.ejectedUntil = now + int64(cfg.RetryInterval)
	return true
}

// success records an answered operation: the failure streak ends.
func (h *health) success() {
	h.fails = 0
	h.ejectedUntil = 0
}

// alive reports whether keys may be sent to the server at now: it is not
// ejected, or its retry interval is over and it may be probed.
func (h *health) alive(now int64) bool {
	return h.ejectedUntil == 0 || now >= h.ejectedUntil
}

// backoff returns the reconnect wait after the n-th failure in a row (n >= 1).
func backoff(cfg *Config, n int) time.Duration {
	d := cfg.ReconnectBackoff
	for i := 1; i < n && d < cfg.MaxReconnectBackoff; i++ {
		d *= 2
	}
	return min(d, cfg.MaxReconnectBackoff)
}
