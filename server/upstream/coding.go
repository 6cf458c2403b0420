package upstream

import (
	"bytes"
	"errors"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Unusual transfer codings. RFC 9112 §6.3: when a response's
// Transfer-Encoding does not end in chunked, its body runs until the
// connection closes. fasthttp refuses any Transfer-Encoding but exactly
// "chunked" or "identity", which would turn such a response (an origin
// writing "Transfer-Encoding: x-foo" and closing after the body) into a 502.
// checkHead therefore reads the field itself; for a final coding other than
// chunked it renames the field in the buffered head, in place and to a name
// of the same length (ignoredTE), so that fasthttp sees neither
// Transfer-Encoding nor Content-Length and reads the body until close, as the
// RFC says; the renamed field is dropped from what is relayed (a coding we
// cannot undo is not ours to pass on, and the body is re-framed anyway).
//
// With a Content-Length beside it, the response is refused
// (errCodingWithLength): RFC 9112 §6.3 says to ignore Content-Length then, but
// a hop that believes it instead would split the stream differently, the
// request smuggling every proxy must not take part in.

// ignoredTE replaces "Transfer-Encoding" (17 bytes) in a head whose final
// coding is not chunked.
const ignoredTE = "Mcpage-Te-Ignored"

var errCodingWithLength = errors.New("Transfer-Encoding not ending in chunked, with Content-Length")

// teScan follows the Transfer-Encoding and Content-Length lines of one head.
type teScan struct {
	lines   [8]int // offsets of Transfer-Encoding lines in the head
	n       int
	over    bool // more than len(lines) of them
	chunked bool // the last coding seen is chunked
	length  bool // a Content-Length line
}

// line notes one field line (text, without CRLF) starting at offset start.
func (t *teScan) line(start int, text []byte) {
	colon := bytes.IndexByte(text, ':')
	if colon < 0 {
		return
	}
	name, value := text[:colon], text[colon+1:]
	switch {
	case httpbytes.EqualFold(name, "content-length"):
		t.length = true
	case httpbytes.EqualFold(name, "transfer-encoding"):
		if t.n == len(t.lines) {
			t.over = true
			return
		}
		t.lines[t.n] = start
		t.n++
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = value[i+1:]
		}
		last = httpbytes.TrimOWS(last)
		if len(last) > 0 { // an empty line keeps the coding before it
			t.chunked = httpbytes.EqualFold(last, "chunked")
		}
	}
}

// settle acts on the whole head b: nothing for none or a final chunked
// (fasthttp frames those), else the in-place rename, or
// errCodingWithLength.
func (t *teScan) settle(b []byte) error {
	if t.n == 0 || t.chunked {
		return nil
	}
	if t.length || t.over {
		return errCodingWithLength
	}
	for _, at := range t.lines[:t.n] {
		copy(b[at:at+len(ignoredTE)], ignoredTE)
	}
	return nil
}
