package pagerecord

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// notStoredFields are the names, besides the hop-by-hop ones
// (httpbytes.IsHopByHop), that a record's header block must not hold (lower
// case): fields that frame the message or that the proxy computes per
// response, the proxy-authentication fields (RFC 9111 §3.1), and Set-Cookie,
// which would hand one client's cookie to every client. Hits write the block
// verbatim, so one of these in a hostile record could split or desynchronise
// the response.
var notStoredFields = [...]string{
	"age", "set-cookie", "content-length", "content-encoding",
	"proxy-authenticate", "proxy-authorization", "proxy-authentication-info",
}

// StorableField reports whether a field named name may appear in a record's
// header block: name is an RFC 9110 token, not hop-by-hop
// (httpbytes.IsHopByHop) and not one of notStoredFields (Content-Length,
// Set-Cookie...; the package documentation lists them all). Writers filter
// fields with it; Decode rejects a record holding any other. Safe from any
// goroutine; it does not allocate.
func StorableField(name []byte) bool {
	return httpbytes.IsToken(name) && !forbidden(name)
}

// forbidden reports whether token name is hop-by-hop or in notStoredFields.
func forbidden(name []byte) bool {
	if httpbytes.IsHopByHop(name) {
		return true
	}
	for _, f := range notStoredFields {
		if httpbytes.EqualFold(name, f) {
			return true
		}
	}
	return false
}

// checkBlock validates a whole header block: every line "token:value\r\n",
// value free of control bytes but HTAB, and no forbidden field.
func checkBlock(b []byte) error {
	for len(b) > 0 {
		i := httpbytes.TokenLen(b)
		if i == 0 || i == len(b) || b[i] != ':' {
			return ErrHeader
		}
		if forbidden(b[:i]) {
			return ErrForbiddenField
		}
		rest := b[i+1:]
		cr := bytes.IndexByte(rest, '\r')
		if cr < 0 || cr+1 == len(rest) || rest[cr+1] != '\n' || !httpbytes.IsFieldValue(rest[:cr]) {
			return ErrHeader
		}
		b = rest[cr+2:]
	}
	return nil
}

// cutLine splits off b's first line: line is without its "\n" (and without a
// "\r" before it, crlf reporting whether one was there); rest follows the "\n".
// A last line without "\n" is returned with crlf false.
func cutLine(b []byte) (line, rest []byte, crlf bool) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return b, nil, false
	}
	line, rest = b[:nl], b[nl+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return line[:len(line)-1], rest, true
	}
	return line, rest, false
}

// splitField splits a line (without terminator) into name and untrimmed
// value at the first colon, reporting whether the line is a valid field
// whose name is storable.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name, value = line[:colon], line[colon+1:]
	return name, value, StorableField(name) && httpbytes.IsFieldValue(value)
}

// lookup returns the first value of the field called name in block, trimmed of
// OWS, or nil. It tolerates blocks Decode would reject (a Record built by
// hand) without panicking.
func lookup(block []byte, name string) []byte {
	for len(block) > 0 {
		var line []byte
		line, block, _ = cutLine(block)
		if len(line) <= len(name) || line[len(name)] != ':' {
			continue
		}
		if httpbytes.EqualFold(line[:len(name)], name) {
			return httpbytes.TrimOWS(line[len(name)+1:])
		}
	}
	return nil
}
