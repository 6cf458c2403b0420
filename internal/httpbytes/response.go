package httpbytes

import "strconv"

// AppendStatusLine appends "HTTP/1.1 <status> <reason>\r\n" to dst and
// returns the extended slice. An empty reason is written empty, which RFC
// 9112 §4 allows.
func AppendStatusLine(dst []byte, status int, reason string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// AppendPlainHead begins a short plain-text answer that mcpage writes itself
// (a rejected request, an unreachable origin): it appends the status line
// and "Content-Type: text/plain; charset=utf-8". The caller may append more
// fields, each ending in CRLF, and then must finish the answer with
// AppendPlainBody.
func AppendPlainHead(dst []byte, status int, reason string) []byte {
	dst = AppendStatusLine(dst, status, reason)
	return append(dst, "Content-Type: text/plain; charset=utf-8\r\n"...)
}

// AppendPlainBody finishes an answer begun with AppendPlainHead: it appends
// Content-Length, "Connection: close" when close, the blank line, and text
// followed by a newline as the body. text must be fixed by the caller, never
// an echo of input.
func AppendPlainBody(dst []byte, text string, close bool) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(text)+1), 10)
	dst = append(dst, "\r\n"...)
	if close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, text...)
	return append(dst, '\n')
}
