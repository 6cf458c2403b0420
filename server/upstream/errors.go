package upstream

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Errors returned by New.
var (
	// ErrNoUpstream is returned by New when Config.Addrs is empty.
	ErrNoUpstream = errors.New("upstream: no upstream address configured")
	// ErrBadAddr is returned by New when an address is not "host:port",
	// "host", "http://host:port" or "http://host" (https is not supported).
	ErrBadAddr = errors.New("upstream: bad upstream address")
	// ErrBadConfig is returned by New when a duration or size in Config is
	// negative.
	ErrBadConfig = errors.New("upstream: negative value in config")
)

// Errors returned by Submit. Done is not called for a job Submit refused.
var (
	// ErrOverloaded is returned by Submit when Config.QueueLen jobs are
	// already waiting for a worker.
	ErrOverloaded = errors.New("upstream: overloaded: queue full")
	// ErrClosed is returned by Submit after Close has begun. It is also set
	// as Job.Err on a job that was queued when Close began and that Close's
	// time limit overtook before a worker could start it.
	ErrClosed = errors.New("upstream: pool closed")
)

// Errors set as Job.Err. Job.Err is always exactly one of these (compare with
// == or errors.Is); Job.Cause holds the underlying error for logs.
var (
	// ErrTimeout is set when the exchange did not complete within
	// Config.Timeout, including when connecting took longer than
	// Config.DialTimeout on every address tried.
	ErrTimeout = errors.New("upstream: timeout")
	// ErrConnect is set when no connection could be opened to any address
	// tried (refused, unreachable, name not resolved). Nothing was sent.
	ErrConnect = errors.New("upstream: cannot connect")
	// ErrUpstreamClosed is set when the upstream closed or reset the
	// connection after the request may have been sent and before the
	// response was complete (before its first byte, or in mid-body).
	ErrUpstreamClosed = errors.New("upstream: connection closed before the response was complete")
	// ErrBadResponse is set when the response is not valid HTTP/1.x: a
	// malformed status line, header or chunk, a head whose lines do not all
	// end in CRLF (a bare LF or CR) or that folds a field value (obs-fold),
	// a status below 100, a header block larger than
	// Config.MaxResponseHeaderBytes, conflicting framing, a 1xx interim
	// response that frames a body (Content-Length other than 0, or
	// Transfer-Encoding), more than 32 interim responses or more than 64
	// KiB of them, or a 101
	// Switching Protocols that was never asked for.
	ErrBadResponse = errors.New("upstream: malformed response")
	// ErrStalled is set when the upstream, in the middle of a response (its
	// first byte received), sent nothing for Config.ResponseIdleTimeout:
	// typically a body shorter than its Content-Length on a connection the
	// upstream keeps open, or a head that never ends.
	ErrStalled = errors.New("upstream: response stalled")
	// ErrBodyTooLarge is set when the response body is larger than
	// Config.MaxResponseBodyBytes.
	ErrBodyTooLarge = errors.New("upstream: response body too large")
	// ErrBadRequest is set when the job's request framing does not match its body
	// (a Content-Length that differs from len(Body()), a Transfer-Encoding,
	// or a body without Content-Length): build requests with BuildRequest.
	ErrBadRequest = errors.New("upstream: request framing does not match its body")
)

// StatusFor maps an error from Submit or Job.Err to the status the client
// gets: 504 Gateway Timeout for ErrTimeout, 503 Service Unavailable for
// ErrOverloaded and ErrClosed (the proxy, not the upstream, is saturated or
// shutting down, and the client may retry), 502 Bad Gateway for everything
// else (connect refused, reset, malformed, stalled, too large). StatusFor(nil)
// is 0. Wrapped errors are recognised. Safe from any goroutine.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrTimeout):
		return fasthttp.StatusGatewayTimeout
	case errors.Is(err, ErrOverloaded), errors.Is(err, ErrClosed):
		return fasthttp.StatusServiceUnavailable
	}
	return fasthttp.StatusBadGateway
}

// dialError marks a failure to open a connection: nothing was sent, so the job
// may move on to another address.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "dial " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// writeError marks a failure while sending the request: some of it may have
// reached the upstream.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write request: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// stallError marks a read that ended on Config.ResponseIdleTimeout, before
// the exchange's deadline.
type stallError struct{ err error }

func (e *stallError) Error() string { return "response stalled: " + e.err.Error() }
func (e *stallError) Unwrap() error { return e.err }

// Causes of ErrBadResponse found by this package rather than fasthttp.
var (
	// errUnexpectedUpgrade is the cause when the upstream answers 101
	// although BuildRequest never forwards Upgrade.
	errUnexpectedUpgrade = errors.New("101 Switching Protocols without an Upgrade request")
	errBareLF            = errors.New("line of the response head ended by a bare LF")
	errBareCR            = errors.New("bare CR in the response head")
	errObsFold           = errors.New("folded field line (obs-fold) in the response head")
	errNotHTTP1          = errors.New("response does not start with an HTTP/1.x status line")
	errBadStatus         = errors.New("malformed status code")
	errHeadTooLarge      = errors.New("response head larger than MaxResponseHeaderBytes")
	errInterimBody       = errors.New("1xx interim response framing a body")
	errTooManyInterim    = errors.New("too many 1xx interim responses")
)

// classify maps the error of one exchange to the sentinel set as Job.Err.
// deadline is the exchange's deadline: any failure at or after it is a timeout,
// whatever the socket reported (a deadline can surface as a reset or an EOF
// depending on when it struck).
func classify(err error, deadline time.Time) error {
	var de *dialError
	var we *writeError
	var se *stallError
	switch {
	case errors.As(err, &se):
		return ErrStalled
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return ErrBodyTooLarge
	case isTimeout(err), !time.Now().Before(deadline),
		// Waiting for a free connection until the deadline.
		errors.Is(err, fasthttp.ErrNoFreeConns):
		return ErrTimeout
	case errors.As(err, &de):
		return ErrConnect
	case errors.As(err, &we):
		return ErrUpstreamClosed
	case errors.Is(err, errUnexpectedUpgrade):
		return ErrBadResponse
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed), errors.Is(err, fasthttp.ErrConnectionClosed):
		return ErrUpstreamClosed
	}
	return ErrBadResponse
}

// isTimeout reports whether err, or an error it wraps, says it is a timeout.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
