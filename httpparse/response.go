package httpparse

import "github.com/mcpage/mcpage/internal/httpbytes"

// AppendErrorResponse appends to dst the complete answer to a rejected
// request and returns the extended slice:
//
//	HTTP/1.1 <status> <text>\r\n
//	Content-Type: text/plain; charset=utf-8\r\n
//	Content-Length: N\r\n
//	Connection: close\r\n
//	\r\n
//	<reason>\n
//
// The connection must be closed after it is written: after a framing error
// nothing that follows on the connection can be trusted. A status outside
// 100-599 is sent as 500; a status without a known text is sent with an
// empty reason-phrase, which RFC 9112 §4 allows. It allocates only to grow
// dst. Safe from any goroutine.
func AppendErrorResponse(dst []byte, e *Error) []byte {
	status := e.Status
	if status < 100 || status > 599 {
		status = 500
	}
	dst = httpbytes.AppendPlainHead(dst, status, statusText(status))
	return httpbytes.AppendPlainBody(dst, e.Reason, true)
}

// statusText covers the statuses this package and a front end answer
// with; it avoids importing net/http for its table.
func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}
