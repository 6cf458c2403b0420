package pagerecord

import (
	"bytes"
	"encoding/binary"
)

// forbiddenFields are the names a record's header block must not hold
// (lower case): fields that frame the message or that the proxy computes per
// response, hop-by-hop fields (RFC 9110 §7.6.1, RFC 9111 §3.1), and
// Set-Cookie, which would hand one client's cookie to every client. Hits write
// the block verbatim, so one of these in a hostile record could split or
// desynchronise the response.
var forbiddenFields = [...]string{
	"te", "age", "trailer", "upgrade", "connection", "keep-alive", "set-cookie",
	"content-length", "content-encoding", "proxy-connection", "transfer-encoding",
	"proxy-authenticate", "proxy-authorization", "proxy-authentication-info",
}

// StorableField reports whether a field named name may appear in a record's
// header block: name is an RFC 9110 token and not one of the fields listed in
// the package documentation (Content-Length, Set-Cookie, hop-by-hop fields…).
// Writers filter fields with it; Decode rejects a record holding any other.
// Safe from any goroutine; it does not allocate.
func StorableField(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if byteClass[c]&classToken == 0 {
			return false
		}
	}
	return !forbidden(name)
}

// forbidden reports whether token name is in forbiddenFields.
func forbidden(name []byte) bool {
	for _, f := range forbiddenFields {
		if equalFold(name, f) {
			return true
		}
	}
	return false
}

// checkBlock validates a whole header block: every line "token:value\r\n",
// value free of control bytes but HTAB, and no forbidden field.
func checkBlock(b []byte) error {
	for len(b) > 0 {
		i := 0
		for i < len(b) && byteClass[b[i]]&classToken != 0 {
			i++
		}
		if i == 0 || i == len(b) || b[i] != ':' {
			return ErrHeader
		}
		if forbidden(b[:i]) {
			return ErrForbiddenField
		}
		rest := b[i+1:]
		cr := bytes.IndexByte(rest, '\r')
		if cr < 0 || cr+1 == len(rest) || rest[cr+1] != '\n' || !valueOK(rest[:cr]) {
			return ErrHeader
		}
		b = rest[cr+2:]
	}
	return nil
}

// SWAR constants: a byte-wise "any byte below 0x20" and "any byte equal to
// 0x7f" test over 8 bytes at a time. Both tests are exact as existence tests;
// a hit falls back to the byte table (HTAB, which is allowed, also hits).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// valueOK reports whether v holds only field-value bytes (VCHAR, obs-text, SP,
// HTAB). Header blocks are checked on every hit, so clean 8-byte words take a
// fast path.
func valueOK(v []byte) bool {
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		del := x ^ (0x7f * ones)
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			for _, c := range v[:8] {
				if byteClass[c]&classValue == 0 {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if byteClass[c]&classValue == 0 {
			return false
		}
	}
	return true
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
	return name, value, StorableField(name) && valueOK(value)
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
		if equalFoldString(line[:len(name)], name) {
			return trimOWS(line[len(name)+1:])
		}
	}
	return nil
}
