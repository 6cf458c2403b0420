package server

import (
	"bytes"
	"net"
	"testing"
)

// An idle connection holds no parser state, body state or response slot: a
// body that spans reads keeps its own copy of its head while the loop's parse
// scratch serves other connections, and gives everything back when it ends.
func TestIdleConnHoldsNothing(t *testing.T) {
	c, mc, body := hitFixture(t)
	l := c.l
	mc.in = []byte(browserGET)
	c.onTraffic()
	if !bytes.HasSuffix(mc.out, body) {
		t.Fatalf("not a hit:\n%.300s", mc.out)
	}
	idle := func(c *conn, when string) {
		t.Helper()
		if c.rb != nil || c.bodyBuf != nil || c.inBody || len(c.q) != 0 || cap(c.q) > maxIdleQueue {
			t.Fatalf("%s: idle connection holds rb=%v bodyBuf=%d inBody=%v queue %d/%d",
				when, c.rb != nil, cap(c.bodyBuf), c.inBody, len(c.q), cap(c.q))
		}
	}
	idle(c, "after a hit")

	// Connection 2 starts a chunked upload that spans reads.
	mc2 := &memConn{remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5556}}
	c2 := l.newConn(mc2)
	mc2.in = []byte("POST /upload?x=1 HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nX-Mine: two\r\n\r\n3\r\nab")
	c2.onTraffic()
	if !c2.inBody || c2.rb == nil || len(mc2.out) != 0 {
		t.Fatalf("upload not waiting for its body: inBody %v, out %q", c2.inBody, mc2.out)
	}
	// Meanwhile connection 1 is served from the loop's parse scratch, and
	// leaves connection 2's head alone.
	mc.in, mc.out = []byte(browserGET), mc.out[:0]
	c.onTraffic()
	if !bytes.HasSuffix(mc.out, body) {
		t.Fatalf("second hit:\n%.300s", mc.out)
	}
	idle(c, "after a second hit")
	if r := &c2.rb.req; string(r.Method) != "POST" || string(r.Path) != "/upload?x=1" ||
		string(r.Header("X-Mine")) != "two" || !r.Chunked {
		t.Fatalf("upload's head changed under it: %q %q %q", r.Method, r.Path, r.Header("X-Mine"))
	}
	if string(l.req.Method) != "GET" {
		t.Fatalf("loop scratch holds %q, want the last GET", l.req.Method)
	}
	// A broken chunk ends the upload with 400: its state goes back to the loop.
	mc2.in = []byte("cXY\r\n") // "abc", then no CRLF after the chunk
	c2.onTraffic()
	if !bytes.Contains(mc2.out, []byte(" 400 ")) {
		t.Fatalf("broken chunk: %q", mc2.out)
	}
	if c2.rb != nil || c2.bodyBuf != nil || c2.inBody {
		t.Fatalf("rejected upload still holds its body state")
	}
	if l.spare == nil {
		t.Fatal("body state not given back to the loop")
	}
	c2.release()
	if len(l.slots) == 0 || len(l.slots) > maxFreeSlots {
		t.Fatalf("loop keeps %d free slots", len(l.slots))
	}
}

// The loop's free list of response slots is bounded and drops large buffers.
func TestLoopSlotsBounded(t *testing.T) {
	c, _, _ := hitFixture(t)
	l := c.l
	for i := 0; i < maxFreeSlots+10; i++ {
		l.putSlot(&pending{out: make([]byte, 0, maxSlotBuf+1), raw: make([]byte, 10)})
	}
	if len(l.slots) != maxFreeSlots {
		t.Fatalf("%d free slots, want %d", len(l.slots), maxFreeSlots)
	}
	for _, p := range l.slots {
		if p.out != nil {
			t.Fatalf("free slot keeps a %d-byte buffer", cap(p.out))
		}
	}
}

// Pipelined connections catching up and going deep again, many at once,
// reuse the loop's spare queues: no queue is grown once every connection
// has been deep once.
func TestDeepQueuesRecycled(t *testing.T) {
	l := &loop{}
	const conns, depth = 64, 16
	qs := make([][]*pending, conns)
	p := &pending{}
	round := func() {
		for i := range qs { // every connection goes deep...
			for range depth {
				if len(qs[i]) == cap(qs[i]) {
					qs[i] = l.growQueue(qs[i])
				}
				qs[i] = append(qs[i], p)
			}
		}
		for i := range qs { // ...and catches up, as popFront leaves it
			if cap(qs[i]) > maxIdleQueue {
				l.putQueue(qs[i])
				qs[i] = nil
			} else {
				qs[i] = qs[i][:0]
			}
		}
	}
	round()
	if allocs := testing.AllocsPerRun(20, round); allocs != 0 {
		t.Errorf("%.1f allocations per round of %d connections %d deep", allocs, conns, depth)
	}
	for _, q := range l.spareQ {
		if len(q) != 0 || q[:cap(q)][0] != nil {
			t.Fatal("a spare queue holds references")
		}
	}
}
