package httpparse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// rangeCases are ParseRange's table: value, representation size, and the
// ranges ("first-last" joined by ",") or error expected.
var rangeCases = []struct {
	value string
	size  int64
	want  string
	err   error
}{
	// RFC 9110 §14.1.2's examples, for a 10000-byte representation.
	{"bytes=0-499", 10000, "0-499", nil},
	{"bytes=500-999", 10000, "500-999", nil},
	{"bytes=-500", 10000, "9500-9999", nil},
	{"bytes=9500-", 10000, "9500-9999", nil},
	{"bytes=0-0,-1", 10000, "0-0,9999-9999", nil},
	{"bytes= 0-999, 4500-5499, -1000", 10000, "0-999,4500-5499,9000-9999", nil},
	{"bytes=500-600,601-999", 10000, "500-999", nil}, // adjacent: merged
	{"bytes=500-700,601-999", 10000, "500-999", nil}, // overlapping: merged

	// Resolution against the size.
	{"bytes=0-", 11, "0-10", nil},
	{"bytes=0-1", 11, "0-1", nil},
	{"bytes=1-", 11, "1-10", nil},
	{"bytes=-1", 11, "10-10", nil},
	{"bytes=-5", 3, "0-2", nil},                  // suffix longer than the representation
	{"bytes=5-100", 10, "5-9", nil},              // last-pos past the end
	{"bytes=9-9", 10, "9-9", nil},                //
	{"bytes=10-", 10, "", ErrRangeUnsatisfiable}, // first-pos at the end
	{"bytes=10-20,30-", 10, "", ErrRangeUnsatisfiable},
	{"bytes=-0", 10, "", ErrRangeUnsatisfiable},
	{"bytes=0-0", 0, "", ErrRangeUnsatisfiable},
	{"bytes=-5", 0, "", ErrRangeUnsatisfiable},
	{"bytes=20-30,2-3", 10, "2-3", nil}, // the unsatisfiable one left out
	{"bytes=0-99999999999999999999999", 10, "0-9", nil},
	{"bytes=99999999999999999999999-", 10, "", ErrRangeUnsatisfiable},
	{"bytes=-99999999999999999999999", 10, "0-9", nil},
	{"bytes=0-9223372036854775807", math.MaxInt64, "0-9223372036854775806", nil},

	// Order: kept when nothing touches, else sorted and merged.
	{"bytes=8-9,0-1", 10, "8-9,0-1", nil},
	{"bytes=8-9,0-1,1-2", 10, "0-2,8-9", nil},
	{"bytes=0-4,0-4,0-4", 10, "0-4", nil},
	{"bytes=-3,0-", 10, "0-9", nil},
	{"bytes=5-5,3-3,4-4", 10, "3-5", nil},

	// Lists: OWS and empty elements.
	{"bytes=0-1,", 10, "0-1", nil},
	{"bytes=,0-1", 10, "0-1", nil},
	{"bytes=0-1 ,\t, 3-4", 10, "0-1,3-4", nil},
	{" bytes=0-1 ", 10, "0-1", nil},
	{"BYTES=0-1", 10, "0-1", nil},
	{"Bytes=0-1", 10, "0-1", nil},

	// Ignored: malformed, other units, too many.
	{"", 10, "", ErrRangeSyntax},
	{"bytes", 10, "", ErrRangeSyntax},
	{"bytes=", 10, "", ErrRangeSyntax},
	{"bytes=,", 10, "", ErrRangeSyntax},
	{"bytes = 0-1", 10, "", ErrRangeSyntax},
	{"=0-1", 10, "", ErrRangeSyntax},
	{"bytes=1", 10, "", ErrRangeSyntax},
	{"bytes=-", 10, "", ErrRangeSyntax},
	{"bytes=--1", 10, "", ErrRangeSyntax},
	{"bytes=1-2-3", 10, "", ErrRangeSyntax},
	{"bytes=a-b", 10, "", ErrRangeSyntax},
	{"bytes=1 - 2", 10, "", ErrRangeSyntax},
	{"bytes=+1-2", 10, "", ErrRangeSyntax},
	{"bytes=0x1-2", 10, "", ErrRangeSyntax},
	{"bytes=5-4", 10, "", ErrRangeSyntax}, // last-pos before first-pos
	{"bytes=0-1,5-4", 10, "", ErrRangeSyntax},
	{"bytes=20-30,5-4", 10, "", ErrRangeSyntax},
	{"bytes=0-1;q=1", 10, "", ErrRangeSyntax},
	{"bytes=0-1\x00", 10, "", ErrRangeSyntax},
	{"items=0-1", 10, "", ErrRangeUnit},
	{"none=x", 10, "", ErrRangeUnit},
	{"bytes=" + strings.Repeat("0-0,", MaxRanges), 10, "0-0", nil},
	{"bytes=" + strings.Repeat("0-0,", MaxRanges+1), 10, "", ErrRangeTooMany},
	{"bytes=" + strings.Repeat(",", 1000) + "1-1", 10, "1-1", nil},
	{"bytes=" + strings.Repeat("0-0,", MaxRanges) + "x", 10, "", ErrRangeTooMany},
}

