package cachepolicy

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

var knownReasons = map[string]bool{
	ReasonStatus: true, ReasonTooManyFields: true, ReasonSetCookie: true, ReasonMalformed: true,
	ReasonNoStore: true, ReasonPrivate: true, ReasonNoCache: true, ReasonAuthorization: true,
	ReasonVary: true, ReasonNoFreshness: true, ReasonStale: true,
}

// plainRestrictive reports, without the package's parser, whether a
// quote-free Cache-Control value has a bare no-store, private or no-cache
// element: such a response must never be stored.
func plainRestrictive(cc []byte) bool {
	if bytes.IndexByte(cc, '"') >= 0 {
		return false
	}
	for _, el := range strings.Split(string(cc), ",") {
		name, _, _ := strings.Cut(el, "=")
		switch strings.ToLower(strings.Trim(name, " \t")) {
		case "no-store", "private", "no-cache":
			return true
		}
	}
	return false
}

// FuzzDecide feeds arbitrary Cache-Control, CDN-Cache-Control, Vary and Age
// values through Observe and Decide.
func FuzzDecide(f *testing.F) {
	for _, s := range [][4]string{
		{"public, max-age=60", "", "Accept-Encoding", "10"},
		{`max-age="10", private="a,b"`, "", "", ""},
		{"no-cache, s-maxage=1", "max-age=5;x=?1, y=(1 2)", "*", "1, 2"},
		{"max-age=99999999999999999999", "", "", "99999999999999999999"},
		{`x="a\"b,c", max-age=5`, "Private", "accept-encoding, cookie", "-1"},
		{"private", "max-age=60", "", ""},
		{"", `a="s", b=:aGk=:, c=1.5, d=-1`, "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	rules := Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour}
	f.Fuzz(func(t *testing.T, cc, cdn, vary, age string) {
		var r Response
		r.Reset(200)
		r.Observe([]byte("Cache-Control"), []byte(cc))
		if cdn != "" {
			r.Observe([]byte("CDN-Cache-Control"), []byte(cdn))
		}
		r.Observe([]byte("Vary"), []byte(vary))
		r.Observe([]byte("Age"), []byte(age))
		d := rules.Decide(&r, now)
		if d != rules.Decide(&r, now) {
			t.Fatal("Decide is not deterministic")
		}
		if d.Store {
			if d.Reason != "" || d.TTL < time.Second || d.TTL > time.Hour || d.TTL%time.Second != 0 || d.Age < 0 {
				t.Fatalf("bad stored decision %+v", d)
			}
			if d.FromDefault && d.Heuristic {
				t.Fatalf("two lifetime sources %+v", d)
			}
		} else if !knownReasons[d.Reason] || d != (Decision{Reason: d.Reason}) {
			t.Fatalf("bad refusal %+v", d)
		}
		if cdn == "" && plainRestrictive([]byte(cc)) && d.Store {
			t.Fatalf("stored despite %q: %+v", cc, d)
		}
	})
}

// FuzzAcceptsEncoding checks the Accept-Encoding parser's invariants.
func FuzzAcceptsEncoding(f *testing.F) {
	for _, s := range []string{"gzip;q=0.5, *;q=0", "x-gzip", ";;,,=q", `gzip;x="a,b";q=1`, "br;q=1.000, identity;q=0", "*"} {
		f.Add(s, "gzip")
		f.Add(s, "br")
	}
	f.Fuzz(func(t *testing.T, ae, coding string) {
		got := AcceptsEncoding([]byte(ae), coding)
		if strings.EqualFold(coding, "gzip") && got != AcceptsEncoding([]byte(ae), "x-gzip") {
			t.Fatal("gzip and x-gzip disagree")
		}
		if strings.Trim(ae, " \t,") == "" && got != strings.EqualFold(coding, "identity") {
			t.Fatalf("empty list: %v", got)
		}
		if !strings.ContainsAny(ae, `"\`) && httpbytes.IsToken([]byte(coding)) {
			if AcceptsEncoding([]byte(ae+", "+coding+";q=0"), coding) {
				t.Fatal("explicit q=0 did not refuse")
			}
			if AcceptsEncoding([]byte(ae+", *;q=0"), coding) && !got {
				t.Fatal("adding *;q=0 made a coding acceptable")
			}
		}
	})
}

// etagRE is an independent reading of entity-tag (RFC 9110 §8.8.3).
var etagRE = regexp.MustCompile(`^(W/)?"[\x21\x23-\x7e\x80-\xff]*"$`)

// FuzzNotModified checks the If-None-Match / If-Modified-Since logic.
func FuzzNotModified(f *testing.F) {
	f.Add(`"a", W/"b"`, `W/"b"`, "Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("*", "", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994")
	f.Add(`"a\"`, `"a\"`, "0", "")
	f.Fuzz(func(t *testing.T, inm, etag, ims, lm string) {
		got := NotModified([]byte(inm), []byte(ims), []byte(etag), []byte(lm))
		if etagRE.MatchString(etag) && !NotModified([]byte(etag), nil, []byte(etag), nil) {
			t.Fatalf("valid ETag %q does not match itself", etag)
		}
		if strings.Trim(inm, " \t") == "" {
			_, ok1 := ParseHTTPDate([]byte(strings.Trim(ims, " \t")))
			_, ok2 := ParseHTTPDate([]byte(strings.Trim(lm, " \t")))
			if got && !(ok1 && ok2) {
				t.Fatal("304 on an unparsable date")
			}
		} else if got && !strings.Contains(inm, "*") && !strings.Contains(inm, strings.TrimPrefix(strings.Trim(etag, " \t"), "W/")) {
			t.Fatalf("304 for %q against %q", inm, etag)
		}
	})
}

// FuzzParseHTTPDate checks that accepted dates round-trip through
// AppendHTTPDate and agree with the standard library where both accept.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Wed, 31 Dec 2025 23:59:60 GMT", "Thu, 29 Feb 2024 00:00:00 GMT", "0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, ok := ParseHTTPDate(b)
		if !ok {
			return
		}
		back, ok := ParseHTTPDate(AppendHTTPDate(nil, tm))
		if !ok || !back.Equal(tm) {
			t.Fatalf("%q → %v does not round-trip (%v)", b, tm, back)
		}
		// Not the RFC 850 layout: Go reads its year 69 as 1969, RFC 9110 as 2069.
		for _, layout := range []string{"Mon, 02 Jan 2006 15:04:05 GMT", time.ANSIC} {
			if std, err := time.Parse(layout, string(b)); err == nil && !std.Equal(tm) {
				t.Fatalf("%q: %v, standard library says %v", b, tm, std)
			}
		}
	})
}
