package mcclient

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
)

// connectLoop dials the env's first connection ahead and waits until it is
// up; it returns that connection.
func connectLoop(t *testing.T, e *loopEnv) *loopConn {
	t.Helper()
	c := e.lc.servers[0].conns[0]
	e.on(func() { e.lc.Sweep(time.Now()) })
	eventually(t, 5*time.Second, "connection up", func() bool {
		var up bool
		e.on(func() { up = c.phase == phaseUp })
		return up
	})
	return c
}

// waitStalled waits until memcached, frozen, has stopped reading c: gnet
// holds a slice's worth of what was handed to it and more commands wait
// in the client. It returns what gnet holds then.
func waitStalled(t *testing.T, e *loopEnv, c *loopConn) int {
	t.Helper()
	var held int
	eventually(t, 10*time.Second, "the socket to fill", func() bool {
		var stalled bool
		e.on(func() {
			held = c.link.gc.OutboundBuffered()
			stalled = held >= c.st.sliceMax && c.st.unhanded()
		})
		return stalled
	})
	return held
}

// bigValue is n bytes that differ from key to key, so that a value stored
// under the wrong key or shifted by a byte shows.
func bigValue(i, n int) []byte {
	v := make([]byte, n)
	x := uint32(i)*2654435761 + 1
	for j := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[j] = byte(x)
	}
	return v
}

// 256 values of 100 KB, a few of 1 MiB and small ones between them, all
// started at once on one loop: they go out in slices of whole commands no
// larger than the bound (or one larger command alone), gnet never holds
// more than two slices, and every value is stored and read back exactly.
// memcached is frozen while they are started, so the socket fills up and
// most of them wait in the client.
func TestLoopClientLargeValuesInFlight(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t, "-m", "256", "-I", "2m")
	for _, writeMax := range []int{loopWriteMax, 64 << 10} {
		t.Run(fmt.Sprintf("writeMax=%d", writeMax), func(t *testing.T) {
			e := newLoopEnv(t, ringOf(t, mc), Config{OpTimeout: time.Minute, MaxValueSize: 2 << 20})
			c := connectLoop(t, e)
			e.on(func() { c.st.sliceMax = writeMax })
			var keys, values [][]byte
			largest := 0
			for i := 0; i < 256; i++ {
				keys = append(keys, fmt.Appendf(nil, "inflight:%d:%d", writeMax, len(keys)))
				values = append(values, bigValue(len(values), 100<<10))
				switch {
				case i%64 == 63:
					keys = append(keys, fmt.Appendf(nil, "inflight:%d:%d", writeMax, len(keys)))
					values = append(values, bigValue(len(values), 1<<20+i))
					largest = max(largest, 1<<20+i)
				case i%16 == 5:
					keys = append(keys, fmt.Appendf(nil, "inflight:%d:%d", writeMax, len(keys)))
					values = append(values, bigValue(len(values), 10))
				}
			}
			mc.Freeze()
			thawed := false
			defer func() {
				if !thawed {
					mc.Thaw()
				}
			}()
			h := newChanHandler()
			e.on(func() {
				e.lc.Cork()
				for i := range keys {
					if err := e.lc.Set(keys[i], values[i], SetOptions{Flags: uint32(i)}, h, uint64(i)); err != nil {
						t.Errorf("set %d: %v", i, err)
					}
				}
				e.lc.Uncork()
			})
			// A command is at most 100 bytes longer than its value.
			bound := max(writeMax, largest+100)
			held := waitStalled(t, e, c)
			var pending int
			e.on(func() { pending = e.lc.Pending() })
			if held >= writeMax+bound || pending != len(keys) {
				t.Fatalf("stalled with %d bytes in gnet (want < %d) and %d of %d sets pending", held, writeMax+bound, pending, len(keys))
			}
			mc.Thaw()
			thawed = true
			for range keys {
				if r := h.next(t); r.res.Status != StatusOK {
					t.Fatalf("set %d: %+v", r.token, r.res)
				}
			}
			var writes uint64
			var maxWrite, maxOutbound int
			e.on(func() { writes, maxWrite, maxOutbound = c.writes, c.maxWrite, c.maxOutbound })
			t.Logf("%d sets in %d writes, the largest %d bytes; gnet held at most %d bytes", len(keys), writes, maxWrite, maxOutbound)
			if maxWrite > bound || maxOutbound >= writeMax+bound {
				t.Fatalf("largest write %d bytes (bound %d), gnet held up to %d (bound %d)", maxWrite, bound, maxOutbound, writeMax+bound)
			}
			// Read back, all at once too: large values in flight the other way.
			e.on(func() {
				e.lc.Cork()
				for i := range keys {
					if err := e.lc.Get(keys[i], GetOptions{}, h, uint64(i)); err != nil {
						t.Errorf("get %d: %v", i, err)
					}
				}
				e.lc.Uncork()
			})
			for range keys {
				r := h.next(t)
				if r.res.Status != StatusOK || r.res.Flags != uint32(r.token) || r.value != string(values[r.token]) {
					t.Fatalf("get %d: status %v, flags %d, %d bytes: not the %d bytes stored", r.token, r.res.Status, r.res.Flags, len(r.value), len(values[r.token]))
				}
			}
			last := len(keys) - 1
			for i := range keys {
				if len(values[i]) > 1<<20 {
					last = i
				}
			}
			if v, ok := rawGet(t, mc.Addr, string(keys[last])); !ok || v != string(values[last]) {
				t.Fatalf("memcached holds %d bytes under %s, not the %d stored", len(v), keys[last], len(values[last]))
			}
		})
	}
}