func formatRanges(rs *Ranges) string {
	var parts []string
	for _, r := range rs.List() {
		parts = append(parts, fmt.Sprintf("%d-%d", r.First, r.Last))
	}
	return strings.Join(parts, ",")
}

func TestParseRange(t *testing.T) {
	for _, tc := range rangeCases {
		var rs Ranges
		rs.n = 3 // stale content from an earlier parse must not survive
		err := ParseRange([]byte(tc.value), tc.size, &rs)
		if err != tc.err || formatRanges(&rs) != tc.want {
			t.Errorf("ParseRange(%q, %d) = %q, %v; want %q, %v", tc.value, tc.size, formatRanges(&rs), err, tc.want, tc.err)
		}
	}
}

func TestRangesTotal(t *testing.T) {
	var rs Ranges
	if err := ParseRange([]byte("bytes=0-1,5-9,-1"), 100, &rs); err != nil {
		t.Fatal(err)
	}
	if got := rs.Total(); got != 2+5+1 {
		t.Fatalf("Total = %d, want 8", got)
	}
}

func TestParseRangeAllocs(t *testing.T) {
	v := []byte("bytes=0-1,8-9,1-2,-3,100-")
	var rs Ranges
	if n := testing.AllocsPerRun(100, func() { _ = ParseRange(v, 1000, &rs) }); n != 0 {
		t.Fatalf("%v allocations per ParseRange", n)
	}
}

// refRange is a plain reading of RFC 9110 §14 with strings and strconv: the
// bytes the ranges select (nil when the outcome is an error) and the error.
func refRange(value string, size int64) ([]bool, error) {
	v := strings.Trim(value, " \t")
	unit, set, ok := strings.Cut(v, "=")
	if !ok || unit == "" || strings.IndexFunc(unit, func(r rune) bool { return r >= 0x80 || !isTchar(byte(r)) }) >= 0 {
		return nil, ErrRangeSyntax
	}
	if !strings.EqualFold(unit, "bytes") {
		return nil, ErrRangeUnit
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			n = math.MaxInt64
		}
		return n, true
	}
	sel := make([]bool, size)
	specs, any := 0, false
	for _, spec := range strings.Split(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue
		}
		if specs++; specs > MaxRanges {
			return nil, ErrRangeTooMany
		}
		var first, last int64
		if rest, ok := strings.CutPrefix(spec, "-"); ok {
			n, ok := num(rest)
			if !ok {
				return nil, ErrRangeSyntax
			}
			if n == 0 || size == 0 {
				continue
			}
			first, last = max(size-n, 0), size-1
		} else {
			a, b, ok := strings.Cut(spec, "-")
			if !ok {
				return nil, ErrRangeSyntax
			}
			if first, ok = num(a); !ok {
				return nil, ErrRangeSyntax
			}
			last = math.MaxInt64
			if b != "" {
				if last, ok = num(b); !ok || last < first {
					return nil, ErrRangeSyntax
				}
			}
			if first >= size {
				continue
			}
			last = min(last, size-1)
		}
		any = true
		for i := first; i <= last; i++ {
			sel[i] = true
		}
	}
	switch {
	case specs == 0:
		return nil, ErrRangeSyntax
	case !any:
		return nil, ErrRangeUnsatisfiable
	}
	return sel, nil
}

func isTchar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
}

// FuzzParseRange checks ParseRange against refRange on small
// representations: the same outcome, the same bytes selected, ranges inside
// the representation, pairwise disjoint, never more than MaxRanges, in the
// client's order unless they were coalesced.
func FuzzParseRange(f *testing.F) {
	for _, tc := range rangeCases {
		if tc.size <= 4096 {
			f.Add([]byte(tc.value), tc.size)
		}
	}
	f.Fuzz(func(t *testing.T, value []byte, size int64) {
		if size < 0 || size > 4096 {
			size &= 4095
		}
		var rs Ranges
		err := ParseRange(value, size, &rs)
		want, wantErr := refRange(string(value), size)
		if err != wantErr {
			t.Fatalf("ParseRange(%q, %d): %v, reference %v", value, size, err, wantErr)
		}
		list := rs.List()
		if err != nil {
			if len(list) != 0 {
				t.Fatalf("ParseRange(%q, %d): %v with %d ranges", value, size, err, len(list))
			}
			return
		}
		if len(list) == 0 || len(list) > MaxRanges {
			t.Fatalf("ParseRange(%q, %d): %d ranges", value, size, len(list))
		}
		got := make([]bool, size)
		for i, r := range list {
			if r.First < 0 || r.First > r.Last || r.Last >= size {
				t.Fatalf("ParseRange(%q, %d): range %d-%d", value, size, r.First, r.Last)
			}
			for j := range list[:i] {
				if o := list[j]; r.First <= o.Last && o.First <= r.Last {
					t.Fatalf("ParseRange(%q, %d): %d-%d overlaps %d-%d", value, size, r.First, r.Last, o.First, o.Last)
				}
			}
			for k := r.First; k <= r.Last; k++ {
				got[k] = true
			}
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("ParseRange(%q, %d) = %s: byte %d selected %v, reference %v", value, size, formatRanges(&rs), k, got[k], want[k])
			}
		}
		if rs.Total() > size {
			t.Fatalf("ParseRange(%q, %d): %d bytes selected", value, size, rs.Total())
		}
	})
}
