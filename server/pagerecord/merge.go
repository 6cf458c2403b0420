package pagerecord

import "bytes"

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
		var line []byte
		var crlf bool
		full := rest
		line, rest, crlf = cutLine(rest)
		name, _, ok := splitField(line)
		if !ok || !crlf {
			continue
		}
		if !updates(update, name) {
			dst = append(dst, full[:len(full)-len(rest)]...)
			continue
		}
		if !hasField(stored[:len(stored)-len(full)], name) {
			dst = appendFields(dst, update, name)
		}
	}
	for rest := update; len(rest) > 0; {
		var line []byte
		var crlf bool
		full := rest
		line, rest, crlf = cutLine(rest)
		name, _, ok := splitField(line)
		if !ok || !crlf || hasField(stored, name) || listedInConnection(update, name) {
			continue
		}
		dst = append(dst, full[:len(full)-len(rest)]...)
	}
	return dst
}

// updates reports whether update holds a valid, updatable field called name.
func updates(update, name []byte) bool {
	return hasField(update, name) && !listedInConnection(update, name)
}

// hasField reports whether block holds a valid, storable CRLF-terminated
// field called name.
func hasField(block, name []byte) bool {
	for len(block) > 0 {
		var line []byte
		var crlf bool
		line, block, crlf = cutLine(block)
		n, _, ok := splitField(line)
		if ok && crlf && equalFoldBytes(n, name) {
			return true
		}
	}
	return false
}

// appendFields appends every valid CRLF-terminated line of block called name.
func appendFields(dst, block, name []byte) []byte {
	for len(block) > 0 {
		full := block
		line, rest, crlf := cutLine(block)
		block = rest
		n, _, ok := splitField(line)
		if ok && crlf && equalFoldBytes(n, name) {
			dst = append(dst, full[:len(full)-len(rest)]...)
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
		if colon <= 0 || !equalFold(line[:colon], "connection") {
			continue
		}
		for v := line[colon+1:]; len(v) > 0; {
			item := v
			if c := bytes.IndexByte(v, ','); c >= 0 {
				item, v = v[:c], v[c+1:]
			} else {
				v = nil
			}
			if equalFoldBytes(trimOWS(item), name) {
				return true
			}
		}
	}
	return false
}
