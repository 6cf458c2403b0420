package server

import (
	"bytes"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/upstream"
)

// HEAD updates (RFC 9111 §4.3.5). A HEAD for a stale stored page goes to the
// origin as a conditional HEAD rather than a GET: a 304 freshens the page as
// for any revalidation; a 200 carries no body but may still update it, when
// it is plainly a response about the same representation. Only then: its
// strong ETag equals the stored one, or, without ETags on either side, its
// Last-Modified equals the stored one. The page's fields are then updated
// from the HEAD response and its freshness decided again, exactly as a 304
// would (freshen), and the stored body stays. Any other 200 says the page
// changed: it is dropped (the next GET fetches it) and the HEAD response is
// passed to the client as it came.

// headUpdate handles a 200 (or other non-304) answer to a revalidation sent
// as HEAD. Worker goroutine only.
func (x *exchange) headUpdate(resp *upstream.Response, now time.Time) {
	var old pagerecord.Record
	if resp.Status() == 200 && pagerecord.Decode(x.stale, &old) == nil && sameRepresentation(&old, resp) {
		x.freshen(resp, now)
		return
	}
	x.drop = true
	x.out = appendPassResponse(x.outBuf(), resp, &x.f, x.label(), "", false, true)
}

// sameRepresentation reports whether the HEAD response resp describes the
// stored page r (RFC 9111 §4.3.4's selection, as §4.3.5 asks): equal strong
// ETags; or no ETag on either and equal Last-Modified dates; or no
// validator on either side at all, and then a Content-Length, when the
// HEAD response has one and the stored body is as the origin sent it,
// equal to the stored body's length.
func sameRepresentation(r *pagerecord.Record, resp *upstream.Response) bool {
	stored, got := r.Lookup("ETag"), peekFold(resp, "etag")
	if len(stored) > 0 || len(got) > 0 {
		return len(stored) > 2 && stored[0] == '"' && bytes.Equal(stored, bytes.TrimSpace(got))
	}
	lm, glm := r.Lookup("Last-Modified"), peekFold(resp, "last-modified")
	if len(lm) > 0 || len(glm) > 0 {
		return bytes.Equal(lm, bytes.TrimSpace(glm))
	}
	if cl := resp.ContentLength(); cl >= 0 && r.Encoding == r.OrigEncoding {
		return cl == len(r.Body)
	}
	return true
}

// peekFold returns the value of resp's first end-to-end field called name,
// in any case (responses keep their names as received: "Etag" from many
// servers), or nil.
func peekFold(resp *upstream.Response, name string) []byte {
	var v []byte
	found := false
	resp.Visit(func(n, value []byte) {
		if !found && httpbytes.EqualFold(n, name) {
			v, found = value, true
		}
	})
	return v
}
