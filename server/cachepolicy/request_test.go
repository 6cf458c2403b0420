package cachepolicy

import (
	"regexp"
	"testing"
)

func TestMethodClass(t *testing.T) {
	cases := []struct {
		method string
		want   Class
	}{
		{"GET", ClassCacheable}, {"HEAD", ClassCacheable},
		{"OPTIONS", ClassPass}, {"TRACE", ClassPass},
		{"POST", ClassUnsafe}, {"PUT", ClassUnsafe}, {"DELETE", ClassUnsafe}, {"PATCH", ClassUnsafe},
		{"PURGE", ClassUnsafe}, {"CONNECT", ClassUnsafe}, {"", ClassUnsafe},
		{"get", ClassUnsafe}, {"Head", ClassUnsafe}, {"options", ClassUnsafe}, {"GET ", ClassUnsafe}, {"GETX", ClassUnsafe},
	}
	for _, tc := range cases {
		if got := MethodClass([]byte(tc.method)); got != tc.want {
			t.Errorf("MethodClass(%q) = %v, want %v", tc.method, got, tc.want)
		}
	}
	for c, s := range map[Class]string{ClassCacheable: "cacheable", ClassPass: "pass", ClassUnsafe: "unsafe"} {
		if c.String() != s {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
}

func TestCookieBypasses(t *testing.T) {
	anyCookie := &RequestRules{}
	named := &RequestRules{BypassCookie: regexp.MustCompile(`^(session|wp_.*)$`)}
	cases := []struct {
		rules *RequestRules
		field string
		want  bool
	}{
		{anyCookie, "a=1", true},
		{anyCookie, "", false},
		{anyCookie, " ; ;\t", false},
		{anyCookie, "=", true},
		{anyCookie, "flag", true},
		{named, "_ga=1; theme=dark", false},
		{named, "theme=dark; session=x", true},
		{named, "theme=dark;session=x", true},
		{named, "  session\t=x", true},
		{named, "wp_login=1", true},
		{named, "sessionx=1", false},
		{named, "xsession=1", false},
		{named, "a=session", false}, // the value doesn't count
		{named, "session", true},    // a pair without "=" is taken as a name
		{named, "", false},
		{named, ";;", false},
	}
	for _, tc := range cases {
		if got := tc.rules.CookieBypasses([]byte(tc.field)); got != tc.want {
			t.Errorf("nil regexp=%v, %q: got %v", tc.rules.BypassCookie == nil, tc.field, got)
		}
	}
}

func TestSameHostPath(t *testing.T) {
	const host = "example.test"
	cases := []struct {
		host, uri, path string
		ok              bool
	}{
		{host, "/a?b", "/a?b", true},
		{host, " /a\t", "/a", true},
		{host, "/a#frag", "/a", true},
		{host, "/", "/", true},
		{host, "http://example.test/x", "/x", true},
		{host, "HTTP://Example.TEST/x?y=1", "/x?y=1", true},
		{host, "https://example.test/x#f", "/x", true},
		{host, "https://example.test", "/", true},
		{host, "http://example.test?q=1", "/?q=1", true},
		{host, "http://example.test#f", "/", true},
		{"example.test:8080", "http://example.test:8080/x", "/x", true},
		{host, "http://example.test:8080/x", "", false},
		{host, "http://example.test:80/x", "", false},
		{host, "http://other.test/x", "", false},
		{host, "http://example.test.evil/x", "", false},
		{host, "http://user@example.test/x", "", false},
		{host, "http://", "", false},
		{host, "//example.test/x", "", false},
		{host, "rel/x", "", false},
		{host, "x", "", false},
		{host, "mailto:a@example.test", "", false},
		{host, "ftp://example.test/x", "", false},
		{host, "", "", false},
		{host, "/a b", "", false},
		{host, "/a\x00", "", false},
		{host, "/a\x7f", "", false},
		{"", "http:///x", "", false},
		{"", "/x", "", false},
	}
	for _, tc := range cases {
		p, ok := SameHostPath([]byte(tc.host), []byte(tc.uri))
		if ok != tc.ok || string(p) != tc.path {
			t.Errorf("SameHostPath(%q, %q) = %q, %v; want %q, %v", tc.host, tc.uri, p, ok, tc.path, tc.ok)
		}
	}
}
