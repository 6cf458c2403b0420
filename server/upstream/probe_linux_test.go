//go:build linux

package upstream

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

const connProbeSupported = true

// TestDialBlackholed checks that an address that never completes the TCP
// handshake (a listener whose accept queue is full drops SYNs) fails within
// DialTimeout, as a timeout.
func TestDialBlackholed(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Fill the accept queue (never accepted): later SYNs are dropped.
	for range 2 {
		c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(c)
		syscall.Connect(c, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
	}
	time.Sleep(50 * time.Millisecond)

	const dialTimeout = 300 * time.Millisecond
	p := newPool(t, Config{Addrs: []string{addr}, Timeout: 5 * time.Second, DialTimeout: dialTimeout})
	start := time.Now()
	j := roundTrip(t, p, get("/"))
	elapsed := time.Since(start)
	if j.Err == ErrBadResponse || j.Err == ErrUpstreamClosed {
		t.Skipf("the kernel completed the handshake (%v): cannot blackhole on this machine", j.Cause)
	}
	if j.Err != ErrTimeout {
		t.Fatalf("Err = %v (%v), want ErrTimeout", j.Err, j.Cause)
	}
	if elapsed < dialTimeout-20*time.Millisecond || elapsed > dialTimeout+time.Second {
		t.Fatalf("failed after %v, want about %v", elapsed, dialTimeout)
	}
}
