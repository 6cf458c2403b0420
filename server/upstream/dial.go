package upstream

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// downFor is how long an address that failed to connect is passed over while
// another address is available. Short: it only spares the next jobs a connect
// attempt that would most likely fail too.
const downFor = time.Second

// upstream is one configured address and its connection pool.
type upstream struct {
	addr     string // "host:port"
	hc       *fasthttp.HostClient
	dialTO   time.Duration
	inflight atomic.Int32 // exchanges using this address now
	// downUntil is the UnixNano time until which the address is passed
	// over after a failed connect; 0 when it is up.
	downUntil atomic.Int64
}

func newUpstream(addr string, cfg *Config) *upstream {
	u := &upstream{addr: addr, dialTO: cfg.DialTimeout}
	u.hc = &fasthttp.HostClient{
		Addr:        addr,
		DialTimeout: u.dial,
		MaxConns:    cfg.MaxConnsPerAddr,
		// A worker normally finds a connection slot (workers are spread by
		// in-flight count); should it not, it waits for one rather than fail
		// at once, and the exchange deadline still bounds the wait.
		MaxConnWaitTimeout: cfg.Timeout,
		// LIFO keeps the most recently used connections busy, so the spare
		// ones idle out, and the one picked is the least likely to have been
		// closed by the upstream's keep-alive timeout.
		ConnPoolStrategy: fasthttp.LIFO,
		ReadBufferSize:   cfg.MaxResponseHeaderBytes,
		// The rest only matters to fasthttp's own Do, which this package
		// does not use (see exchange); set so that a Do on hc could not
		// rewrite, normalise, retry or buffer without limit either.
		MaxResponseBodySize:           cfg.MaxResponseBodyBytes,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxIdemponentCallAttempts:     1,
		RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	return u
}

// dial opens a connection for hc. timeout is what is left of the exchange
// that needs it (0 when fasthttp dials for a waiting exchange); the connect
// gets at most Config.DialTimeout of it.
func (u *upstream) dial(addr string, timeout time.Duration) (net.Conn, error) {
	d := u.dialTO
	if timeout > 0 && timeout < d {
		d = timeout
	}
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		u.downUntil.Store(time.Now().Add(downFor).UnixNano())
		return nil, &dialError{addr: addr, err: err}
	}
	u.downUntil.Store(0)
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return newUpConn(tc)
}

// down reports whether the address failed to connect less than downFor ago.
func (u *upstream) down(now int64) bool {
	return u.downUntil.Load() > now
}

// upConn is an upstream TCP connection with what connAlive needs to look at
// it without a Read: the raw socket, and a probe callback and result bound
// once, so that probing a connection allocates nothing.
type upConn struct {
	*net.TCPConn
	rc    syscall.RawConn
	probe func(fd uintptr) bool
	// Result of the last probe; written and read by the goroutine that holds
	// the connection.
	peek     [1]byte
	probeN   int
	probeErr error

	// Idle limit on reads (see Config.ResponseIdleTimeout), set by the
	// goroutine that holds the connection: while idle > 0, every Read first
	// moves the read deadline to now+idle, or to until (the exchange's
	// deadline) when that comes first; stalled records that a Read failed on
	// the idle deadline.
	idle    time.Duration
	until   time.Time
	stalled bool
}

// Read reads from the connection under the idle limit, if one is armed.
func (c *upConn) Read(b []byte) (int, error) {
	if c.idle <= 0 {
		return c.TCPConn.Read(b)
	}
	at := time.Now().Add(c.idle)
	byIdle := at.Before(c.until)
	if !byIdle {
		at = c.until
	}
	if err := c.TCPConn.SetReadDeadline(at); err != nil {
		return 0, err
	}
	n, err := c.TCPConn.Read(b)
	if err != nil && byIdle && isTimeout(err) {
		c.stalled = true
	}
	return n, err
}

// armIdle makes every later Read wait at most idle for data, and never past
// until.
func (c *upConn) armIdle(idle time.Duration, until time.Time) {
	c.idle, c.until = idle, until
}

// disarmIdle lifts the idle limit: reads wait until the exchange's deadline
// again.
func (c *upConn) disarmIdle() {
	if c.idle > 0 {
		c.idle = 0
		c.TCPConn.SetReadDeadline(c.until)
	}
}

func newUpConn(tc *net.TCPConn) (net.Conn, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return nil, err
	}
	c := &upConn{TCPConn: tc, rc: rc}
	c.probe = c.peekOnce
	return c, nil
}
