package server

import (
	"bytes"
	"strings"
	"testing"
)

func TestOutcomeStatusAndReasonFromHead(t *testing.T) {
	cases := []struct {
		head    string
		out     outcome
		status  int
		reason  string // "" = no not-stored reason
		comment string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAge: 3\r\nX-Cache: HIT\r\nContent-Length: 5\r\n\r\nhello", outHit, 200, "", "hit"},
		{"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nX-Cache: STALE\r\n\r\n", outStale, 304, "", "stale 304"},
		{"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nX-Cache: MISS\r\nX-Cache-Detail: not stored: set-cookie\r\nContent-Length: 0\r\n\r\n", outMiss, 200, "set-cookie", "not stored"},
		{"HTTP/1.1 200 OK\r\nX-Cache: MISS\r\nX-Cache-Detail: not stored: decoded too large\r\n\r\n", outMiss, 200, "decoded too large", "reason with spaces"},
		{"HTTP/1.1 200 OK\r\nX-Cache: REVALIDATED\r\nX-Cache-Detail: not stored: something new\r\n\r\n", outRevalidated, 200, "other", "unknown reason"},
		{"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\nX-Cache: BYPASS\r\nContent-Length: 11\r\n\r\nBad Gateway", outBypass, 502, "", "error"},
		{"HTTP/1.1 201 Created\r\nFoo: bar X-Cache: HIT\r\nX-Cache: PASS\r\n\r\nbody\r\nX-Cache: HIT\r\n", outPass, 201, "", "field value and body mentioning X-Cache"},
		{"HTTP/1.1 404 Not Found\r\nX-Cache: PURGE\r\n\r\nnot in cache", outPurge, 404, "", "purge"},
		{"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request", outNone, 400, "", "parser reject"},
		{"HTTP/1.1 200 OK\r\nX-Cache-Status: HIT\r\n\r\n", outNone, 200, "", "another field"},
	}
	for _, tc := range cases {
		h := []byte(tc.head)
		if got := statusOf(h); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.comment, got, tc.status)
		}
		o, rest := outcomeOf(h)
		if o != tc.out {
			t.Errorf("%s: outcome %s, want %s", tc.comment, outcomeNames[o], outcomeNames[tc.out])
		}
		reason := ""
		if bytes.HasPrefix(rest, notStoredAt) {
			reason = notStoredReasons[reasonIndex(rest[len(notStoredAt):])]
		}
		if reason != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.comment, reason, tc.reason)
		}
	}
	for m, want := range map[string]uint8{"GET": mcGET, "HEAD": mcHEAD, "POST": mcPOST, "PURGE": mcPURGE, "get": mcOther, "BREW": mcOther} {
		if got := methodOf([]byte(m)); got != want {
			t.Errorf("methodOf(%s) = %d, want %d", m, got, want)
		}
	}
}

// TestHitPathCounts: a hit over memory is counted once, by outcome, method
// and status class, with the bytes read and written, and counting costs
// the hit path no allocation (TestHitPathServesAndAllocatesNothing runs
// the same path).
func TestHitPathCounts(t *testing.T) {
	c, mc, _ := hitFixture(t)
	req := []byte(browserGET + strings.Replace(browserGET, "GET ", "HEAD ", 1))
	mc.in = req
	c.onTraffic()
	m := &c.l.m
	if n := m.resp[outHit][mcGET][2].Load(); n != 1 {
		t.Errorf("HIT GET 2xx = %d, want 1", n)
	}
	if n := m.resp[outHit][mcHEAD][2].Load(); n != 1 {
		t.Errorf("HIT HEAD 2xx = %d, want 1", n)
	}
	if in, out := m.bytesIn.Load(), m.bytesOut.Load(); in != uint64(len(req)) || out != uint64(len(mc.out)) {
		t.Errorf("bytes in %d out %d, want %d %d", in, out, len(req), len(mc.out))
	}
	var buf bytes.Buffer
	c.l.s.writeCounters(&buf) // no loop registered with the server: only Stats
	if !strings.Contains(buf.String(), "mcpage_cache_hits_total 2\n") {
		t.Errorf("exposition:\n%s", buf.String())
	}
}

func BenchmarkAccountHitHead(b *testing.B) {
	c, mc, _ := hitFixture(b)
	mc.in = []byte(browserGET)
	c.onTraffic()
	head := mc.out[:bytes.Index(mc.out, []byte("\r\n\r\n"))+4]
	b.Logf("head: %d bytes", len(head))
	p := &pending{}
	l := c.l
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.counted = false
		l.account(p, head)
	}
}

func BenchmarkOutcomeOfHitHead(b *testing.B) {
	c, mc, _ := hitFixture(b)
	mc.in = []byte(browserGET)
	c.onTraffic()
	head := mc.out[:bytes.Index(mc.out, []byte("\r\n\r\n"))+4]
	var n int
	for i := 0; i < b.N; i++ {
		o, _ := outcomeOf(head)
		n += int(o)
	}
	_ = n
}
