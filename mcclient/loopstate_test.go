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
