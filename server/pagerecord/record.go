package pagerecord

import (
	"encoding/binary"
	"math"
)

// Layout constants (see the package documentation).
const (
	// Magic is the 4-byte prefix of every record.
	Magic = "MCPG"
	// Version is the layout version this package writes and reads.
	Version = 1
	// HeadSize is the size of the fixed head before the header block.
	HeadSize = 36
)

// Flags are the record's flag bits (offset 5).
type Flags uint8

// Flag bits. Bits 1-7 are reserved: AppendRecord writes what Record.Flags
// holds, Decode keeps unknown bits in Record.Flags and gives them no meaning.
const (
	// FlagDefaultTTL: freshness came from the proxy's -ttl, not from the
	// origin, so hits add Cache-Control: max-age and Expires.
	FlagDefaultTTL Flags = 1 << iota
	// FlagVaryIndex: the record is not a page but the variant index of a
	// URL whose responses vary on request fields (see the package
	// documentation, "Variants"); its Selector holds the index. Never
	// served.
	FlagVaryIndex
)

// MaxSelector is the longest selector section a record can hold.
const MaxSelector = 1<<16 - 1

// Record is a decoded stored page. A Record filled by Decode holds views into
// the decoded bytes (Header, Body): it is valid only while those bytes are
// unchanged, and belongs to the goroutine that decoded it. Its methods only
// read it, so several goroutines may call them on a Record nobody modifies.
type Record struct {
	Status       int      // HTTP status, 100..999
	Flags        Flags    // FlagDefaultTTL and reserved bits
	Encoding     Encoding // coding of Body as stored
	OrigEncoding Encoding // coding the origin sent (a hit served in another coding weakens a strong ETag)
	StoredAt     int64    // unix seconds when stored
	TTL          uint32   // seconds of freshness remaining at StoredAt
	AgeAtStore   uint32   // the response's age at StoredAt, seconds
	// Header is the header block: zero or more "Name: value\r\n" lines, the
	// end-to-end fields as received, without any field StorableField rejects.
	Header []byte
	// Selector is the variant section: empty for a page that does not vary
	// on request fields (besides Accept-Encoding); a variant's selecting
	// request values or a variant index otherwise (FlagVaryIndex). At most
	// MaxSelector bytes; its meaning belongs to the server.
	Selector []byte
	Body     []byte
}

// Size returns the length of r's serialised form.
func (r *Record) Size() int { return HeadSize + len(r.Header) + len(r.Selector) + len(r.Body) }

// IsIndex reports whether r is a variant index rather than a page.
func (r *Record) IsIndex() bool { return r.Flags&FlagVaryIndex != 0 }

// AppendRecord appends r's serialised form to dst and returns the extended
// slice. It copies Header and Body, so the caller may reuse them afterwards.
// It does not validate r: a record Decode would reject (status out of range,
// malformed header block) is written as given and rejected when read, so
// writers check r first (Record.Check) when the fields came from elsewhere.
// It panics if Header or Body is longer than 4 GiB − 1, which the layout cannot
// express. Safe from any goroutine that owns dst and may read r.
func AppendRecord(dst []byte, r *Record) []byte {
	if uint64(len(r.Header)) > math.MaxUint32 || uint64(len(r.Body)) > math.MaxUint32 {
		panic("pagerecord: header block or body longer than 4 GiB")
	}
	if len(r.Selector) > MaxSelector {
		panic("pagerecord: selector longer than MaxSelector")
	}
	if need := r.Size(); cap(dst)-len(dst) < need {
		nd := make([]byte, len(dst), len(dst)+need)
		copy(nd, dst)
		dst = nd
	}
	var h [HeadSize]byte
	copy(h[0:4], Magic)
	h[4] = Version
	h[5] = byte(r.Flags)
	binary.BigEndian.PutUint16(h[6:8], uint16(r.Status))
	h[8] = byte(r.Encoding)
	h[9] = byte(r.OrigEncoding)
	binary.BigEndian.PutUint16(h[10:12], uint16(len(r.Selector)))
	binary.BigEndian.PutUint64(h[12:20], uint64(r.StoredAt))
	binary.BigEndian.PutUint32(h[20:24], r.TTL)
	binary.BigEndian.PutUint32(h[24:28], r.AgeAtStore)
	binary.BigEndian.PutUint32(h[28:32], uint32(len(r.Header)))
	binary.BigEndian.PutUint32(h[32:36], uint32(len(r.Body)))
	dst = append(dst, h[:]...)
	dst = append(dst, r.Header...)
	dst = append(dst, r.Selector...)
	return append(dst, r.Body...)
}

