package cachepolicy

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Vary (RFC 9111 §4.1). A stored response may be reused for a request only
// when every request field its Vary names has the same value in both, after
// normalisation. Accept-Encoding is left out here: the page store keeps one
// copy per page and serves every coding from it (the server's encoding
// logic). The functions below normalise the two sides: the names a response
// varies on, and a request's values of those names (its selecting values),
// so that two requests select the same variant exactly when their
// normalised bytes are equal.

// MaxVaryNames is the most request fields a stored response may vary on
// besides Accept-Encoding; a response naming more is not stored
// (ReasonVary): every name costs a walk of the request's fields per lookup.
const MaxVaryNames = 8

// MaxSelecting bounds a request's selecting values (AppendSelecting). A
// request whose values are longer is not served from, nor written to, the
// cache: a peer must not make us store kilobytes of key per variant.
const MaxSelecting = 4096

// VaryNames returns the normalised names r's Vary lines select on besides
// Accept-Encoding, appended to dst: lower-cased, sorted, without duplicates,
// joined by ",". ok is false for "*" (in any member, on any line: never
// reused), for a member that is not a token, and for more than MaxVaryNames
// names. dst is empty-extended when Vary names nothing but Accept-Encoding.
// No allocation when dst has room.
func (r *Response) VaryNames(dst []byte) (out []byte, ok bool) {
	return AppendVaryNames(dst, r.vary.lines())
}

// AppendVaryNames is VaryNames over raw Vary field lines.
func AppendVaryNames(dst []byte, lines [][]byte) (out []byte, ok bool) {
	var names [MaxVaryNames][]byte
	n := 0
	for _, line := range lines {
		for rest := line; len(rest) > 0; {
			var item []byte
			item, rest, _ = cutList(rest, ',')
			item = httpbytes.TrimOWS(item)
			switch {
			case len(item) == 0:
				continue
			case !httpbytes.IsToken(item): // "*" is a token too: checked next
				return dst, false
			case len(item) == 1 && item[0] == '*':
				return dst, false
			case httpbytes.EqualFold(item, "accept-encoding"):
				continue
			}
			dup := false
			for i := 0; i < n; i++ {
				if foldEqual(names[i], item) {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			if n == MaxVaryNames {
				return dst, false
			}
			// Insertion sort, case-insensitively: at most MaxVaryNames.
			i := n
			for ; i > 0 && foldLess(item, names[i-1]); i-- {
				names[i] = names[i-1]
			}
			names[i] = item
			n++
		}
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		for _, c := range names[i] {
			dst = append(dst, httpbytes.Lower(c))
		}
	}
	return dst, true
}

// EachVaryName calls fn for each name of a list VaryNames built.
func EachVaryName(names []byte, fn func(name []byte)) {
	for len(names) > 0 {
		name, rest, _ := bytes.Cut(names, comma)
		fn(name)
		names = rest
	}
}

var comma = []byte(",")

func foldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if httpbytes.Lower(a[i]) != httpbytes.Lower(b[i]) {
			return false
		}
	}
	return true
}

func foldLess(a, b []byte) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := httpbytes.Lower(a[i]), httpbytes.Lower(b[i])
		if x != y {
			return x < y
		}
	}
	return len(a) < len(b)
}

// Selecting builds a request's selecting values for a list of names (from
// VaryNames): for each name in order, the name, then "=" and its normalised
// value, or "!" when the request has no such field (RFC 9111 §4.1: a missing
// field matches only a missing field), each followed by "\n". A field's
// value is all its lines combined: list members trimmed of whitespace, empty
// members dropped, joined by ","; Accept-Language members also lower-cased,
// stripped of inner whitespace and sorted (language tags are
// case-insensitive, and a list's order carries no meaning beside its
// q-values, which travel with their member).
//
// Usage, for each name: Start, then Add for every field line of that name
// in request order, then End. A Selecting belongs to one goroutine; Bytes is
// valid until the next Reset. No allocation once buf has grown.
type Selecting struct {
	buf   []byte
	start int  // where the current field's value starts
	any   bool // the current field has been seen
	lang  bool // the current field is Accept-Language
	over  bool // longer than MaxSelecting
}

// Reset empties s, keeping its buffer.
func (s *Selecting) Reset() { s.buf, s.over = s.buf[:0], false }

// Bytes returns the selecting values built so far; ok is false when they
// ran past MaxSelecting (the request then must not use the cache).
func (s *Selecting) Bytes() (b []byte, ok bool) { return s.buf, !s.over }

// Start begins the field name (lower case, from VaryNames).
func (s *Selecting) Start(name []byte) {
	s.buf = append(s.buf, name...)
	s.start = len(s.buf)
	s.any = false
	s.lang = string(name) == "accept-language"
}

// Add adds one field line's value of the current name.
func (s *Selecting) Add(value []byte) {
	if !s.any {
		s.buf = append(s.buf, '=')
		s.start = len(s.buf)
		s.any = true
	}
	for rest := value; len(rest) > 0; {
		var item []byte
		item, rest, _ = cutList(rest, ',')
		item = httpbytes.TrimOWS(item)
		if len(item) == 0 {
			continue
		}
		if len(s.buf) > s.start {
			s.buf = append(s.buf, ',')
		}
		if s.lang {
			for _, c := range item {
				if !httpbytes.IsOWS(c) {
					s.buf = append(s.buf, httpbytes.Lower(c))
				}
			}
		} else {
			s.buf = append(s.buf, item...)
		}
	}
	if len(s.buf) > MaxSelecting {
		s.over = true
		s.buf = s.buf[:s.start]
	}
}

// End finishes the current name.
func (s *Selecting) End() {
	if !s.any {
		s.buf = append(s.buf, '!')
	} else if s.lang {
		sortMembers(s.buf[s.start:])
	}
	s.buf = append(s.buf, '\n')
	if len(s.buf) > MaxSelecting {
		s.over = true
	}
}

// maxSorted bounds the members sortMembers orders; a longer list keeps its
// order (it still selects correctly, only less often equal to another).
const maxSorted = 32

// sortMembers sorts the ","-separated members of b in place.
func sortMembers(b []byte) {
	var spans [maxSorted][2]int
	n, from := 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == ',' {
			if n == maxSorted {
				return
			}
			spans[n] = [2]int{from, i}
			n++
			from = i + 1
		}
	}
	sorted := true
	for i := 1; i < n; i++ {
		if bytes.Compare(b[spans[i-1][0]:spans[i-1][1]], b[spans[i][0]:spans[i][1]]) > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && bytes.Compare(b[spans[j][0]:spans[j][1]], b[spans[j-1][0]:spans[j-1][1]]) < 0; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	var tmp [MaxSelecting]byte
	k := 0
	for i := 0; i < n; i++ {
		if i > 0 {
			tmp[k] = ','
			k++
		}
		k += copy(tmp[k:], b[spans[i][0]:spans[i][1]])
	}
	copy(b, tmp[:k])
}
