package cachepolicy

import (
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	lm := httpDate(now.Add(-time.Hour))
	cases := []struct {
		name, inm, ims, etag, lm string
		want                     bool
	}{
		{"strong match", `"a"`, "", `"a"`, "", true},
		{"weak request, strong stored", `W/"a"`, "", `"a"`, "", true},
		{"strong request, weak stored", `"a"`, "", `W/"a"`, "", true},
		{"both weak", `W/"a"`, "", `W/"a"`, "", true},
		{"list", `"b", "a"`, "", `W/"a"`, "", true},
		{"list without spaces", `"b","a"`, "", `"a"`, "", true},
		{"list with empty members", ` , "b" ,, "a" ,`, "", `"a"`, "", true},
		{"no match", `"b", "c"`, "", `"a"`, "", false},
		{"case matters", `"A"`, "", `"a"`, "", false},
		{"comma inside tag", `"a,b"`, "", `"a,b"`, "", true},
		{"comma inside tag, partial", `"a,b"`, "", `"a"`, "", false},
		{"backslash is an ordinary etagc", `"a\"`, "", `"a\"`, "", true},
		{"empty tag", `""`, "", `""`, "", true},
		{"OWS around stored ETag", `"a"`, "", ` "a" `, "", true},
		{"star", "*", "", `"x"`, "", true},
		{"star without ETag: a stored response exists", "*", "", "", "", true},
		{"star in a list is malformed", `"b", *`, "", `"x"`, "", false},
		{"no ETag", `"a"`, "", "", lm, false},
		{"unquoted stored ETag taken as quoted", `a`, "", `a`, "", true},
		{"unquoted stored, quoted request", `"a"`, "", `a`, "", true},
		{"unquoted stored, other tag", `"b", c`, "", `a`, "", false},
		{"unquoted request tag taken as quoted", `b, a`, "", `"a"`, "", true},
		{"lower-case w/ read as W/", `w/"a"`, "", `"a"`, "", true},
		{"quote inside an unquoted tag", `a"b`, "", `"a"`, "", false},
		{"unterminated tag", `"a`, "", `"a"`, "", false},
		{"junk after tag", `"b"x, "a"`, "", `"a"`, "", false},
		{"match before junk", `"a", junk`, "", `"a"`, "", true},
		{"control byte in tag", "\"a\x01\"", "", "\"a\x01\"", "", false},
		{"If-None-Match beats If-Modified-Since", `"b"`, httpDate(now), `"a"`, lm, false},
		{"If-None-Match mismatch, no IMS fallback", `"b"`, httpDate(now), "", lm, false},
		{"IMS after LM", "", httpDate(now), "", lm, true},
		{"IMS equal to LM", "", lm, "", lm, true},
		{"IMS before LM", "", httpDate(now.Add(-2 * time.Hour)), "", lm, false},
		{"IMS RFC 850", "", now.Format("Monday, 02-Jan-06 15:04:05 GMT"), "", lm, true},
		{"IMS asctime", "", now.Format(time.ANSIC), "", lm, true},
		{"IMS garbage", "", "garbage", "", lm, false},
		{"IMS two dates", "", httpDate(now) + ", " + httpDate(now), "", lm, false},
		{"no Last-Modified", "", httpDate(now), `"a"`, "", false},
		{"Last-Modified garbage", "", httpDate(now), "", "yesterday", false},
		{"nothing", "", "", `"a"`, lm, false},
		{"whitespace-only If-None-Match is absent", "  ", httpDate(now), "", lm, true},
	}
	for _, tc := range cases {
		if got := NotModified([]byte(tc.inm), []byte(tc.ims), []byte(tc.etag), []byte(tc.lm)); got != tc.want {
			t.Errorf("%s: NotModified(%q, %q, %q, %q) = %v", tc.name, tc.inm, tc.ims, tc.etag, tc.lm, got)
		}
	}
}
