package upstream

import (
	"io"
	"sync"

	"github.com/mcpage/mcpage/httpparse"

	"github.com/valyala/fasthttp"
)

// Job is one upstream exchange. Get one from AcquireJob, fill its request
// with Build (then AddHeader for fields that go last), set Done and Ctx, and
// hand it to Pool.Submit. From a successful Submit until Done is called the
// Job belongs to the pool: the caller must not read or write it. Done
// receives it back, on a worker goroutine; from then on it is the caller's
// again, and ReleaseJob returns it for reuse (inside Done or later, from any
// goroutine, exactly once).
type Job struct {
	// req is the request to send, in fasthttp's raw header mode as
	// BuildRequest leaves it (never call its header's All, VisitAll, Len or
	// cookie methods: fasthttp would then move the Cookie fields out of the
	// raw list and stop sending them).
	req fasthttp.Request

	// Resp is the complete response (body buffered, de-chunked, never
	// decompressed) when Err is nil, and empty otherwise. Read its header
	// fields with Resp.Visit or Resp.VisitAll; Resp.Status and StatusText
	// give the status line as received. Resp.ContentLength is the
	// upstream's declared length (-1 when the body was chunked); for a HEAD
	// request no body is read.
	Resp Response

	// Err is set before Done is called: nil, or exactly one of ErrTimeout,
	// ErrConnect, ErrUpstreamClosed, ErrBadResponse, ErrStalled,
	// ErrBodyTooLarge, ErrBadRequest, ErrClosed. StatusFor turns it into a
	// status code.
	Err error

	// StreamAbove, when > 0, is the largest response body the pool buffers
	// whole. A longer one (by its Content-Length, or as read so far when the
	// length is unknown) is handed to Done as Body instead, unread past what
	// was already buffered, so that the caller can relay it in slices.
	StreamAbove int

	// Body, when not nil at Done, is the response body still to read: Resp's
	// header is complete but Resp.Body is empty. Done must read Body until
	// it returns io.EOF or an error, or stop early; either way it must call
	// Body.Close before returning, which returns the upstream connection to
	// its pool (when the body was read whole and cleanly) or closes it. Each
	// Read waits at most Config.ResponseIdleTimeout for the upstream. Done
	// may block while it relays Body; the worker serves no other job until
	// then.
	Body io.ReadCloser

	// BodyLen is the length of Body when the upstream declared it
	// (Content-Length), -1 when the body is chunked or ends with the
	// connection. Meaningful only when Body is not nil.
	BodyLen int64

	// Cause is the underlying error when Err is not nil (for logs); nil
	// otherwise.
	Cause error

	// Addr is the upstream address ("host:port") the job was last sent to
	// or tried, or "" if no address was tried.
	Addr string

	// Done is set by the caller and called exactly once, on a worker
	// goroutine, after the exchange (with Err set). It must not block: the
	// worker serves no other job until it returns.
	Done func(j *Job)

	// Interim, when set, is called on the worker for each 1xx interim
	// response that precedes the final one (101 excepted: it fails the
	// exchange), in the order received, as soon as it has been read: head
	// is the response to relay, "HTTP/1.1 <code> <reason>", its end-to-end
	// fields (hop-by-hop fields, those named in Connection and
	// Content-Length removed) and the empty line. head is the worker's
	// scratch, valid only during the call. Interim must not block; it may
	// read Ctx but must not modify the job. An exchange whose interim heads
	// exceed 64 KiB in all fails with ErrBadResponse. nil: they are read
	// and dropped.
	Interim func(j *Job, head []byte)

	// Ctx is the caller's data; the pool never touches it.
	Ctx any
}

var jobPool = sync.Pool{New: func() any { return new(Job) }}

// AcquireJob returns an empty Job, reusing a released one when it can. Safe
// from any goroutine.
func AcquireJob() *Job {
	return jobPool.Get().(*Job)
}

// ReleaseJob resets j and returns it for reuse. The caller must not touch j,
// or any slice obtained from j.req or j.Resp, afterwards. Never release a job
// between a successful Submit and its Done call. Safe from any goroutine.
func ReleaseJob(j *Job) {
	j.reset()
	jobPool.Put(j)
}

// reset clears everything the caller or the pool set.
func (j *Job) reset() {
	j.req.Reset()
	j.Resp.r.Reset()
	j.Err, j.Cause, j.Addr = nil, nil, ""
	j.StreamAbove, j.Body, j.BodyLen = 0, nil, 0
	j.Done, j.Ctx, j.Interim = nil, nil, nil
}

// Build fills the job's request from a parsed client request; see
// BuildRequest for what is forwarded, dropped and added. method, target,
// host, headers and body are copied.
func (j *Job) Build(method, target, host []byte, headers []httpparse.Header, body []byte, fw *Forward) {
	BuildRequest(&j.req, method, target, host, headers, body, fw)
}

// AddHeader appends the field "name: value" to the request after every
// field Build wrote (a revalidation's If-None-Match, say). value is copied.
func (j *Job) AddHeader(name string, value []byte) {
	j.req.Header.AddBytesV(name, value)
}