// Decode parses the record b into r without copying or allocating: r.Header
// and r.Body are views into b, valid while b is unchanged. It checks the whole
// layout, including every header block line, and returns one of ErrShort,
// ErrMagic, ErrVersion, ErrLength, ErrStatus, ErrEncoding, ErrSelector,
// ErrHeader, ErrForbiddenField; on error r is left zeroed. A record Decode
// accepts re-encodes with AppendRecord to exactly b. Safe from any goroutine
// that owns r.
func Decode(b []byte, r *Record) error {
	*r = Record{}
	if len(b) < HeadSize {
		if len(b) >= len(Magic) && string(b[:len(Magic)]) != Magic {
			return ErrMagic
		}
		return ErrShort
	}
	if string(b[0:4]) != Magic {
		return ErrMagic
	}
	if b[4] != Version {
		return ErrVersion
	}
	hl := uint64(binary.BigEndian.Uint32(b[28:32]))
	bl := uint64(binary.BigEndian.Uint32(b[32:36]))
	sl := uint64(binary.BigEndian.Uint16(b[10:12]))
	// uint64 arithmetic: two u32 lengths cannot overflow it, and int may be 32 bits.
	switch total := HeadSize + hl + sl + bl; {
	case total > uint64(len(b)):
		return ErrShort
	case total < uint64(len(b)):
		return ErrLength
	}
	status := int(binary.BigEndian.Uint16(b[6:8]))
	if status < 100 || status > 999 {
		return ErrStatus
	}
	enc, orig := Encoding(b[8]), Encoding(b[9])
	if !enc.valid() || !orig.valid() {
		return ErrEncoding
	}
	if Flags(b[5])&FlagVaryIndex != 0 && sl == 0 {
		return ErrSelector
	}
	header := b[HeadSize : HeadSize+hl : HeadSize+hl]
	if err := checkBlock(header); err != nil {
		return err
	}
	*r = Record{
		Status:       status,
		Flags:        Flags(b[5]),
		Encoding:     enc,
		OrigEncoding: orig,
		StoredAt:     int64(binary.BigEndian.Uint64(b[12:20])),
		TTL:          binary.BigEndian.Uint32(b[20:24]),
		AgeAtStore:   binary.BigEndian.Uint32(b[24:28]),
		Header:       header,
		Selector:     b[HeadSize+hl : HeadSize+hl+sl : HeadSize+hl+sl],
		Body:         b[HeadSize+hl+sl : len(b) : len(b)],
	}
	return nil
}

// Lookup returns the value of the first header block field called name
// (ASCII case-insensitive), without surrounding spaces and tabs, or nil if
// there is none; a field that is present but empty gives a non-nil empty
// slice. The result is a view into r.Header. It does not allocate.
func (r *Record) Lookup(name string) []byte { return lookup(r.Header, name) }

// elapsed returns now − StoredAt, clamped to [0, MaxInt64]: a StoredAt in
// the future (writers' clocks disagree) counts as "stored now", and hostile
// values cannot overflow.
func (r *Record) elapsed(now int64) int64 {
	if now <= r.StoredAt {
		return 0
	}
	d := now - r.StoredAt
	if d < 0 { // overflowed: StoredAt is hugely negative
		return math.MaxInt64
	}
	return d
}

// Age returns the response's current age in seconds, AgeAtStore + (now −
// StoredAt), never negative (see elapsed). now is unix seconds.
func (r *Record) Age(now int64) int64 {
	e := r.elapsed(now)
	if e > math.MaxInt64-int64(r.AgeAtStore) {
		return math.MaxInt64
	}
	return int64(r.AgeAtStore) + e
}

// Remaining returns the seconds of freshness left at now (unix seconds), TTL −
// (now − StoredAt); negative once stale. It is never more than TTL.
func (r *Record) Remaining(now int64) int64 {
	e := r.elapsed(now)
	if e > math.MaxInt64/2 {
		return math.MinInt64 / 2 // stale beyond any TTL; avoid overflow
	}
	return int64(r.TTL) - e
}

// Fresh reports whether the record is fresh at now (unix seconds): Remaining
// is positive.
func (r *Record) Fresh(now int64) bool { return r.Remaining(now) > 0 }
