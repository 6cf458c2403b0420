package cachepolicy

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }

func decide(rl Rules, status int, fields ...string) Decision {
	var r Response
	r.Reset(status)
	for _, f := range fields {
		name, val, _ := strings.Cut(f, ":")
		r.Observe([]byte(name), []byte(strings.TrimSpace(val)))
	}
	return rl.Decide(&r, now)
}

func TestDecide(t *testing.T) {
	def := Rules{DefaultTTL: 2 * time.Minute, MaxTTL: time.Hour}
	strict := Rules{}
	cases := []struct {
		name    string
		rl      Rules
		status  int
		fields  []string
		store   bool
		ttl     time.Duration
		reason  string
		fromDef bool
	}{
		{"plain 200 default ttl", def, 200, nil, true, 2 * time.Minute, "", true},
		{"plain 200 strict", strict, 200, nil, false, 0, "no-freshness", false},
		{"max-age", def, 200, []string{"Cache-Control: public, max-age=60"}, true, time.Minute, "", false},
		{"s-maxage wins", def, 200, []string{"Cache-Control: max-age=60, s-maxage=120"}, true, 2 * time.Minute, "", false},
		{"cdn-cc wins", def, 200, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: max-age=600"}, true, 10 * time.Minute, "", false},
		{"cdn-cc no-store replaces cc", def, 200, []string{"Cache-Control: max-age=60", "CDN-Cache-Control: no-store"}, false, 0, "no-store", false},
		{"cdn-cc max-age overrides cc private", def, 200, []string{"Cache-Control: private", "CDN-Cache-Control: max-age=60"}, true, time.Minute, "", false},
		{"age subtracted", def, 200, []string{"Cache-Control: max-age=100", "Age: 40"}, true, 60 * time.Second, "", false},
		{"age exceeds", def, 200, []string{"Cache-Control: max-age=100", "Age: 200"}, false, 0, "stale", false},
		{"expires minus date", def, 200, []string{"Date: " + httpDate(now.Add(-time.Hour)), "Expires: " + httpDate(now.Add(-time.Hour+5*time.Minute))}, true, 5 * time.Minute, "", false},
		{"expires invalid", def, 200, []string{"Expires: 0"}, false, 0, "stale", false},
		{"max-ttl cap", def, 200, []string{"Cache-Control: max-age=99999"}, true, time.Hour, "", false},
		{"quoted max-age", def, 200, []string{`Cache-Control: max-age="30"`}, true, 30 * time.Second, "", false},
		{"duplicate max-age", def, 200, []string{"Cache-Control: max-age=30", "Cache-Control: max-age=60"}, false, 0, "stale", false},
		{"bad max-age", def, 200, []string{"Cache-Control: max-age=abc"}, false, 0, "stale", false},
		{"huge max-age clamps", Rules{}, 200, []string{"Cache-Control: max-age=99999999999999999999999"}, true, (1 << 31) * time.Second, "", false},
		{"heuristic", strict, 200, []string{"Date: " + httpDate(now), "Last-Modified: " + httpDate(now.Add(-100*time.Hour))}, true, 10 * time.Hour, "", false},
		{"set-cookie", def, 200, []string{"Set-Cookie: a=1", "Cache-Control: max-age=60"}, false, 0, "set-cookie", false},
		{"private", def, 200, []string{"Cache-Control: private"}, false, 0, "private", false},
		{"private field", def, 200, []string{`Cache-Control: private="X-A", max-age=60`}, false, 0, "private", false},
		{"no-store", def, 200, []string{"Cache-Control: no-store"}, false, 0, "no-store", false},
		{"no-cache", def, 200, []string{"Cache-Control: no-cache"}, false, 0, "no-cache", false},
		{"vary star", def, 200, []string{"Vary: *"}, false, 0, "vary", false},
		{"vary ua", def, 200, []string{"Vary: Accept-Encoding, User-Agent"}, false, 0, "vary", false},
		{"vary ae ok", def, 200, []string{"Vary: accept-encoding"}, true, 2 * time.Minute, "", true},
		{"500 never", def, 500, []string{"Cache-Control: max-age=60"}, false, 0, "status", false},
		{"206 never", def, 206, []string{"Cache-Control: max-age=60"}, false, 0, "status", false},
		{"404 default not stored", def, 404, nil, false, 0, "status", false},
		{"404 explicit stored", def, 404, []string{"Cache-Control: max-age=60"}, true, time.Minute, "", false},
		{"301 explicit", def, 301, []string{"Cache-Control: max-age=60"}, true, time.Minute, "", false},
		{"must-revalidate ok", def, 200, []string{"Cache-Control: must-revalidate, stale-while-revalidate=30, immutable, max-age=5"}, true, 5 * time.Second, "", false},
	}
	for _, tc := range cases {
		d := decide(tc.rl, tc.status, tc.fields...)
		if d.Store != tc.store || d.TTL != tc.ttl || d.Reason != tc.reason || d.FromDefault != tc.fromDef {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}
	if d := decide(def, 200, "Vary: Accept-Encoding"); !d.VaryAcceptEncoding {
		t.Error("VaryAcceptEncoding not set")
	}
}

func TestMethodClass(t *testing.T) {
	for m, want := range map[string]Class{"GET": ClassCacheable, "HEAD": ClassCacheable, "get": ClassUnsafe,
		"OPTIONS": ClassPass, "TRACE": ClassPass, "POST": ClassUnsafe, "PURGE": ClassUnsafe, "DELETE": ClassUnsafe} {
		if got := MethodClass([]byte(m)); got != want {
			t.Errorf("%s: %v", m, got)
		}
	}
}

func TestCookieBypasses(t *testing.T) {
	any := RequestRules{}
	if !any.CookieBypasses([]byte("a=1")) || any.CookieBypasses([]byte(" ; ")) {
		t.Fatal("nil regexp")
	}
	rr := RequestRules{BypassCookie: regexp.MustCompile(`^(session|wp_.*)$`)}
	for v, want := range map[string]bool{"_ga=1; theme=dark": false, "theme=dark; session=x": true, "wp_login=1": true, "sessionx=1": false, "session": true} {
		if got := rr.CookieBypasses([]byte(v)); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}

func TestSameHostPath(t *testing.T) {
	cases := []struct {
		uri, path string
		ok        bool
	}{
		{"/a?b", "/a?b", true}, {"http://Example.test/x", "/x", true}, {"https://example.test", "/", true},
		{"http://other.test/x", "", false}, {"//example.test/x", "", false}, {"rel/x", "", false}, {"mailto:a", "", false},
		{"http://example.test:81/x", "", false},
	}
	for _, tc := range cases {
		p, ok := SameHostPath([]byte("example.test"), []byte(tc.uri))
		if ok != tc.ok || string(p) != tc.path {
			t.Errorf("%q: %q %v", tc.uri, p, ok)
		}
	}
}

func TestAppendKey(t *testing.T) {
	if k := AppendKey(nil, []byte("p:"), []byte("h.test"), []byte("/a?b=1")); string(k) != "p:h.test/a?b=1" {
		t.Fatalf("plain key %q", k)
	}
	digest := func(host, target string) string {
		s := sha256.Sum256([]byte(host + target))
		return "p:#" + base64.RawURLEncoding.EncodeToString(s[:])
	}
	for _, target := range []string{"/" + strings.Repeat("x", 300), "/a b", "/caf\xc3\xa9", "/\x00", "/\x7f"} {
		k := AppendKey([]byte("keep"), []byte("p:"), []byte("h.test"), []byte(target))
		if string(k) != "keep"+digest("h.test", target) {
			t.Errorf("%q: %q", target, k)
		}
		if len(k) != len("keep")+3+43 {
			t.Errorf("digest length %d", len(k))
		}
	}
	// 250 bytes exactly is still a plain key; 251 is not.
	target := "/" + strings.Repeat("y", 250-len("p:h.test")-1)
	if k := AppendKey(nil, []byte("p:"), []byte("h.test"), []byte(target)); len(k) != 250 {
		t.Errorf("250-byte key became %d", len(k))
	}
	if k := AppendKey(nil, []byte("p:"), []byte("h.test"), []byte(target+"z")); !strings.Contains(string(k), "#") {
		t.Errorf("251-byte key not digested")
	}
}

func TestAcceptsEncoding(t *testing.T) {
	cases := map[string]bool{
		"gzip": true, "": false, "identity": false, "br": false, "gzip;q=0": false, "gzip; q=0.000": false,
		"br;q=1.0, gzip;q=0.5": true, "*": true, "*;q=0": false, "*, gzip;q=0": false, "x-gzip": true,
		"GZIP": true, "deflate, gzip;q=0.001": true, "gzip;q=2": false, "gzip;q=abc": false, "gzip ; q=1": true,
	}
	for ae, want := range cases {
		if got := AcceptsEncoding([]byte(ae), "gzip"); got != want {
			t.Errorf("%q: %v", ae, got)
		}
	}
}

func TestNotModified(t *testing.T) {
	lm := httpDate(now.Add(-time.Hour))
	cases := []struct {
		inm, ims, etag, lm string
		want               bool
	}{
		{`"a"`, "", `"a"`, "", true},
		{`W/"a"`, "", `"a"`, "", true},
		{`"b", "a"`, "", `W/"a"`, "", true},
		{`"b"`, httpDate(now), `"a"`, lm, false}, // INM wins over IMS
		{"*", "", `"x"`, "", true},
		{"*", "", "", "", false},
		{"", httpDate(now), "", lm, true},
		{"", httpDate(now.Add(-2 * time.Hour)), "", lm, false},
		{"", "garbage", "", lm, false},
		{"", httpDate(now), "", "", false},
	}
	for i, tc := range cases {
		if got := NotModified([]byte(tc.inm), []byte(tc.ims), []byte(tc.etag), []byte(tc.lm)); got != tc.want {
			t.Errorf("case %d: %v", i, got)
		}
	}
}

func TestHTTPDate(t *testing.T) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		tm, ok := ParseHTTPDate([]byte(s))
		if !ok || !tm.Equal(time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)) {
			t.Errorf("%q: %v %v", s, tm, ok)
		}
	}
	if got := string(AppendHTTPDate(nil, time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC))); got != "Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Error(got)
	}
	for _, s := range []string{"", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "0"} {
		if _, ok := ParseHTTPDate([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	rl := Rules{DefaultTTL: time.Minute}
	rr := RequestRules{}
	dst := make([]byte, 0, 512)
	fields := [][2][]byte{{[]byte("Cache-Control"), []byte("public, max-age=60")}, {[]byte("Date"), []byte(httpDate(now))},
		{[]byte("Vary"), []byte("Accept-Encoding")}, {[]byte("Content-Type"), []byte("text/html")}}
	inm, etag := []byte(`"x", "y"`), []byte(`"y"`)
	ims, lm := []byte(httpDate(now)), []byte(httpDate(now.Add(-time.Hour)))
	// Inputs are views into a connection buffer in real use: made once here.
	get, cookie, host, t1, t2 := []byte("GET"), []byte("a=1; b=2"), []byte("h.test"), []byte("/x?y"), []byte("/x y")
	ae := []byte("br;q=1, gzip;q=0.8")
	var r Response
	a := testing.AllocsPerRun(100, func() {
		MethodClass(get)
		rr.CookieBypasses(cookie)
		AppendKey(dst[:0], nil, host, t1)
		AppendKey(dst[:0], nil, host, t2)
		AcceptsEncoding(ae, "gzip")
		NotModified(inm, nil, etag, nil)
		NotModified(nil, ims, nil, lm)
		r.Reset(200)
		for _, f := range fields {
			r.Observe(f[0], f[1])
		}
		rl.Decide(&r, now)
	})
	if a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func FuzzHeaderParsers(f *testing.F) {
	for _, s := range []string{"gzip;q=0.5, *;q=0", `max-age="10", private="a,b"`, "no-cache, s-maxage=1", "x-gzip", ";;,,=q"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		AcceptsEncoding(v, "gzip")
		var r Response
		r.Reset(200)
		r.Observe([]byte("Cache-Control"), v)
		r.Observe([]byte("Vary"), v)
		d := (&Rules{DefaultTTL: time.Minute, MaxTTL: time.Hour}).Decide(&r, now)
		if d.Store && (d.TTL <= 0 || d.TTL > time.Hour || d.Reason != "") {
			t.Fatalf("%+v", d)
		}
		if !d.Store && d.Reason == "" {
			t.Fatal("no reason")
		}
		NotModified(v, v, v, v)
		AppendKey(nil, nil, v, v)
	})
}

func BenchmarkDecide(b *testing.B) {
	rl := Rules{DefaultTTL: time.Minute}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var r Response
		r.Reset(200)
		r.Observe([]byte("Cache-Control"), []byte("public, max-age=60"))
		r.Observe([]byte("Content-Type"), []byte("text/html"))
		rl.Decide(&r, now)
	}
}

func BenchmarkAcceptsEncoding(b *testing.B) {
	ae := []byte("gzip, deflate, br, zstd")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		AcceptsEncoding(ae, "gzip")
	}
}
