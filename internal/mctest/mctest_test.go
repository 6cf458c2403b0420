package mctest

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// roundTrip sends "version" and reports whether memcached answered within d.
func roundTrip(t *testing.T, addr string, d time.Duration) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && len(line) > 8 && line[:8] == "VERSION "
}

func TestServerLifecycle(t *testing.T) {
	s := Start(t, "-m", "16")
	if !roundTrip(t, s.Addr, time.Second) {
		t.Fatal("fresh server does not answer")
	}
	s.Freeze()
	if roundTrip(t, s.Addr, 200*time.Millisecond) {
		t.Fatal("frozen server answered")
	}
	s.Thaw()
	if !roundTrip(t, s.Addr, time.Second) {
		t.Fatal("thawed server does not answer")
	}
	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("killed server still accepts")
	}
	s.Kill() // a second Kill is a no-op
	addr := s.Addr
	s.Restart()
	if s.Addr != addr || !roundTrip(t, s.Addr, time.Second) {
		t.Fatalf("restarted server on %s (was %s) does not answer", s.Addr, addr)
	}
}
