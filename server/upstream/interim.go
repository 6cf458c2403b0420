package upstream

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Interim (1xx) responses. readResponse reads every head itself before the
// final one (fasthttp's own Response.Read would consume and drop them), checks
// each as it checks the final head, and hands those a proxy must forward (RFC
// 9110 §15.2: 100 Continue, 102 Processing, 103 Early Hints and unknown 1xx;
// 101 is never asked for and fails the exchange) to Job.Interim, in the order
// received, as soon as each has been read: an Early Hints head reaches the
// client while the origin is still rendering the page.
//
// What the upstream may make the worker read is bounded: at most
// maxInterimResponses heads, each within Config.MaxResponseHeaderBytes, and
// maxInterimBytes of them in all; past either the exchange fails with
// ErrBadResponse. Job.Interim is handed one head at a time from the worker's
// scratch, so the pool itself holds none of them.

// maxInterimBytes bounds the interim heads of one exchange, all together, as
// received.
const maxInterimBytes = 64 << 10

// maxKeptInterim is the largest interim scratch a worker keeps between
// heads.
const maxKeptInterim = 4 << 10

// errInterimTooLarge is the cause when the interim heads of one exchange
// exceed maxInterimBytes.
var errInterimTooLarge = errors.New("1xx interim responses larger than 64 KiB in all")

// appendInterimHead appends the interim response whose head resp.Header holds
// (read with DisableNormalizing, as the pool reads every head) in the form it
// is relayed: "HTTP/1.1 <code> <reason as received>", the end-to-end fields in
// the order visitResponse gives them (hop-by-hop fields, those named in
// Connection and Content-Length left out), and the empty line. Field values
// are those fasthttp parsed from a head checkHead accepted: no CR or LF. Worker
// goroutine (the owner of resp) only; it allocates only to grow dst.
func appendInterimHead(dst []byte, resp *fasthttp.Response) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(resp.Header.StatusCode()), 10)
	dst = append(dst, ' ')
	dst = append(dst, resp.Header.StatusMessage()...)
	dst = append(dst, "\r\n"...)
	visitResponse(resp, func(name, value []byte) {
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, value...)
		dst = append(dst, "\r\n"...)
	})
	return append(dst, "\r\n"...)
}
