package upstream

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	// DefaultTimeout bounds one exchange when Config.Timeout is 0.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxDialTimeout caps the connect timeout when Config.DialTimeout
	// is 0 (the default is min(Timeout, DefaultMaxDialTimeout)).
	DefaultMaxDialTimeout = 3 * time.Second
	// DefaultMaxResponseIdleTimeout caps the silence allowed inside a
	// response when Config.ResponseIdleTimeout is 0 (the default is
	// min(Timeout, DefaultMaxResponseIdleTimeout)).
	DefaultMaxResponseIdleTimeout = 5 * time.Second
	// DefaultMaxConnsPerAddr is the connection limit per address when
	// Config.MaxConnsPerAddr is 0.
	DefaultMaxConnsPerAddr = 1024
	// MaxDefaultWorkers caps the default worker count.
	MaxDefaultWorkers = 4096
	// DefaultMaxResponseBodyBytes is the response body limit when
	// Config.MaxResponseBodyBytes is 0.
	DefaultMaxResponseBodyBytes = 64 << 20
	// DefaultMaxResponseHeaderBytes is the response header block limit when
	// Config.MaxResponseHeaderBytes is 0. nginx's 4-8 KiB proxy_buffer_size
	// is a common source of "upstream sent too big header" errors with
	// cookie-heavy applications; 32 KiB matches Varnish's http_resp_size.
	DefaultMaxResponseHeaderBytes = 32 << 10
)

// Config configures a Pool. The zero value of every field but Addrs selects the
// documented default. New copies the Config; changing it afterwards has no
// effect.
type Config struct {
	// Addrs are the upstream servers, each "host:port", "host" (port 80),
	// "http://host:port" or "http://host" (an optional trailing "/" is
	// accepted, any other path is not). Hosts may be names; they are resolved
	// when a connection is opened. Several addresses are load-balanced: each
	// job goes to the address with the fewest exchanges in flight, skipping
	// for a second an address whose last connect failed. Required.
	Addrs []string

	// Timeout bounds a whole exchange, measured from the moment a worker
	// starts the job: waiting for a connection, connecting, writing the
	// request and reading the complete response. 0 means DefaultTimeout.
	Timeout time.Duration

	// DialTimeout bounds opening one connection (name resolution included).
	// 0 means min(Timeout, DefaultMaxDialTimeout).
	DialTimeout time.Duration

	// ResponseIdleTimeout bounds each silence of the upstream inside a
	// response: from the first byte of a response head until the response
	// is complete, a read that gets no byte for this long fails the job
	// with ErrStalled (a 502), without waiting for Timeout. That is the only
	// sign of a body shorter than its Content-Length on a connection the
	// upstream keeps open, or of a head that never ends. The wait for the
	// first byte of a response (the upstream's think time, again after each
	// 1xx interim response) is bounded by Timeout alone. 0 means
	// min(Timeout, DefaultMaxResponseIdleTimeout); a value of Timeout or
	// more leaves Timeout as the only bound.
	ResponseIdleTimeout time.Duration

	// MaxConnsPerAddr limits the open connections (busy and idle) to each
	// address. 0 means DefaultMaxConnsPerAddr.
	MaxConnsPerAddr int

	// Workers is the number of exchanges that may run at once. 0 means
	// MaxConnsPerAddr × len(Addrs), capped at MaxDefaultWorkers.
	Workers int

	// QueueLen is the number of submitted jobs that may wait for a worker;
	// when it is full, Submit returns ErrOverloaded. 0 means 4 × Workers.
	QueueLen int

	// MaxResponseBodyBytes is the largest response body accepted; a larger
	// one fails the job with ErrBodyTooLarge. 0 means
	// DefaultMaxResponseBodyBytes.
	MaxResponseBodyBytes int

	// MaxResponseHeaderBytes is the largest response status line plus
	// header block accepted; a larger one fails the job with
	// ErrBadResponse. It is also the size of each connection's read buffer
	// while a response is read. 0 means DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int

	// Observe, when set, is called on the worker after each exchange the
	// pool ran (not for jobs failed with ErrClosed unstarted), just before
	// Done, with the job (Err and Addr set) and the time since the worker
	// took it: until the response was read whole, or until its head for a
	// streamed body. It must be quick, must not block and must not keep j.
	// nil: nothing is observed.
	Observe func(j *Job, took time.Duration)
}

// withDefaults returns c with its zero fields set to their defaults and its
// addresses normalised to "host:port", or an error if c is unusable.
func (c Config) withDefaults() (Config, error) {
	if len(c.Addrs) == 0 {
		return c, ErrNoUpstream
	}
	if c.Timeout < 0 || c.DialTimeout < 0 || c.ResponseIdleTimeout < 0 || c.MaxConnsPerAddr < 0 || c.Workers < 0 ||
		c.QueueLen < 0 || c.MaxResponseBodyBytes < 0 || c.MaxResponseHeaderBytes < 0 {
		return c, ErrBadConfig
	}
	addrs := make([]string, len(c.Addrs))
	for i, a := range c.Addrs {
		hp, err := ParseAddr(a)
		if err != nil {
			return c, err
		}
		addrs[i] = hp
	}
	c.Addrs = addrs
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = min(c.Timeout, DefaultMaxDialTimeout)
	}
	if c.ResponseIdleTimeout == 0 {
		c.ResponseIdleTimeout = min(c.Timeout, DefaultMaxResponseIdleTimeout)
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if c.Workers == 0 {
		// Compare before multiplying: MaxConnsPerAddr × len(Addrs) may
		// overflow for absurd values.
		c.Workers = MaxDefaultWorkers
		if c.MaxConnsPerAddr <= MaxDefaultWorkers/len(c.Addrs) {
			c.Workers = c.MaxConnsPerAddr * len(c.Addrs)
		}
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4 * c.Workers
	}
	if c.MaxResponseBodyBytes == 0 {
		c.MaxResponseBodyBytes = DefaultMaxResponseBodyBytes
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	return c, nil
}

// ParseAddr turns one Config.Addrs entry into "host:port", or fails with
// ErrBadAddr. Any goroutine.
func ParseAddr(a string) (string, error) {
	s := a
	if len(s) >= len("http://") && strings.EqualFold(s[:len("http://")], "http://") {
		s = s[len("http://"):]
		s = strings.TrimSuffix(s, "/")
	}
	if s == "" || strings.ContainsAny(s, "/?#@ \t\r\n") {
		return "", fmt.Errorf("%w: %q", ErrBadAddr, a)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port (or a bare IPv6 address in brackets): port 80.
		h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if strings.Contains(s, "]:") || (strings.Contains(h, ":") && !strings.HasPrefix(s, "[")) {
			return "", fmt.Errorf("%w: %q", ErrBadAddr, a)
		}
		host, port = h, "80"
	}
	if host == "" || !validPort(port) {
		return "", fmt.Errorf("%w: %q", ErrBadAddr, a)
	}
	return net.JoinHostPort(host, port), nil
}

// validPort reports whether p is a decimal port number 1..65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}
