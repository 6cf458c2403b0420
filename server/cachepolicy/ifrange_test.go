package cachepolicy

import (
	"testing"
	"time"
)

func TestIfRange(t *testing.T) {
	lm := httpDate(now.Add(-time.Hour))
	later := httpDate(now)
	cases := []struct {
		name, ifRange, etag, lm, date string
		want                          bool
	}{
		{"strong match", `"a"`, `"a"`, "", "", true},
		{"OWS", ` "a" `, ` "a"`, "", "", true},
		{"strong mismatch", `"b"`, `"a"`, "", "", false},
		{"weak request", `W/"a"`, `"a"`, "", "", false},
		{"weak stored", `"a"`, `W/"a"`, "", "", false},
		{"both weak", `W/"a"`, `W/"a"`, "", "", false},
		{"no ETag", `"a"`, "", lm, later, false},
		{"malformed request tag", `"a`, `"a"`, "", "", false},
		{"a list is not an entity-tag", `"a", "b"`, `"a"`, "", "", false},
		{"case matters", `"A"`, `"a"`, "", "", false},
		{"date equals a strong Last-Modified", lm, `"a"`, lm, later, true},
		{"date, Last-Modified one second before Date", httpDate(now.Add(-time.Second)), "", httpDate(now.Add(-time.Second)), later, true},
		{"date, Last-Modified equal to Date: weak", later, "", later, later, false},
		{"date without a stored Date", lm, "", lm, "", false},
		{"date after Last-Modified", later, "", lm, later, false},
		{"date before Last-Modified", httpDate(now.Add(-2 * time.Hour)), "", lm, later, false},
		{"date without Last-Modified", lm, `"a"`, "", later, false},
		{"other date forms compare by instant", now.Add(-time.Hour).UTC().Format("Monday, 02-Jan-06 15:04:05 GMT"), "", lm, later, true},
		{"garbage", "yesterday", `"a"`, lm, later, false},
		{"empty", "", `"a"`, lm, later, false},
	}
	for _, tc := range cases {
		if got := IfRange([]byte(tc.ifRange), []byte(tc.etag), []byte(tc.lm), []byte(tc.date)); got != tc.want {
			t.Errorf("%s: IfRange(%q, %q, %q, %q) = %v, want %v", tc.name, tc.ifRange, tc.etag, tc.lm, tc.date, got, tc.want)
		}
	}
}

func TestIfRangeAllocs(t *testing.T) {
	ir, lm, date := []byte(httpDate(now.Add(-time.Hour))), []byte(httpDate(now.Add(-time.Hour))), []byte(httpDate(now))
	if n := testing.AllocsPerRun(100, func() { IfRange(ir, nil, lm, date) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