// An operation that times out while its command is half in the socket,
// and the ones still waiting in the client behind it, all fail with
// ErrTimeout; the connection is closed rather than reused (the stream is
// cut inside a command) and a new one serves what follows.
func TestLoopClientTimeoutMidWrite(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	// Nothing sweeps but the test, so the short timeout only takes effect
	// when the test says.
	const timeout = 50 * time.Millisecond
	e := newLoopEnv(t, ringOf(t, mc), Config{OpTimeout: timeout, FailureLimit: -1, ReconnectBackoff: time.Millisecond})
	c := connectLoop(t, e)
	mc.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			mc.Thaw()
		}
	}()
	const n = 64
	h := newChanHandler()
	e.on(func() {
		e.lc.Cork()
		for i := 0; i < n; i++ {
			if err := e.lc.Set(fmt.Appendf(nil, "midwrite:%d", i), bigValue(i, 256<<10), SetOptions{}, h, uint64(i)); err != nil {
				t.Errorf("set %d: %v", i, err)
			}
		}
		e.lc.Uncork()
	})
	waitStalled(t, e, c)
	var link *loopLink
	e.on(func() {
		link = c.link
		// Sweep as if the timeout had passed: no waiting on a clock.
		e.lc.Sweep(time.Now().Add(timeout))
	})
	seen := make(map[uint64]bool)
	for range n {
		r := h.next(t)
		if r.res.Err != ErrTimeout || seen[r.token] {
			t.Fatalf("set %d: %+v (seen before: %v)", r.token, r.res, seen[r.token])
		}
		seen[r.token] = true
	}
	e.on(func() {
		if !link.dead || c.link == link || c.phase != phaseBackoff || c.st.unhanded() || c.st.pending() != 0 {
			t.Errorf("after the timeout: link dead %v, replaced %v, phase %v, unhanded %v, pending %d",
				link.dead, c.link != link, c.phase, c.st.unhanded(), c.st.pending())
		}
	})
	mc.Thaw()
	thawed = true
	want := bigValue(n, 300<<10)
	eventually(t, 5*time.Second, "a new connection", func() bool {
		r := e.do(func(h Handler) error { return e.lc.Set([]byte("midwrite:after"), want, SetOptions{}, h, 0) })
		return r.res.Status == StatusOK
	})
	if r := e.do(func(h Handler) error { return e.lc.Get([]byte("midwrite:after"), GetOptions{}, h, 0) }); r.value != string(want) {
		t.Fatalf("get after recovery: %+v, %d bytes", r.res, len(r.value))
	}
}
