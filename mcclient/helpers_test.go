package mcclient

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient/ketama"
)

// ringOf builds a ring over the given memcached servers, in order.
func ringOf(t testing.TB, servers ...*mctest.Server) *ketama.Ring {
	t.Helper()
	list := make([]ketama.Server, len(servers))
	for i, s := range servers {
		list[i] = ketama.Server{Addr: s.Addr, Weight: 1}
	}
	r, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newClient returns a Client over servers, closed when the test ends.
func newClient(t testing.TB, cfg Config, servers ...*mctest.Server) *Client {
	t.Helper()
	cl, err := New(ringOf(t, servers...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// rawGet asks one server directly, with the classic text protocol on a
// fresh connection, whether it holds key: it tells where a key really is,
// independently of the code under test.
func rawGet(t testing.TB, addr, key string) (string, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("raw dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "get %s\r\n", key)
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("raw get: %v", err)
	}
	if line == "END\r\n" {
		return "", false
	}
	var k string
	var flags, n int
	if _, err := fmt.Sscanf(line, "VALUE %s %d %d", &k, &flags, &n); err != nil {
		t.Fatalf("raw get reply %q: %v", line, err)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

// rawCommand sends one text-protocol line and returns the first reply line.
func rawCommand(t testing.TB, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("raw dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "%s\r\n", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("raw %q: %v", cmd, err)
	}
	return strings.TrimRight(line, "\r\n")
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
