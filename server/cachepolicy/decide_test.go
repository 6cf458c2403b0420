package cachepolicy

import (
	"testing"
	"time"
)

func stored(ttl time.Duration) Decision { return Decision{Store: true, TTL: ttl} }
func refused(reason string) Decision    { return Decision{Reason: reason} }

type decideCase struct {
	name   string
	rules  Rules
	status int
	auth   bool
	fields []string
	want   Decision
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rules.Decide(response(tc.status, tc.auth, tc.fields...), now)
			got.Stale = Stale{} // TestResponseStale covers it
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

var (
	lenient = Rules{DefaultTTL: 2 * time.Minute}
	strict  = Rules{}
	capped  = Rules{DefaultTTL: 2 * time.Minute, MaxTTL: time.Hour}
)

func TestDecideStatus(t *testing.T) {
	ma := "Cache-Control: max-age=60"
	runDecide(t, []decideCase{
		{"200 without freshness gets DefaultTTL", lenient, 200, false, nil, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"203 without freshness gets DefaultTTL", lenient, 203, false, nil, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"404 without freshness gets DefaultTTL", lenient, 404, false, nil, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"501 without freshness gets DefaultTTL", lenient, 501, false, nil, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"302 without freshness", lenient, 302, false, nil, refused(ReasonStatus)},
		{"400 without freshness", lenient, 400, false, nil, refused(ReasonStatus)},
		{"500 without freshness", lenient, 500, false, nil, refused(ReasonStatus)},
		{"404 with Last-Modified, strict: heuristic", strict, 404, false,
			[]string{"Date: " + httpDate(now), "Last-Modified: " + httpDate(now.Add(-100*time.Hour))}, Decision{Store: true, TTL: 10 * time.Hour, Heuristic: true}},
		{"307 with Last-Modified, strict: not heuristically cacheable", strict, 307, false,
			[]string{"Date: " + httpDate(now), "Last-Modified: " + httpDate(now.Add(-100*time.Hour))}, refused(ReasonStatus)},
		{"must-understand overrides no-store for a known status", lenient, 200, false, []string{"Cache-Control: max-age=60, no-store, must-understand"}, stored(time.Minute)},
		{"must-understand with an unknown status", lenient, 299, false, []string{"Cache-Control: max-age=60, no-store, must-understand"}, refused(ReasonStatus)},
		{"must-understand keeps private", lenient, 200, false, []string{"Cache-Control: max-age=60, private, must-understand"}, refused(ReasonPrivate)},
		{"204 max-age", lenient, 204, false, []string{ma}, stored(time.Minute)},
		{"301 s-maxage", lenient, 301, false, []string{"Cache-Control: s-maxage=60"}, stored(time.Minute)},
		{"404 max-age", lenient, 404, false, []string{ma}, stored(time.Minute)},
		{"410 Expires", lenient, 410, false, []string{"Date: " + httpDate(now), "Expires: " + httpDate(now.Add(time.Minute))}, stored(time.Minute)},
		{"499 max-age", lenient, 499, false, []string{ma}, stored(time.Minute)},
		{"206 never", lenient, 206, false, []string{ma}, refused(ReasonStatus)},
		{"304 never", lenient, 304, false, []string{ma}, refused(ReasonStatus)},
		{"100 never", lenient, 100, false, []string{ma}, refused(ReasonStatus)},
		{"101 never", lenient, 101, false, []string{ma}, refused(ReasonStatus)},
		{"199 never", lenient, 199, false, []string{ma}, refused(ReasonStatus)},
		{"500 max-age", lenient, 500, false, []string{ma + ", stale-while-revalidate=60"}, stored(time.Minute)},
		{"503 max-age", lenient, 503, false, []string{ma}, stored(time.Minute)},
		{"599 max-age", lenient, 599, false, []string{ma}, stored(time.Minute)},
		{"600 never", lenient, 600, false, []string{ma}, refused(ReasonStatus)},
		{"0 never", lenient, 0, false, []string{ma}, refused(ReasonStatus)},
		{"negative never", lenient, -200, false, []string{ma}, refused(ReasonStatus)},
	})
}

func TestDecideNeverStored(t *testing.T) {
	ma := "Cache-Control: public, max-age=60"
	runDecide(t, []decideCase{
		{"set-cookie", lenient, 200, false, []string{ma, "Set-Cookie: a=1"}, refused(ReasonSetCookie)},
		{"set-cookie lower case, empty value", lenient, 200, false, []string{"set-cookie:", ma}, refused(ReasonSetCookie)},
		{"set-cookie2", lenient, 200, false, []string{ma, "SET-COOKIE2: a=1"}, refused(ReasonSetCookie)},
		{"set-cookie with CDN-Cache-Control", lenient, 200, false, []string{"CDN-Cache-Control: max-age=60", "Set-Cookie: a=1"}, refused(ReasonSetCookie)},
		{"private", lenient, 200, false, []string{"Cache-Control: private"}, refused(ReasonPrivate)},
		{"PRIVATE upper case", lenient, 200, false, []string{"Cache-Control: PRIVATE, max-age=60"}, refused(ReasonPrivate)},
		{"private=field", lenient, 200, false, []string{`Cache-Control: private="Set-Cookie", max-age=60`}, refused(ReasonPrivate)},
		{"private=field list", lenient, 200, false, []string{`Cache-Control: max-age=60, private="a, b"`}, refused(ReasonPrivate)},
		{"private in second line", lenient, 200, false, []string{ma, "Cache-Control: private"}, refused(ReasonPrivate)},
		{"no-store", lenient, 200, false, []string{"Cache-Control: no-store"}, refused(ReasonNoStore)},
		{"no-store last in list", lenient, 200, false, []string{"Cache-Control: public, max-age=60,no-store"}, refused(ReasonNoStore)},
		{"no-store beats private", lenient, 200, false, []string{"Cache-Control: private, no-store"}, refused(ReasonNoStore)},
		{"no-cache", lenient, 200, false, []string{"Cache-Control: no-cache"}, refused(ReasonNoCache)},
		{"no-cache=field", lenient, 200, false, []string{`Cache-Control: no-cache="Set-Cookie", max-age=60`}, refused(ReasonNoCache)},
		{"no-cache=token field", lenient, 200, false, []string{`Cache-Control: max-age=60, No-Cache=X-Foo`}, refused(ReasonNoCache)},
		{"vary star", lenient, 200, false, []string{ma, "Vary: *"}, refused(ReasonVary)},
		{"vary star among others", lenient, 200, false, []string{ma, "Vary: Foo, *"}, refused(ReasonVary)},
		{"vary star on a second line", lenient, 200, false, []string{ma, "Vary: Foo", "Vary: *"}, refused(ReasonVary)},
		{"vary too many names", lenient, 200, false, []string{ma, "Vary: a, b, c, d, e, f, g, h, i"}, refused(ReasonVary)},
		{"vary with parameters is not Accept-Encoding", lenient, 200, false, []string{ma, "Vary: Accept-Encoding;x"}, refused(ReasonVary)},
		{"too many Cache-Control lines", lenient, 200, false, repeat("Cache-Control: public", MaxRepeatedFields+1), refused(ReasonTooManyFields)},
		{"too many Vary lines", lenient, 200, false, repeat("Vary: Accept-Encoding", MaxRepeatedFields+1), refused(ReasonTooManyFields)},
		{"too many CDN lines", lenient, 200, false, repeat("CDN-Cache-Control: public", MaxRepeatedFields+1), refused(ReasonTooManyFields)},
		{"malformed: name not a token", lenient, 200, false, []string{"Cache-Control: public; max-age=60"}, refused(ReasonMalformed)},
		{"malformed: space in name", lenient, 200, false, []string{"Cache-Control: no store"}, refused(ReasonMalformed)},
		{"malformed: unterminated quote hides no-store", lenient, 200, false, []string{`Cache-Control: max-age=60, foo="x, no-store`}, refused(ReasonMalformed)},
		{"malformed: stray quote in value", lenient, 200, false, []string{`Cache-Control: max-age=60, foo=a"b`}, refused(ReasonMalformed)},
		{"malformed: control byte", lenient, 200, false, []string{"Cache-Control: max-age=60, foo=a\x01b"}, refused(ReasonMalformed)},
		{"malformed: empty name", lenient, 200, false, []string{"Cache-Control: =60"}, refused(ReasonMalformed)},
	})
}

func TestDecideAccepted(t *testing.T) {
	runDecide(t, []decideCase{
		{"exactly MaxRepeatedFields lines", lenient, 200, false, repeat("Cache-Control: public", MaxRepeatedFields), Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"vary accept-encoding", lenient, 200, false, []string{"Cache-Control: max-age=60", "Vary: accept-encoding"}, Decision{Store: true, TTL: time.Minute, VaryAcceptEncoding: true}},
		{"vary accept-encoding twice, empty members", lenient, 200, false, []string{"Vary: , Accept-Encoding ,", "VARY: ACCEPT-ENCODING"}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true, VaryAcceptEncoding: true}},
		{"vary user-agent", lenient, 200, false, []string{"Cache-Control: max-age=60", "Vary: User-Agent"}, Decision{Store: true, TTL: time.Minute, Vary: true}},
		{"vary list with other", lenient, 200, false, []string{"Cache-Control: max-age=60", "Vary: Accept-Encoding, Cookie"}, Decision{Store: true, TTL: time.Minute, VaryAcceptEncoding: true, Vary: true}},
		{"vary repeated lines with other", lenient, 200, false, []string{"Cache-Control: max-age=60", "Vary: Accept-Encoding", "vary: Origin"}, Decision{Store: true, TTL: time.Minute, VaryAcceptEncoding: true, Vary: true}},
		{"vary eight names", lenient, 200, false, []string{"Cache-Control: max-age=60", "Vary: a, b, c, d, e, f, g, A, h, accept-encoding"}, Decision{Store: true, TTL: time.Minute, VaryAcceptEncoding: true, Vary: true}},
		{"empty vary", lenient, 200, false, []string{"Vary:"}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"revalidation directives parse", lenient, 200, false,
			[]string{"Cache-Control: must-revalidate, proxy-revalidate, public, immutable, stale-while-revalidate=30, stale-if-error=600, no-transform, max-age=5"}, stored(5 * time.Second)},
		{"unknown extensions with odd values", lenient, 200, false, []string{`Cache-Control: community="UCI", foo=a/b, bar, max-age=5`}, stored(5 * time.Second)},
		{"quoted-string with escaped quote and comma", lenient, 200, false, []string{`Cache-Control: x="a\"b,c", max-age=5`}, stored(5 * time.Second)},
		{"empty list members", lenient, 200, false, []string{"Cache-Control: ,, max-age=5 ,,"}, stored(5 * time.Second)},
		{"OWS around =", lenient, 200, false, []string{"Cache-Control: max-age = 5"}, stored(5 * time.Second)},
		{"names case-insensitive", lenient, 200, false, []string{"CACHE-CONTROL: MAX-AGE=7"}, stored(7 * time.Second)},
		{"public alone uses DefaultTTL", lenient, 200, false, []string{"Cache-Control: public"}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
	})
}

func TestDecideCDNCacheControl(t *testing.T) {
	runDecide(t, []decideCase{
		{"replaces max-age", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=600"}, stored(10 * time.Minute)},
		{"replaces s-maxage", lenient, 200, false, []string{"Cache-Control: s-maxage=60", "CDN-Cache-Control: max-age=600"}, stored(10 * time.Minute)},
		{"its no-store wins over public", lenient, 200, false, []string{"Cache-Control: public, max-age=60", "CDN-Cache-Control: no-store"}, refused(ReasonNoStore)},
		{"overrides Cache-Control private", lenient, 200, false, []string{"Cache-Control: private", "CDN-Cache-Control: max-age=60"}, stored(time.Minute)},
		{"overrides Cache-Control no-store", lenient, 200, false, []string{"Cache-Control: no-store", "CDN-Cache-Control: public"}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"overrides malformed Cache-Control", lenient, 200, false, []string{"Cache-Control: public; x", "CDN-Cache-Control: max-age=60"}, stored(time.Minute)},
		{"private", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=60, private"}, refused(ReasonPrivate)},
		{"second line private", lenient, 200, false, []string{"CDN-Cache-Control: max-age=60", "CDN-Cache-Control: private"}, refused(ReasonPrivate)},
		{"s-maxage beats max-age", lenient, 200, false, []string{"CDN-Cache-Control: max-age=10, s-maxage=20"}, stored(20 * time.Second)},
		{"string value ignored", lenient, 200, false, []string{`CDN-Cache-Control: max-age="30"`}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"parameters ignored", lenient, 200, false, []string{"CDN-Cache-Control: max-age=60;foo=1;bar, swr=?1"}, stored(time.Minute)},
		// RFC 9213 §2.1: a member of the wrong type is ignored; with none
		// left, Cache-Control governs.
		{"negative integer ignored", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=-1"}, stored(time.Minute)},
		{"decimal ignored", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=1.5"}, stored(time.Minute)},
		{"inner list ignored", lenient, 200, false, []string{"CDN-Cache-Control: max-age=(1 2)"}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"string ignored, Cache-Control no-store governs", lenient, 200, false, []string{`CDN-Cache-Control: max-age="10000"`, "Cache-Control: no-store"}, refused(ReasonNoStore)},
		{"boolean false public ignored", lenient, 200, true, []string{"CDN-Cache-Control: max-age=60, public=?0"}, refused(ReasonAuthorization)},
		{"empty field ignored", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control:  "}, stored(time.Minute)},
		{"unparsable (upper-case key) ignored", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: Max-Age=600"}, stored(time.Minute)},
		{"unparsable (trailing comma) ignored", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=600,"}, stored(time.Minute)},
		{"unparsable (16-digit integer) ignored", lenient, 200, false, []string{"Cache-Control: max-age=5", "CDN-Cache-Control: max-age=9999999999999999"}, stored(5 * time.Second)},
		{"unparsable but Private still refuses", lenient, 200, false, []string{"Cache-Control: public, max-age=60", "CDN-Cache-Control: Private"}, refused(ReasonPrivate)},
		{"unparsable but NO-STORE still refuses", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: NO-STORE, max-age=5,"}, refused(ReasonNoStore)},
		{"one bad line invalidates the field", lenient, 200, false, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=600", "CDN-Cache-Control: x=\"unterminated"}, stored(time.Minute)},
	})
}

func TestDecideAuthorization(t *testing.T) {
	runDecide(t, []decideCase{
		{"max-age alone", lenient, 200, true, []string{"Cache-Control: max-age=60"}, refused(ReasonAuthorization)},
		{"no directives, DefaultTTL", lenient, 200, true, nil, refused(ReasonAuthorization)},
		{"proxy-revalidate is not enough", lenient, 200, true, []string{"Cache-Control: proxy-revalidate, max-age=60"}, refused(ReasonAuthorization)},
		{"public", lenient, 200, true, []string{"Cache-Control: public, max-age=60"}, stored(time.Minute)},
		{"must-revalidate", lenient, 200, true, []string{"Cache-Control: must-revalidate, max-age=60"}, stored(time.Minute)},
		{"s-maxage", lenient, 200, true, []string{"Cache-Control: s-maxage=60"}, stored(time.Minute)},
		{"invalid s-maxage still counts as present, then stale", lenient, 200, true, []string{"Cache-Control: s-maxage=x"}, refused(ReasonStale)},
		{"public in ignored Cache-Control doesn't count", lenient, 200, true, []string{"Cache-Control: public", "CDN-Cache-Control: max-age=60"}, refused(ReasonAuthorization)},
		{"public in CDN-Cache-Control", lenient, 200, true, []string{"CDN-Cache-Control: public, max-age=60"}, stored(time.Minute)},
	})
}

func TestDecideFreshnessSources(t *testing.T) {
	date := "Date: " + httpDate(now.Add(-time.Hour))
	runDecide(t, []decideCase{
		{"max-age", strict, 200, false, []string{"Cache-Control: max-age=60"}, stored(time.Minute)},
		{"s-maxage beats max-age", strict, 200, false, []string{"Cache-Control: max-age=60, s-maxage=120"}, stored(2 * time.Minute)},
		{"s-maxage beats max-age, other order", strict, 200, false, []string{"Cache-Control: s-maxage=120", "Cache-Control: max-age=60"}, stored(2 * time.Minute)},
		{"max-age beats Expires", strict, 200, false, []string{"Expires: " + httpDate(now.Add(time.Hour)), "Cache-Control: max-age=60"}, stored(time.Minute)},
		{"max-age beats invalid Expires", strict, 200, false, []string{"Expires: 0", "Cache-Control: max-age=60"}, stored(time.Minute)},
		{"max-age beats DefaultTTL", lenient, 200, false, []string{"Cache-Control: max-age=600"}, stored(10 * time.Minute)},
		{"Expires minus Date", strict, 200, false, []string{date, "Expires: " + httpDate(now.Add(-time.Hour+5*time.Minute))}, stored(5 * time.Minute)},
		{"Expires minus now without Date", strict, 200, false, []string{"Expires: " + httpDate(now.Add(5*time.Minute))}, stored(5 * time.Minute)},
		{"Expires minus now with invalid Date", strict, 200, false, []string{"Date: yesterday", "Expires: " + httpDate(now.Add(5*time.Minute))}, stored(5 * time.Minute)},
		{"Expires in RFC 850 form", strict, 200, false, []string{"Expires: " + now.Add(5*time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT")}, stored(5 * time.Minute)},
		{"Expires beats DefaultTTL", lenient, 200, false, []string{"Expires: " + httpDate(now.Add(10*time.Minute))}, stored(10 * time.Minute)},
		{"Expires beats heuristic", strict, 200, false, []string{"Last-Modified: " + httpDate(now.Add(-1000*time.Hour)), "Expires: " + httpDate(now.Add(10*time.Minute))}, stored(10 * time.Minute)},
		{"Expires equal to Date", strict, 200, false, []string{date, "Expires: " + httpDate(now.Add(-time.Hour))}, refused(ReasonStale)},
		{"Expires in the past", lenient, 200, false, []string{"Expires: " + httpDate(now.Add(-time.Minute))}, refused(ReasonStale)},
		{"Expires 0", lenient, 200, false, []string{"Expires: 0"}, refused(ReasonStale)},
		{"Expires -1", lenient, 200, false, []string{"Expires: -1"}, refused(ReasonStale)},
		{"Expires empty", lenient, 200, false, []string{"Expires:"}, refused(ReasonStale)},
		{"two Expires", lenient, 200, false, []string{"Expires: " + httpDate(now.Add(time.Hour)), "Expires: " + httpDate(now.Add(time.Hour))}, refused(ReasonStale)},
		{"Expires far future clamps to 2^31 s", strict, 200, false, []string{"Expires: Fri, 31 Dec 9999 23:59:59 GMT"}, stored((1 << 31) * time.Second)},
		{"Expires year 0001 is stale", strict, 200, false, []string{"Expires: Mon, 01 Jan 0001 00:00:00 GMT"}, refused(ReasonStale)},
		{"DefaultTTL", lenient, 200, false, nil, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"DefaultTTL beats heuristic", lenient, 200, false, []string{"Last-Modified: " + httpDate(now.Add(-1000*time.Hour))}, Decision{Store: true, TTL: 2 * time.Minute, FromDefault: true}},
		{"strict without anything", strict, 200, false, []string{"Cache-Control: public"}, refused(ReasonNoFreshness)},
		{"strict with invalid Last-Modified", strict, 200, false, []string{"Last-Modified: last tuesday"}, refused(ReasonNoFreshness)},
		{"heuristic: 10% of Date - Last-Modified", strict, 200, false,
			[]string{date, "Last-Modified: " + httpDate(now.Add(-101*time.Hour))}, Decision{Store: true, TTL: 10 * time.Hour, Heuristic: true}},
		{"heuristic without Date uses now", strict, 200, false,
			[]string{"Last-Modified: " + httpDate(now.Add(-100*time.Hour))}, Decision{Store: true, TTL: 10 * time.Hour, Heuristic: true}},
		{"heuristic truncated to seconds", strict, 200, false,
			[]string{"Last-Modified: " + httpDate(now.Add(-15*time.Second))}, Decision{Store: true, TTL: time.Second, Heuristic: true}},
		{"heuristic under a second", strict, 200, false, []string{"Last-Modified: " + httpDate(now.Add(-5*time.Second))}, refused(ReasonStale)},
		{"Last-Modified after Date", strict, 200, false, []string{date, "Last-Modified: " + httpDate(now)}, refused(ReasonStale)},
		{"heuristic minus Age", strict, 200, false,
			[]string{"Last-Modified: " + httpDate(now.Add(-100*time.Hour)), "Age: 3600"}, Decision{Store: true, TTL: 9 * time.Hour, Age: time.Hour, Heuristic: true}},
	})
}

func TestDecideInvalidFreshness(t *testing.T) {
	runDecide(t, []decideCase{
		{"max-age=0", lenient, 200, false, []string{"Cache-Control: max-age=0"}, refused(ReasonStale)},
		{"s-maxage=0 beats max-age", lenient, 200, false, []string{"Cache-Control: max-age=60, s-maxage=0"}, refused(ReasonStale)},
		{"quoted max-age", lenient, 200, false, []string{`Cache-Control: max-age="30"`}, stored(30 * time.Second)},
		{"quoted empty max-age", lenient, 200, false, []string{`Cache-Control: max-age=""`}, refused(ReasonStale)},
		{"max-age without value", lenient, 200, false, []string{"Cache-Control: max-age"}, refused(ReasonStale)},
		{"max-age empty value", lenient, 200, false, []string{"Cache-Control: max-age="}, refused(ReasonStale)},
		{"max-age letters", lenient, 200, false, []string{"Cache-Control: max-age=abc"}, refused(ReasonStale)},
		{"max-age negative", lenient, 200, false, []string{"Cache-Control: max-age=-5"}, refused(ReasonStale)},
		{"max-age plus sign", lenient, 200, false, []string{"Cache-Control: max-age=+5"}, refused(ReasonStale)},
		{"max-age fraction", lenient, 200, false, []string{"Cache-Control: max-age=10.5"}, refused(ReasonStale)},
		{"max-age then junk", lenient, 200, false, []string{"Cache-Control: max-age=60; public"}, refused(ReasonStale)},
		{"max-age twice, different", lenient, 200, false, []string{"Cache-Control: max-age=30, max-age=60"}, stored(30 * time.Second)}, // the first occurrence decides
		{"max-age twice across lines", lenient, 200, false, []string{"Cache-Control: max-age=30", "Cache-Control: max-age=60"}, stored(30 * time.Second)},
		{"max-age twice, same value", lenient, 200, false, []string{"Cache-Control: max-age=30", "Cache-Control: max-age=30"}, stored(30 * time.Second)},
		{"max-age valid then invalid", lenient, 200, false, []string{"Cache-Control: max-age=30, max-age=x"}, stored(30 * time.Second)},
		{"max-age invalid then valid", lenient, 200, false, []string{"Cache-Control: max-age=x, max-age=30"}, refused(ReasonStale)},
		{"max-age invalid then valid", lenient, 200, false, []string{"Cache-Control: max-age=x, max-age=30"}, refused(ReasonStale)},
		{"invalid max-age is not rescued by Expires", lenient, 200, false, []string{"Cache-Control: max-age=x", "Expires: " + httpDate(now.Add(time.Hour))}, refused(ReasonStale)},
		{"invalid max-age is not rescued by DefaultTTL", lenient, 200, false, []string{"Cache-Control: max-age=x"}, refused(ReasonStale)},
		{"invalid s-maxage beats valid max-age", lenient, 200, false, []string{"Cache-Control: s-maxage=x, max-age=60"}, refused(ReasonStale)},
		{"valid s-maxage ignores invalid max-age", lenient, 200, false, []string{"Cache-Control: s-maxage=60, max-age=x"}, stored(time.Minute)},
		{"huge max-age clamps to 2^31 s", strict, 200, false, []string{"Cache-Control: max-age=99999999999999999999999999999"}, stored((1 << 31) * time.Second)},
		{"2^31+1 clamps", strict, 200, false, []string{"Cache-Control: max-age=2147483649"}, stored((1 << 31) * time.Second)},
		{"huge max-age minus Age", strict, 200, false, []string{"Cache-Control: max-age=99999999999999999999999999999", "Age: 10"}, Decision{Store: true, TTL: ((1 << 31) - 10) * time.Second, Age: 10 * time.Second}},
	})
}

func TestDecideAgeAndCaps(t *testing.T) {
	runDecide(t, []decideCase{
		{"Age subtracted", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 40"}, Decision{Store: true, TTL: 60 * time.Second, Age: 40 * time.Second}},
		{"Age with parameters", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 40;foo=bar"}, Decision{Store: true, TTL: 60 * time.Second, Age: 40 * time.Second}},
		{"Age with a numeric parameter", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 40;3600"}, Decision{Store: true, TTL: 60 * time.Second, Age: 40 * time.Second}},
		{"Age subtracted from Expires", strict, 200, false, []string{"Expires: " + httpDate(now.Add(100*time.Second)), "Age: 40"}, Decision{Store: true, TTL: 60 * time.Second, Age: 40 * time.Second}},
		{"Age subtracted from DefaultTTL", lenient, 200, false, []string{"Age: 30"}, Decision{Store: true, TTL: 90 * time.Second, Age: 30 * time.Second, FromDefault: true}},
		{"Age equal to lifetime", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 100"}, refused(ReasonStale)},
		{"Age beyond lifetime", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 200"}, refused(ReasonStale)},
		{"Age huge", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 999999999999999999999"}, refused(ReasonStale)},
		{"Age invalid ignored", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: abc"}, stored(100 * time.Second)},
		{"Age negative ignored", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: -40"}, stored(100 * time.Second)},
		{"Age quoted ignored", strict, 200, false, []string{"Cache-Control: max-age=100", `Age: "40"`}, stored(100 * time.Second)},
		{"Age list: first member", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 10, 50"}, Decision{Store: true, TTL: 90 * time.Second, Age: 10 * time.Second}},
		{"Age lines: first line", strict, 200, false, []string{"Cache-Control: max-age=100", "Age: 10", "age: 50"}, Decision{Store: true, TTL: 90 * time.Second, Age: 10 * time.Second}},
		{"MaxTTL caps max-age", capped, 200, false, []string{"Cache-Control: max-age=99999"}, stored(time.Hour)},
		{"MaxTTL caps s-maxage", capped, 200, false, []string{"Cache-Control: s-maxage=99999"}, stored(time.Hour)},
		{"MaxTTL caps Expires", capped, 200, false, []string{"Expires: " + httpDate(now.Add(48*time.Hour))}, stored(time.Hour)},
		{"MaxTTL caps DefaultTTL", Rules{DefaultTTL: 2 * time.Hour, MaxTTL: time.Hour}, 200, false, nil, Decision{Store: true, TTL: time.Hour, FromDefault: true}},
		{"MaxTTL caps heuristic", Rules{MaxTTL: time.Hour}, 200, false, []string{"Last-Modified: " + httpDate(now.Add(-1000*time.Hour))}, Decision{Store: true, TTL: time.Hour, Heuristic: true}},
		{"MaxTTL caps what remains after Age", capped, 200, false, []string{"Cache-Control: max-age=7200", "Age: 600"}, Decision{Store: true, TTL: time.Hour, Age: 10 * time.Minute}},
		{"below MaxTTL after Age", capped, 200, false, []string{"Cache-Control: max-age=3700", "Age: 200"}, Decision{Store: true, TTL: 3500 * time.Second, Age: 200 * time.Second}},
		{"MaxTTL under a second", Rules{MaxTTL: time.Second / 2}, 200, false, []string{"Cache-Control: max-age=60"}, refused(ReasonStale)},
	})
}

// TestObserve checks what Observe keeps: name case, value trimming, first
// line wins for Date, and Reset clearing earlier state.
func TestObserve(t *testing.T) {
	r := response(200, true, "Set-Cookie: a=1", "Cache-Control: no-store", "Vary: *")
	r.Reset(200)
	if got := strict.Decide(r, now); got != refused(ReasonNoFreshness) {
		t.Errorf("after Reset: %+v", got)
	}
	r = response(200, false, "  DATE \t:x") // name with spaces is not "date"
	r.Observe([]byte("Expires"), []byte(" \t"+httpDate(now.Add(time.Minute))+" \t"))
	r.Observe([]byte("dAtE"), []byte(httpDate(now.Add(-time.Minute))))
	r.Observe([]byte("Date"), []byte(httpDate(now.Add(-time.Hour))))
	if got := strict.Decide(r, now); got != stored(2*time.Minute) {
		t.Errorf("Date/Expires: %+v", got)
	}
	r = response(200, false, "Last-Modified: "+httpDate(now.Add(-10*time.Hour)), "Last-Modified: "+httpDate(now.Add(-1000*time.Hour)))
	if got := strict.Decide(r, now); got != (Decision{Store: true, TTL: time.Hour, Heuristic: true}) {
		t.Errorf("first Last-Modified: %+v", got)
	}
}
