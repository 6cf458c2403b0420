package cachepolicy

import (
	"regexp"
	"testing"
	"time"
)

// The hot path runs per request on the event loops: pin zero allocations.
// Inputs are made once outside the measured function, as they are views
// into connection buffers in real use.

func TestAllocsRequest(t *testing.T) {
	get, cookie, host := []byte("GET"), []byte("a=1; b=2"), []byte("h.test")
	plain, odd := []byte("/x?y"), []byte("/x y")
	anyCookie := RequestRules{}
	named := RequestRules{BypassCookie: regexp.MustCompile(`^session$`)}
	dst := make([]byte, 0, 512)
	checks := map[string]func(){
		"MethodClass":          func() { MethodClass(get) },
		"CookieBypasses nil":   func() { anyCookie.CookieBypasses(cookie) },
		"CookieBypasses regex": func() { named.CookieBypasses(cookie) },
		"AppendKey plain":      func() { AppendKey(dst[:0], nil, host, plain) },
		"AppendKey digest":     func() { AppendKey(dst[:0], nil, host, odd) },
	}
	for name, f := range checks {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
}

func TestAllocsServing(t *testing.T) {
	ae := []byte("br;q=1, gzip;q=0.8, *;q=0")
	inm, etag := []byte(`"x", W/"y"`), []byte(`"y"`)
	imf, lm := []byte(httpDate(now)), []byte(httpDate(now.Add(-time.Hour)))
	rfc850 := []byte(now.Format("Monday, 02-Jan-06 15:04:05 GMT"))
	bad := []byte("0")
	dst := make([]byte, 0, 64)
	host, loc := []byte("h"), []byte("http://h/x")
	checks := map[string]func(){
		"AcceptsEncoding":     func() { AcceptsEncoding(ae, "gzip") },
		"NotModified etag":    func() { NotModified(inm, nil, etag, nil) },
		"NotModified date":    func() { NotModified(nil, imf, nil, lm) },
		"ParseHTTPDate 850":   func() { ParseHTTPDate(rfc850) },
		"ParseHTTPDate bad":   func() { ParseHTTPDate(bad) },
		"AppendHTTPDate":      func() { AppendHTTPDate(dst[:0], now) },
		"SameHostPath (view)": func() { SameHostPath(host, loc) },
	}
	for name, f := range checks {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
}

func TestAllocsDecide(t *testing.T) {
	type field struct{ name, value []byte }
	sets := map[string][]field{
		"cache-control": {
			{[]byte("Content-Type"), []byte("text/html")},
			{[]byte("Cache-Control"), []byte(`public, max-age="60", x="a,b"`)},
			{[]byte("Date"), []byte(httpDate(now))},
			{[]byte("Age"), []byte("3")},
			{[]byte("Vary"), []byte("Accept-Encoding")},
		},
		"cdn-cache-control": {
			{[]byte("Cache-Control"), []byte("private")},
			{[]byte("CDN-Cache-Control"), []byte(`max-age=60;x=?1, y=(1 "a")`)},
		},
		"expires": {
			{[]byte("Expires"), []byte(httpDate(now.Add(time.Hour)))},
			{[]byte("Date"), []byte(httpDate(now))},
		},
		"heuristic": {
			{[]byte("Last-Modified"), []byte(httpDate(now.Add(-time.Hour)))},
		},
		"refused": {
			{[]byte("Cache-Control"), []byte("no-store")},
			{[]byte("Set-Cookie"), []byte("a=1")},
		},
	}
	for name, fields := range sets {
		for _, rules := range []Rules{{}, {DefaultTTL: time.Minute, MaxTTL: time.Hour}} {
			var r Response
			a := testing.AllocsPerRun(100, func() {
				r.Reset(200)
				for _, f := range fields {
					r.Observe(f.name, f.value)
				}
				rules.Decide(&r, now)
			})
			if a != 0 {
				t.Errorf("%s %+v: %v allocations", name, rules, a)
			}
		}
	}
}
