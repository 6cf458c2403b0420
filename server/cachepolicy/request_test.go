package cachepolicy

import "testing"

func TestParseRequest(t *testing.T) {
	lines := func(v ...string) [][]byte {
		var out [][]byte
		for _, s := range v {
			out = append(out, []byte(s))
		}
		return out
	}
	tests := []struct {
		cc, pragma []string
		want       Request
	}{
		{nil, nil, Request{MaxAge: -1, MinFresh: -1, MaxStale: -1}},
		{[]string{"nothing-to-see-here"}, []string{"foo"}, Request{MaxAge: -1, MinFresh: -1, MaxStale: -1}},
		{[]string{"max-age=0"}, nil, Request{Any: true, MaxAge: 0, MinFresh: -1, MaxStale: -1}},
		{[]string{"MAX-AGE=5, min-fresh=10", "max-stale"}, nil, Request{Any: true, MaxAge: 5, MinFresh: 10, MaxStale: MaxStaleAny}},
		{[]string{`max-stale="7"`, "no-store", "only-if-cached"}, nil, Request{Any: true, NoStore: true, OnlyIfCached: true, MaxAge: -1, MinFresh: -1, MaxStale: 7}},
		{[]string{"max-age=x, min-fresh=-1"}, nil, Request{MaxAge: -1, MinFresh: -1, MaxStale: -1}},
		{nil, []string{"no-cache"}, Request{Any: true, NoCache: true, MaxAge: -1, MinFresh: -1, MaxStale: -1}},
		// Pragma counts only without Cache-Control (RFC 9111 §5.4).
		{[]string{"max-age=60"}, []string{"no-cache"}, Request{Any: true, MaxAge: 60, MinFresh: -1, MaxStale: -1}},
		// An unreadable element is skipped, the rest still read.
		{[]string{"a b, no-cache"}, nil, Request{Any: true, NoCache: true, MaxAge: -1, MinFresh: -1, MaxStale: -1}},
	}
	for _, tc := range tests {
		if got := ParseRequest(lines(tc.cc...), lines(tc.pragma...)); got != tc.want {
			t.Errorf("cc %q pragma %q: got %+v, want %+v", tc.cc, tc.pragma, got, tc.want)
		}
	}
	cc := lines("max-age=5, no-cache", "max-stale=9")
	if n := testing.AllocsPerRun(100, func() { ParseRequest(cc, nil) }); n != 0 {
		t.Errorf("ParseRequest: %v allocations", n)
	}
}

func TestRequestAcceptable(t *testing.T) {
	q := Request{MaxAge: 10, MinFresh: -1, MaxStale: 5}
	for _, tc := range []struct {
		age, rem int64
		staleOK  bool
		want     bool
	}{
		{5, 100, true, true},
		{11, 100, true, false}, // older than max-age
		{5, -3, true, true},    // stale within max-stale
		{5, -6, true, false},   // beyond max-stale
		{5, -3, false, false},  // the response forbids stale
	} {
		if got := q.Acceptable(tc.age, tc.rem, tc.staleOK); got != tc.want {
			t.Errorf("age %d rem %d staleOK %v: %v", tc.age, tc.rem, tc.staleOK, got)
		}
	}
	nc := Request{NoCache: true, MaxAge: -1, MinFresh: 20, MaxStale: -1}
	if nc.Acceptable(0, 100, true) {
		t.Error("no-cache accepted a fresh page")
	}
	mf := Request{MaxAge: -1, MinFresh: 20, MaxStale: -1}
	if mf.Acceptable(0, 19, true) || !mf.Acceptable(0, 20, true) {
		t.Error("min-fresh")
	}
}
