package httpparse

import (
	"errors"
	"math"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Range requests (RFC 9110 §14). ParseRange reads a Range field value
// against the length of the representation it selects from and resolves it
// into at most MaxRanges byte ranges:
//
//	Range          = range-unit "=" range-set     ; only the "bytes" unit (any case)
//	range-set      = 1#range-spec                 ; empty list elements and OWS around them allowed
//	range-spec     = int-range / suffix-range
//	int-range      = first-pos "-" [ last-pos ]   ; last-pos ≥ first-pos, else the field is invalid
//	suffix-range   = "-" suffix-length
//
// Each range-spec is resolved against size: an int-range whose first-pos is
// at or past the end, and a suffix-range of length 0 (or any suffix-range of
// an empty representation), select nothing and are left out; a last-pos past
// the end is cut to it, and a suffix longer than the representation selects
// all of it. Numbers of any length are accepted: they saturate at MaxInt64,
// which is past the end of anything.
//
// A client's Range is bounded (RFC 9110 §14.2 lets a server ignore or reject
// what looks like an attack): more than MaxRanges range-specs make the field
// ErrRangeTooMany, to be ignored; ranges that overlap are coalesced (§14.3
// allows it), so that what is sent is never longer than the representation
// (plus part headers). When no two ranges overlap or touch they keep the
// order the client listed them in; otherwise all are sorted by position and
// every overlapping or adjacent pair is merged.

// MaxRanges is the most range-specs a Range field may list; more is
// ErrRangeTooMany.
const MaxRanges = 16

// Outcomes of ParseRange other than success. All but ErrRangeUnsatisfiable
// mean the Range field is to be ignored (the whole representation sent);
// ErrRangeUnsatisfiable is answered 416 (RFC 9110 §15.5.17).
var (
	// ErrRangeSyntax: not range-unit "=" range-set, a range-spec that is
	// neither int-range nor suffix-range, a last-pos before its first-pos,
	// or no range-spec at all.
	ErrRangeSyntax = errors.New("httpparse: malformed Range")
	// ErrRangeUnit: a well-formed range unit other than "bytes".
	ErrRangeUnit = errors.New("httpparse: Range unit is not bytes")
	// ErrRangeTooMany: more than MaxRanges range-specs.
	ErrRangeTooMany = errors.New("httpparse: too many ranges")
	// ErrRangeUnsatisfiable: a valid Range none of whose range-specs
	// selects a byte of the representation.
	ErrRangeUnsatisfiable = errors.New("httpparse: no satisfiable range")
)

// ByteRange is a satisfiable range of a representation: bytes First through
// Last inclusive, 0 ≤ First ≤ Last < size.
type ByteRange struct{ First, Last int64 }

// Len is the number of bytes in r.
func (r ByteRange) Len() int64 { return r.Last - r.First + 1 }

// Ranges holds what ParseRange resolved, in an array of its own: no
// allocation. Its zero value is empty.
type Ranges struct {
	n int
	r [MaxRanges]ByteRange
}

// List returns the ranges, in the order they are to be sent. The slice is
// backed by rs itself: valid until rs is parsed into again or goes away.
func (rs *Ranges) List() []ByteRange { return rs.r[:rs.n] }

// Total is the number of bytes the ranges select, all together.
func (rs *Ranges) Total() int64 {
	var n int64
	for _, r := range rs.r[:rs.n] {
		n += r.Len()
	}
	return n
}

// ParseRange parses the Range field value (OWS around it allowed) against a
// representation of size bytes into dst (emptied first), as the comment
// above this function says. It returns nil with at least one range in dst,
// ErrRangeUnsatisfiable with none, or one of ErrRangeSyntax, ErrRangeUnit,
// ErrRangeTooMany with dst empty. A negative size is taken as 0. It
// allocates nothing and may be called from any goroutine that owns dst.
func ParseRange(value []byte, size int64, dst *Ranges) error {
	dst.n = 0
	size = max(size, 0)
	v := httpbytes.TrimOWS(value)
	unit := httpbytes.TokenLen(v)
	if unit == 0 || unit == len(v) || v[unit] != '=' {
		return ErrRangeSyntax
	}
	if !httpbytes.EqualFold(v[:unit], "bytes") {
		return ErrRangeUnit
	}
	list := v[unit+1:]
	specs := 0
	for more := true; more; {
		var spec []byte
		spec, list, more = httpbytes.CutElement(list)
		if len(spec) == 0 {
			continue // an empty list element
		}
		if specs++; specs > MaxRanges {
			dst.n = 0
			return ErrRangeTooMany
		}
		r, ok, err := resolveSpec(spec, size)
		if err != nil {
			dst.n = 0
			return err
		}
		if ok {
			dst.r[dst.n] = r
			dst.n++
		}
	}
	switch {
	case specs == 0:
		return ErrRangeSyntax
	case dst.n == 0:
		return ErrRangeUnsatisfiable
	}
	dst.coalesce()
	return nil
}

// resolveSpec parses one range-spec and resolves it against size: ok false
// when it selects nothing, err ErrRangeSyntax when it is malformed.
func resolveSpec(spec []byte, size int64) (r ByteRange, ok bool, err error) {
	if spec[0] == '-' {
		n, valid := digitsSaturated(spec[1:])
		if !valid {
			return r, false, ErrRangeSyntax
		}
		if n == 0 || size == 0 {
			return r, false, nil
		}
		return ByteRange{First: size - min(n, size), Last: size - 1}, true, nil
	}
	dash := 0
	for dash < len(spec) && httpbytes.IsDigit(spec[dash]) {
		dash++
	}
	if dash == 0 || dash == len(spec) || spec[dash] != '-' {
		return r, false, ErrRangeSyntax
	}
	first, _ := digitsSaturated(spec[:dash])
	last := int64(math.MaxInt64)
	if rest := spec[dash+1:]; len(rest) > 0 {
		var valid bool
		if last, valid = digitsSaturated(rest); !valid {
			return r, false, ErrRangeSyntax
		}
		if last < first {
			return r, false, ErrRangeSyntax
		}
	}
	if first >= size {
		return r, false, nil
	}
	return ByteRange{First: first, Last: min(last, size-1)}, true, nil
}

// digitsSaturated parses 1*DIGIT, saturating at MaxInt64.
func digitsSaturated(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !httpbytes.IsDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// coalesce leaves the ranges as listed when no two of them overlap or touch,
// and otherwise sorts them by position and merges every overlapping or
// adjacent pair.
func (rs *Ranges) coalesce() {
	list := rs.r[:rs.n]
	if !touching(list) {
		return
	}
	// Insertion sort: at most MaxRanges elements, no allocation.
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].First < list[j-1].First; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	out := 0
	for _, r := range list[1:] {
		if cur := &list[out]; r.First <= cur.Last+1 {
			cur.Last = max(cur.Last, r.Last)
			continue
		}
		out++
		list[out] = r
	}
	rs.n = out + 1
}

// touching reports whether two of the ranges overlap or are adjacent.
func touching(list []ByteRange) bool {
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			a, b := list[i], list[j]
			if a.First <= b.Last+1 && b.First <= a.Last+1 {
				return true
			}
		}
	}
	return false
}
