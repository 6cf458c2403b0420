package mcstore

// Values an application wrote itself under a page's key, without a record
// head (mod_mcpage's convention, and nginx's memcached module's): served as
// the body of a 200 response.

import (
	"errors"
	"time"

	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/server/pagerecord"
)

// DefaultRawContentType is the Content-Type of raw values when
// Config.RawContentType is empty.
const DefaultRawContentType = "text/html; charset=utf-8"

// DefaultRawTTL is the freshness given to a raw value stored without a
// memcached TTL when Config.RawTTL is 0.
const DefaultRawTTL = time.Minute

// ErrRawContentType: the raw content type cannot be a header field value.
var ErrRawContentType = errors.New("mcstore: raw content type is not a valid header field value")

// rawKeep bounds the raw record buffer a Store keeps between lookups.
const rawKeep = 256 << 10

// CheckRawContentType reports whether ct can be the Content-Type of raw
// values (no control bytes but HTAB, no CR or LF): nil or ErrRawContentType.
// cmd/mcpage checks its flag with it; New falls back to
// DefaultRawContentType for a bad one. Any goroutine.
func CheckRawContentType(ct string) error {
	for i := 0; i < len(ct); i++ {
		// The header block check alone would take "a\r\nX: y": two fields.
		if c := ct[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return ErrRawContentType
		}
	}
	r := pagerecord.Record{Status: 200, Header: rawHeader(ct)}
	if r.Check() != nil {
		return ErrRawContentType
	}
	return nil
}

// rawHeader is the header block of raw values' records.
func rawHeader(ct string) []byte { return []byte("Content-Type: " + ct + "\r\n") }

// isRecord reports whether v is (claims to be) a record: the one check an
// ordinary hit pays for raw values and manifests.
func isRecord(v []byte) bool { return len(v) >= 4 && string(v[:4]) == pagerecord.Magic }

// getRaw answers lookup p with the raw value res.Value wrapped in a record:
// status 200, Content-Type Config.RawContentType, gzip-coded when the item's
// client flags carry Config.RawGzipFlag, stored now and fresh for the item's
// remaining memcached TTL (Config.RawTTL when it has none). State 0: the
// application manages the item's life, so no refresh is elected and a win
// the mg handed out is not kept (nothing of this process will rewrite it).
// The record lives in a buffer of the Store, valid during PageLookup only.
// On the loop, from OnResult.
//
// A value is raw when it is neither a record (pagerecord.Magic, "MCPG") nor
// a manifest (ManifestMagic, "MCPC"): an application's value must not start
// with either (HTML, JSON and gzip never do).
func (s *Store) getRaw(p pending, res *mcclient.Result) {
	r := pagerecord.Record{
		Status:   200,
		StoredAt: s.cfg.Clock().Unix(),
		TTL:      uint32(s.cfg.RawTTL / time.Second),
		Header:   s.rawHead, // checked by New: r.Check() holds for any body
		Body:     res.Value,
	}
	if res.TTL > 0 {
		r.TTL = uint32(min(res.TTL, 1<<32-1))
	}
	if s.cfg.RawGzipFlag != 0 && res.Flags&s.cfg.RawGzipFlag != 0 {
		r.Encoding, r.OrigEncoding = pagerecord.Gzip, pagerecord.Gzip
	}
	// PageLookup may, in principle, get to another raw value before it
	// returns: then that one takes a buffer of its own.
	var buf []byte
	if !s.rawBusy {
		buf = s.rawBuf
	}
	rec := pagerecord.AppendRecord(buf[:0], &r)
	busy := s.rawBusy
	s.rawBusy = true
	s.rawHits.Add(1)
	s.release(p)
	p.h.PageLookup(p.token, rec, 0, nil)
	if !busy {
		s.rawBusy = false
		if cap(rec) <= rawKeep {
			s.rawBuf = rec[:0]
		}
	}
}
