package pagerecord

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// AppendMergedHeader implements the header update of RFC 9111 §3.2 / §4.3.4
// (freshening a stored response with a 304): it appends to dst the stored
// header block with every field that update carries replaced — all stored
// fields of that name dropped, all of update's fields of that name put where
// the first stored one was — followed by update's fields of names stored does
// not have, and returns the extended slice.
//
// Fields that must not be updated are ignored in update: everything
// StorableField rejects (Content-Length, Content-Encoding, Transfer-Encoding,
// hop-by-hop fields, Set-Cookie, Age) and any field that update's own
// Connection field names. Lines of either block that are malformed (not
// "token: value\r\n", control bytes in the value) or not storable are dropped,
// so the result is always a block Decode accepts. Names compare ASCII
// case-insensitively.
//
// stored and update are "Name: value\r\n" blocks; neither is modified or
// retained. Safe from any goroutine that owns dst. The work is quadratic in
// the number of lines, which the callers bound (response head limits).
func AppendMergedHeader(dst, stored, update []byte) []byte {
	for rest := stored; len(rest) > 0; {
		before := stored[:len(stored)-len(rest)]
		name, line, ok := nextField(&rest)
		switch {
		case !ok:
		case !updates(update, name):
			dst = append(dst, line...)
		case !hasField(before, name):
			dst = appendFields(dst, update, name)
		}
	}
	for rest := update; len(rest) > 0; {
		name, line, ok := nextField(&rest)
		if ok && !hasField(stored, name) && !listedInConnection(update, name) {
			dst = append(dst, line...)
		}
	}
	return dst
}

// nextField cuts the first line off *block: line is that line with its
// terminator, name its field name, and ok whether it is a valid, storable,
// CRLF-terminated field (splitField).
func nextField(block *[]byte) (name, line []byte, ok bool) {
	b := *block
	l, rest, crlf := cutLine(b)
	*block = rest
	name, _, ok = splitField(l)
	return name, b[:len(b)-len(rest)], ok && crlf
}

// updates reports whether update holds a valid, updatable field called name.
func updates(update, name []byte) bool {
	return hasField(update, name) && !listedInConnection(update, name)
}

// hasField reports whether block holds a valid, storable CRLF-terminated
// field called name.
func hasField(block, name []byte) bool {
	for len(block) > 0 {
		if n, _, ok := nextField(&block); ok && httpbytes.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// appendFields appends every valid CRLF-terminated line of block called name.
func appendFields(dst, block, name []byte) []byte {
	for len(block) > 0 {
		if n, line, ok := nextField(&block); ok && httpbytes.EqualFold(n, name) {
			dst = append(dst, line...)
		}
	}
	return dst
}

// listedInConnection reports whether a Connection field of block names name
// (RFC 9110 §7.6.1: such fields are hop-by-hop for this message).
func listedInConnection(block, name []byte) bool {
	for len(block) > 0 {
		var line []byte
		line, block, _ = cutLine(block)
		colon := bytes.IndexByte(line, ':')
		if colon > 0 && httpbytes.EqualFold(line[:colon], "connection") &&
			httpbytes.HasElementFold(line[colon+1:], name) {
			return true
		}
	}
	return false
}
