package mcclient

import (
	"net"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient/ketama"
)

// TestLoopClientServerStates: a live server shows its connection up, a
// server nobody listens on is ejected once its connects have failed
// FailureLimit times.
func TestLoopClientServerStates(t *testing.T) {
	live := mctest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	ring, err := ketama.New([]ketama.Server{{Addr: live.Addr, Weight: 1}, {Addr: dead, Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e := newLoopEnv(t, ring, Config{FailureLimit: 1, RetryInterval: time.Hour, ConnectTimeout: time.Second})
	e.sweeper(5 * time.Millisecond)
	var st []ServerState
	eventually(t, 10*time.Second, "live up and dead ejected", func() bool {
		e.on(func() { st = e.lc.ServerStates(st[:0]) })
		return len(st) == 2 && st[0].ConnsUp == 1 && !st[0].Ejected && st[1].Ejected && st[1].ConnsUp == 0
	})
	if st[0].Addr != live.Addr || st[1].Addr != dead || st[0].Conns != 1 || st[1].Fails < 1 {
		t.Fatalf("states %+v", st)
	}
}

// TestLoopClientServerCounters: an operation refused by a full queue
// counts as an operation and a refusal; two connections of one server
// timing out in the same sweep are two connection failures but one
// ejection; an operation that finds every server ejected names no server
// and counts nowhere; the counts add up.
func TestLoopClientServerCounters(t *testing.T) {
	mc := mctest.Start(t)
	e := newLoopEnv(t, ringOf(t, mc), Config{ConnsPerServer: 2, MaxPending: 2, FailureLimit: 1, RetryInterval: time.Hour})
	h := newChanHandler()
	state := func() ServerState {
		var st []ServerState
		e.on(func() { st = e.lc.ServerStates(nil) })
		return st[0]
	}
	e.on(func() {
		for i := 0; i < 5; i++ { // round-robin over the two connections: the fifth finds the first full
			err := e.lc.Get([]byte("counters"), GetOptions{}, h, 0)
			if (err == ErrQueueFull) != (i == 4) {
				t.Errorf("get %d: %v", i, err)
			}
		}
	})
	for i := 0; i < 4; i++ {
		h.next(t)
	}
	if st := state(); st.Ops != 5 || st.Replies != 4 || st.Errors != [NumErrorKinds]uint64{ErrKindRefused: 1} || st.ConnsUp != 2 {
		t.Fatalf("after a full queue: %+v", st)
	}
	mc.Freeze()
	defer mc.Thaw()
	e.on(func() {
		for i := 0; i < 2; i++ {
			if err := e.lc.Get([]byte("counters"), GetOptions{}, h, 0); err != nil {
				t.Error(err)
			}
		}
		e.lc.Sweep(time.Now().Add(time.Second))
		if err := e.lc.Get([]byte("counters"), GetOptions{}, h, 0); err != ErrNoServer {
			t.Errorf("get with the only server ejected: %v", err)
		}
	})
	for i := 0; i < 2; i++ {
		if r := h.next(t); r.res.Err != ErrTimeout {
			t.Fatalf("get on a frozen server: %+v", r)
		}
	}
	st := state()
	if st.Ops != 7 || st.Replies != 4 || st.Errors != [NumErrorKinds]uint64{ErrKindRefused: 1, ErrKindTimeout: 2} ||
		st.Ejections != 1 || st.ConnFailures != 2 || !st.Ejected {
		t.Fatalf("after two connections timed out: %+v", st)
	}
	var failed uint64
	for k, n := range st.Errors {
		if ErrorKind(k) != ErrKindServer {
			failed += n
		}
	}
	if st.Ops != uint64(st.Pending)+st.Replies+failed {
		t.Errorf("the counts do not add up: %+v", st)
	}
	if ErrKindTimeout.String() != "timeout" || ErrKindRefused.String() != "refused" || NumErrorKinds.String() != "invalid" {
		t.Error("kind names")
	}
}
