package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// interimRun submits a GET for target with an Interim hook and returns the
// finished job and the heads the hook was handed, in order. The hook runs on
// the worker before Done, and Done's channel send orders it before the read.
func interimRun(t *testing.T, p *Pool, target string) (*Job, []string) {
	t.Helper()
	type result struct {
		j     *Job
		heads []string
	}
	var heads []string
	ch := make(chan result, 1)
	j := AcquireJob()
	get(target)(&j.req)
	j.Interim = func(j *Job, head []byte) { heads = append(heads, string(head)) }
	j.Done = func(j *Job) { ch <- result{j, heads} }
	if err := p.Submit(j); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	select {
	case r := <-ch:
		t.Cleanup(func() { ReleaseJob(r.j) })
		return r.j, r.heads
	case <-time.After(20 * time.Second):
		t.Fatal("Done not called within 20s")
		return nil, nil
	}
}

// TestInterimHandedOver checks that every interim response reaches
// Job.Interim in the order received, as the head to relay: status line as
// received (HTTP/1.1), end-to-end fields in order, hop-by-hop fields, those
// named in Connection and a Content-Length: 0 removed; and that the final
// response is read as before, on a connection that stays in step.
func TestInterimHandedOver(t *testing.T) {
	resp := "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: X-Hop, close\r\n" +
		"X-Hop: secret\r\nKeep-Alive: timeout=5\r\nX-My-Header: test\r\nLink: </b.js>; rel=preload\r\n\r\n" +
		"HTTP/1.0 102\r\n\r\n" +
		httpResponse("200 OK", "Cache-Control: max-age=60\r\n", []byte("final"))
	up := startRaw(t, serveFixed(resp, nil))
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
	want := []string{
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-My-Header: test\r\nLink: </b.js>; rel=preload\r\n\r\n",
		"HTTP/1.1 102 \r\n\r\n",
	}
	for i := range 2 {
		j, heads := interimRun(t, p, "/")
		if j.Err != nil || j.Resp.Status() != 200 || string(j.Resp.Body()) != "final" {
			t.Fatalf("request %d: Err %v (%v), status %d, body %q", i, j.Err, j.Cause, j.Resp.Status(), j.Resp.Body())
		}
		if strings.Join(heads, "|") != strings.Join(want, "|") {
			t.Fatalf("request %d: interim heads\n%q\nwant\n%q", i, heads, want)
		}
		if v := j.Resp.Peek("Link"); v != nil {
			t.Fatalf("request %d: the final response has the interim's Link %q", i, v)
		}
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("%d connections for 2 requests, want 1", n)
	}
}

// TestInterimBytesBounded checks that interim responses under the count
// limit but over maxInterimBytes in all end the exchange with
// ErrBadResponse, and that what was handed over stayed within the bound.
func TestInterimBytesBounded(t *testing.T) {
	big := "HTTP/1.1 103 Early Hints\r\nLink: <" + strings.Repeat("a", 4000) + ">; rel=preload\r\n\r\n"
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, err := s.readRequest(br); err != nil {
			return
		}
		for range maxInterimResponses - 1 { // 31 × 4 KB: past the byte bound, within the count
			if _, err := io.WriteString(c, big); err != nil {
				return
			}
		}
		io.WriteString(c, httpResponse("200 OK", "", []byte("final")))
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Timeout: longTimeout})
	j, heads := interimRun(t, p, "/")
	if j.Err != ErrBadResponse || !errors.Is(j.Cause, errInterimTooLarge) {
		t.Fatalf("Err = %v (%v), want ErrBadResponse (%v)", j.Err, j.Cause, errInterimTooLarge)
	}
	n := 0
	for _, h := range heads {
		n += len(h)
	}
	if n > maxInterimBytes || len(heads) == 0 {
		t.Fatalf("%d heads, %d bytes handed over; want some, at most %d bytes", len(heads), n, maxInterimBytes)
	}
}
