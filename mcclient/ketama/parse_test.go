package ketama

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Server
	}{
		{"h1", []Server{{"h1:11211", 1}}},
		{"h1:11212", []Server{{"h1:11212", 1}}},
		{"h1:11212:3", []Server{{"h1:11212", 3}}},
		{"h1:11211,h2:11212:3", []Server{{"h1:11211", 1}, {"h2:11212", 3}}},
		{" h1 ,\th2:11300 , h3:11211:5 ", []Server{{"h1:11211", 1}, {"h2:11300", 1}, {"h3:11211", 5}}},
		{"10.0.0.1:011211", []Server{{"10.0.0.1:11211", 1}}},
		{"Cache_1.example-2:65535:4294967295", []Server{{"Cache_1.example-2:65535", 4294967295}}},
		{"[::1]", []Server{{"[::1]:11211", 1}}},
		{"[::1]:11212:2,[2001:db8::1]:1", []Server{{"[::1]:11212", 2}, {"[2001:db8::1]:1", 1}}},
		{"[fe80::1%eth0]:11211", []Server{{"[fe80::1%eth0]:11211", 1}}},
		// Host strings are kept as written: they are hashed.
		{"localhost,127.0.0.1,LOCALHOST", []Server{{"localhost:11211", 1}, {"127.0.0.1:11211", 1}, {"LOCALHOST:11211", 1}}},
		{strings.Repeat("x", MaxHostLen), []Server{{strings.Repeat("x", MaxHostLen) + ":11211", 1}}},
	} {
		got, err := Parse(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Parse(%.40q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", ErrNoServers},
		{" \t ", ErrNoServers},
		{strings.Repeat("h,", MaxServers) + "h", ErrTooManyServers},
		{",", ErrEmptyEntry},
		{"a,,b", ErrEmptyEntry},
		{"a,b,", ErrEmptyEntry},
		{":11211", ErrBadHost},
		{"bad host:11211", ErrBadHost},
		{"h\x00:11211", ErrBadHost},
		{"h/x:11211", ErrBadHost},
		{"/tmp/memcached.sock", ErrBadHost},
		{"::1", ErrBadHost},
		{"fe80::1:11211", ErrBadHost},
		{"[::1", ErrBadHost},
		{"[::1]x", ErrBadHost},
		{"[10.0.0.1]:11211", ErrBadHost},
		{"[]:11211", ErrBadHost},
		{"[fe80::1%bad zone]", ErrBadHost},
		{"héllo:11211", ErrBadHost},
		{strings.Repeat("x", MaxHostLen+1), ErrBadHost},
		{"h:", ErrBadPort},
		{"h:0", ErrBadPort},
		{"h:65536", ErrBadPort},
		{"h:123456", ErrBadPort},
		{"h:-1", ErrBadPort},
		{"h:+1", ErrBadPort},
		{"h:abc", ErrBadPort},
		{"h::3", ErrBadPort},
		{"[::1]:", ErrBadPort},
		{"h:1:", ErrBadWeight},
		{"h:1:0", ErrBadWeight},
		{"h:1:-2", ErrBadWeight},
		{"h:1:4294967296", ErrBadWeight},
		{"h:1:2:3", ErrBadWeight},
		{"h:1:1e3", ErrBadWeight},
		{"a:11211,b,a", ErrDuplicateServer},
		{"a,a:11211:5", ErrDuplicateServer},
		{"[::1],[::1]:11211", ErrDuplicateServer},
	} {
		got, err := Parse(c.in)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("Parse(%.40q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// TestParseErrorNamesEntry: errors say which entry is wrong, clipped.
func TestParseErrorNamesEntry(t *testing.T) {
	_, err := Parse("good:11211,bad:0")
	if err == nil || !strings.Contains(err.Error(), `entry 2 "bad:0"`) {
		t.Errorf("error %q does not name entry 2", err)
	}
	_, err = Parse("h:" + strings.Repeat("9", 10000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error not clipped: %d bytes", len(err.Error()))
	}
}

// TestParseThenNew: every list Parse accepts builds a ring whose Servers are
// Parse's output.
func TestParseThenNew(t *testing.T) {
	for _, list := range []string{"a", "a:1:2,b:3:4,[::1]:5:6", equalServers("x", 100, 11300), fixture8} {
		s := mustParse(t, list)
		if got := mustNew(t, s).Servers(); !slices.Equal(got, s) {
			t.Errorf("%.30s: Servers %v, Parse %v", list, got, s)
		}
	}
}
