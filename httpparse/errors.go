package httpparse

import (
	"errors"
	"strconv"
)

// Error is a rejection that becomes an HTTP answer (see AppendErrorResponse).
// Reason is a short fixed plain-text phrase that never echoes input. The
// parser returns only the sentinels below, so callers may compare with ==;
// sentinels are shared and must never be modified.
type Error struct {
	Status int    // HTTP status code to answer with
	Reason string // fixed phrase, sent as the answer's body
}

// Error returns "httpparse: <status> <reason>". It allocates; it is meant for
// logs, not for the request path.
func (e *Error) Error() string {
	return "httpparse: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// ErrNeedMore is returned by ParseHead when buf holds a valid but incomplete
// head that is still within Limits.MaxHeaderBytes: read more and call again
// with the grown buffer.
var ErrNeedMore = errors.New("httpparse: need more data")

// Rejections. Each says when it occurs; the status is what the peer is answered.
var (
	// ErrRequestLine (400): the request line is not exactly
	// method SP request-target SP HTTP-version, the method is not a token or is
	// longer than MaxMethodLen, or the version is not "HTTP/" DIGIT "." DIGIT.
	ErrRequestLine = &Error{Status: 400, Reason: "malformed request line"}
	// ErrTarget (400): the request-target has a byte outside %x21-7E, a '%'
	// in its path not followed by two hex digits, or is none of origin-form,
	// absolute-form with an http/https scheme and a valid authority, or "*"
	// with OPTIONS.
	ErrTarget = &Error{Status: 400, Reason: "invalid request target"}
	// ErrVersion (505): a well-formed HTTP version other than 1.0 and 1.1.
	ErrVersion = &Error{Status: 505, Reason: "http version not supported"}
	// ErrLineEnding (400): a bare LF (not preceded by CR) ends a line, or a
	// CR not followed by LF appears in a line.
	ErrLineEnding = &Error{Status: 400, Reason: "malformed line ending"}
	// ErrHeaderSyntax (400): a field line has an empty or non-token name,
	// whitespace before the colon, no colon, a control byte (other than HTAB)
	// in its value, or starts with SP/HTAB (obs-fold).
	ErrHeaderSyntax = &Error{Status: 400, Reason: "malformed header field"}
	// ErrHeaderTooLarge (431): the head (or a chunked body's trailer section)
	// does not fit in Limits.MaxHeaderBytes.
	ErrHeaderTooLarge = &Error{Status: 431, Reason: "request header fields too large"}
	// ErrTooManyHeaders (431): more than Limits.MaxHeaders header fields (or
	// trailer fields).
	ErrTooManyHeaders = &Error{Status: 431, Reason: "too many header fields"}
	// ErrHost (400): an HTTP/1.1 request without Host, more than one Host
	// field, or a Host value that is not uri-host [":" port].
	ErrHost = &Error{Status: 400, Reason: "missing, repeated or invalid host"}
	// ErrContentLength (400): a Content-Length value that is not 1*DIGIT (or
	// a list of identical such values), overflows, or differs from an
	// earlier Content-Length.
	ErrContentLength = &Error{Status: 400, Reason: "invalid content-length"}
	// ErrSmuggling (400): Transfer-Encoding together with Content-Length, or
	// Transfer-Encoding in an HTTP/1.0 request: framing that intermediaries
	// may disagree on.
	ErrSmuggling = &Error{Status: 400, Reason: "ambiguous message framing"}
	// ErrTransferCoding (501): a Transfer-Encoding other than exactly one
	// field with the value "chunked" (e.g. "gzip, chunked").
	ErrTransferCoding = &Error{Status: 501, Reason: "transfer coding not implemented"}
	// ErrExpectation (417): an HTTP/1.1 Expect value other than 100-continue.
	ErrExpectation = &Error{Status: 417, Reason: "expectation not supported"}
	// ErrBodyTooLarge (413): Content-Length, or the decoded chunked body so
	// far, exceeds Limits.MaxBodyBytes.
	ErrBodyTooLarge = &Error{Status: 413, Reason: "request body too large"}
	// ErrChunk (400): malformed chunked framing: a bad chunk-size line or
	// extension, a chunk-size line over MaxChunkLine, data not followed by
	// CRLF, or more framing overhead than data justifies.
	ErrChunk = &Error{Status: 400, Reason: "malformed chunked body"}
)
