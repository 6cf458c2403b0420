package cachepolicy

import (
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	rfcExample := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time // zero: must be rejected
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", rfcExample},
		{"Sunday, 06-Nov-94 08:49:37 GMT", rfcExample},
		{"Sun Nov  6 08:49:37 1994", rfcExample},
		{"Sun Nov 06 08:49:37 1994", rfcExample},
		{"Mon, 06 Nov 1994 08:49:37 GMT", rfcExample}, // wrong day name: not checked
		{"Thu, 29 Feb 2024 00:00:00 GMT", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"Sat, 01 Jan 0000 00:00:00 GMT", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Wed, 31 Dec 2025 23:59:60 GMT", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Thursday, 01-Jan-70 00:00:00 GMT", time.Unix(0, 0).UTC()},
		{"Wednesday, 31-Dec-69 00:00:00 GMT", time.Date(2069, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"Friday, 02-Jan-26 03:04:05 GMT", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"Fri Jan  2 03:04:05 2026", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		// rejected
		{"", time.Time{}},
		{"0", time.Time{}},
		{"-1", time.Time{}},
		{" Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", time.Time{}},
		{"sun, 06 Nov 1994 08:49:37 GMT", time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)}, // names in any case
		{"SUN, 06 nov 1994 08:49:37 gmt", time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)},
		{"Xyz, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 +0000", time.Time{}},
		{"Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 32 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 31 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Thu, 29 Feb 2023 00:00:00 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:60:00 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:61 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08-49-37 GMT", time.Time{}},
		{"Sun, 06 Nov 19x4 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:4a:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 +8:49:37 GMT", time.Time{}},
		{"Sun, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", time.Time{}},
		{"Sunday, 06 Nov 94 08:49:37 GMT", time.Time{}},
		{"Sundae, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sun Nov 6 08:49:37 1994", time.Time{}},
		{"Sun Nov  6 08:49:37 94  ", time.Time{}},
		{"Sun Nov 6  08:49:37 1994", time.Time{}},
		{"Sun,Nov  6 08:49:37 1994", time.Time{}},
	}
	for _, tc := range cases {
		got, ok := ParseHTTPDate([]byte(tc.in))
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseHTTPDate(%q) not in UTC", tc.in)
		}
	}
}

func TestAppendHTTPDate(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), "Sun, 06 Nov 1994 08:49:37 GMT"},
		{time.Date(1994, 11, 6, 9, 49, 37, 999, time.FixedZone("CET", 3600)), "Sun, 06 Nov 1994 08:49:37 GMT"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "Fri, 02 Jan 2026 03:04:05 GMT"},
		{time.Date(5, 2, 3, 4, 5, 6, 0, time.UTC), "Thu, 03 Feb 0005 04:05:06 GMT"},
		{time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "Fri, 31 Dec 9999 23:59:59 GMT"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "Sat, 01 Jan 0000 00:00:00 GMT"},
	}
	for _, tc := range cases {
		if got := string(AppendHTTPDate([]byte("x"), tc.t)); got != "x"+tc.want {
			t.Errorf("AppendHTTPDate(%v) = %q, want %q", tc.t, got, "x"+tc.want)
		}
	}
	// Against the standard library over a spread of instants.
	for sec := int64(-62135596800); sec < 253402300800; sec += 7777777 {
		tm := time.Unix(sec, 0)
		if got, want := string(AppendHTTPDate(nil, tm)), httpDate(tm); got != want {
			t.Fatalf("AppendHTTPDate(%d) = %q, want %q", sec, got, want)
		}
	}
}
