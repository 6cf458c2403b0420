package cachepolicy

import (
	"testing"
	"time"
)

func TestResponseStale(t *testing.T) {
	cases := []struct {
		name string
		cc   []string
		cdn  []string
		want Stale
	}{
		{"none", nil, nil, Stale{}},
		{"swr", []string{"max-age=60, stale-while-revalidate=30"}, nil, Stale{WhileRevalidate: 30 * time.Second}},
		{"sie", []string{"max-age=60", "stale-if-error=600"}, nil, Stale{IfError: 10 * time.Minute}},
		{"both quoted", []string{`max-age=60, stale-while-revalidate="5", stale-if-error=7`}, nil, Stale{WhileRevalidate: 5 * time.Second, IfError: 7 * time.Second}},
		{"invalid swr ignored", []string{"max-age=60, stale-while-revalidate=soon"}, nil, Stale{}},
		{"conflicting swr: the first decides", []string{"stale-while-revalidate=5, stale-while-revalidate=6"}, nil, Stale{WhileRevalidate: 5 * time.Second}},
		{"must-revalidate", []string{"max-age=60, must-revalidate, stale-while-revalidate=30"}, nil, Stale{Forbidden: true}},
		{"proxy-revalidate", []string{"max-age=60, Proxy-Revalidate"}, nil, Stale{Forbidden: true}},
		{"s-maxage", []string{"s-maxage=60, stale-if-error=30"}, nil, Stale{Forbidden: true}},
		{"malformed", []string{`max-age=60, stale-if-error="30`}, nil, Stale{Forbidden: true}},
		{"cdn governs", []string{"must-revalidate"}, []string{"max-age=60, stale-while-revalidate=9"}, Stale{WhileRevalidate: 9 * time.Second}},
		{"cdn forbids", []string{"stale-while-revalidate=9"}, []string{"max-age=60, must-revalidate"}, Stale{Forbidden: true}},
	}
	for _, c := range cases {
		var r Response
		r.Reset(200)
		for _, v := range c.cc {
			r.Observe([]byte("Cache-Control"), []byte(v))
		}
		for _, v := range c.cdn {
			r.Observe([]byte("CDN-Cache-Control"), []byte(v))
		}
		if got := r.Stale(); got != c.want {
			t.Errorf("%s: Stale() = %+v, want %+v", c.name, got, c.want)
		}
		var rl Rules
		if d := rl.Decide(&r, time.Unix(1e9, 0)); d.Store && d.Stale != c.want {
			t.Errorf("%s: Decision.Stale = %+v, want %+v", c.name, d.Stale, c.want)
		}
	}
}

// A stored 5xx is never served stale, whatever its directives say.
func TestResponseStale5xx(t *testing.T) {
	for _, status := range []int{500, 503, 599} {
		var r Response
		r.Reset(status)
		r.Observe([]byte("Cache-Control"), []byte("max-age=60, stale-while-revalidate=30, stale-if-error=60"))
		if got := r.Stale(); !got.Forbidden {
			t.Errorf("%d: Stale() = %+v", status, got)
		}
		var rl Rules
		if d := rl.Decide(&r, time.Unix(1e9, 0)); !d.Store || !d.Stale.Forbidden {
			t.Errorf("%d: Decide = %+v", status, d)
		}
	}
}

func TestResponseStaleAllocatesNothing(t *testing.T) {
	var r Response
	r.Reset(200)
	r.Observe([]byte("Cache-Control"), []byte("max-age=60, stale-while-revalidate=30, stale-if-error=60"))
	if a := testing.AllocsPerRun(100, func() { _ = r.Stale() }); a != 0 {
		t.Errorf("Stale: %v allocations", a)
	}
}
