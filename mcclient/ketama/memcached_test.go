//go:build unix

package ketama

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The strongest check: libmemcached stores keys on real memcached servers,
// and a plain text-protocol connection finds out which server holds each.

// startMemcached runs /usr/bin/memcached on a free loopback port until the
// test ends and returns its "127.0.0.1:port".
func startMemcached(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		bin = "/usr/bin/memcached"
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("memcached is not installed (run `make deps`): %v", err)
		}
	}
	// Another process may take the port between probing and binding.
	for attempt := 0; attempt < 5; attempt++ {
		addr := freeAddr(t)
		host, port, _ := net.SplitHostPort(addr)
		args := []string{"-l", host, "-p", port, "-U", "0", "-m", "16", "-t", "1"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root otherwise
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start memcached: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() { _ = cmd.Process.Kill(); <-exited }
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
				t.Cleanup(stop)
				return addr
			}
			select {
			case <-exited:
				deadline = time.Time{} // port taken: next attempt
			case <-time.After(10 * time.Millisecond):
			}
		}
		stop()
	}
	t.Fatal("memcached did not start on a free loopback port")
	return ""
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// refusingAddr returns a loopback address that refuses connections for the
// rest of the test: a socket bound to it but not listening holds the port,
// so no other process (tests run in parallel on this machine) can take it.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s accepts connections", addr)
	}
	return addr
}

// holders asks every server with text-protocol gets which of keys it holds
// and returns, per key, the index of the one server holding it or -1. It
// fails the test if a key is on two servers.
func holders(t *testing.T, addrs []string, keys [][]byte) []int {
	t.Helper()
	at := make([]int, len(keys))
	for i := range at {
		at[i] = -1
	}
	for si, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		rd := bufio.NewReader(c)
		// Pipelined gets in batches small enough for the socket buffers.
		for lo := 0; lo < len(keys); lo += 100 {
			batch := keys[lo:min(lo+100, len(keys))]
			var req bytes.Buffer
			for _, k := range batch {
				fmt.Fprintf(&req, "get %s\r\n", k)
			}
			if _, err := c.Write(req.Bytes()); err != nil {
				t.Fatal(err)
			}
			for bi, k := range batch {
				hit, err := readGet(rd, k)
				if err != nil {
					t.Fatalf("%s: get %q: %v", addr, k, err)
				}
				if hit {
					if prev := at[lo+bi]; prev >= 0 {
						t.Fatalf("key %.60q on servers %d and %d", k, prev, si)
					}
					at[lo+bi] = si
				}
			}
		}
		c.Close()
	}
	return at
}

// readGet reads one text-protocol get response for key: END, or one VALUE
// block for that key followed by END.
func readGet(rd *bufio.Reader, key []byte) (bool, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return false, err
	}
	if line == "END\r\n" {
		return false, nil
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "VALUE" || f[1] != string(key) {
		return false, fmt.Errorf("unexpected %q", line)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil {
		return false, fmt.Errorf("unexpected %q", line)
	}
	body := make([]byte, n+len("\r\nEND\r\n"))
	if _, err := io.ReadFull(rd, body); err != nil {
		return false, err
	}
	if string(body[n:]) != "\r\nEND\r\n" {
		return false, fmt.Errorf("bad value block %q", body)
	}
	return true, nil
}

// refSet has libmemcached store keys on servers; it returns libmemcached's
// return code for each and the server index it hashed the key to right
// after the attempt.
func refSet(t *testing.T, servers []Server, keys [][]byte, eject bool) (rc, idx []int) {
	t.Helper()
	mode := []string{"set"}
	if eject {
		mode = append(mode, "-eject")
	}
	for i, l := range runRef(t, mode, servers, keys) {
		var r, x int
		if _, err := fmt.Sscanf(l, "%d %d", &r, &x); err != nil || x < 0 || x >= len(servers) {
			t.Fatalf("ketama_ref set answered %q for key %.60q", l, keys[i])
		}
		rc, idx = append(rc, r), append(idx, x)
	}
	return rc, idx
}

// TestLibmemcachedStoresWherePickSays: three real servers, equal and
// unequal weights; every key libmemcached stored sits on Pick's server.
func TestLibmemcachedStoresWherePickSays(t *testing.T) {
	addrs := []string{startMemcached(t), startMemcached(t), startMemcached(t)}
	for vi, weights := range [][]uint32{{1, 1, 1}, {3, 1, 2}} {
		servers := make([]Server, len(addrs))
		for i, a := range addrs {
			servers[i] = Server{Addr: a, Weight: weights[i]}
		}
		r := mustNew(t, servers)
		keys := prefixed("s"+strconv.Itoa(vi)+"/", textKeys(1500, uint64(10+vi))) // no key shared between variants
		rc, _ := refSet(t, servers, keys, false)
		at := holders(t, addrs, keys)
		count := make([]int, len(addrs))
		for i, k := range keys {
			if rc[i] != 0 {
				t.Fatalf("weights %v: libmemcached failed to store %q: rc %d", weights, k, rc[i])
			}
			if p := r.Pick(k); at[i] != p {
				t.Errorf("weights %v: key %.60q stored on server %d, Pick says %d", weights, k, at[i], p)
			}
			if at[i] >= 0 {
				count[at[i]]++
			}
		}
		if slices.Contains(count, 0) {
			t.Errorf("weights %v: a server got no key: %v", weights, count)
		}
	}
}

// TestLibmemcachedEjectionOnRealServers lets libmemcached find a dead
// server itself (connection refused; REMOVE_FAILED_SERVERS, failure limit 1)
// and checks where it stores keys afterwards: exactly where a ring of the
// live servers puts them. Where no live server's point count changes (equal
// weights here) that is PickLive's answer for every key; otherwise
// libmemcached also moves keys between live servers, which PickLive never does.
func TestLibmemcachedEjectionOnRealServers(t *testing.T) {
	live := []string{startMemcached(t), startMemcached(t), startMemcached(t)}
	const dead = 1
	addrs := []string{live[0], refusingAddr(t), live[1], live[2]}
	// agrees: whether every live server keeps its point count once the
	// dead one is gone. Equal weights do (4 → 3 servers: 160 points each);
	// with 3,1,1,2 the live shares 3/7, 1/7, 2/7 become 3/6, 1/6, 2/6.
	for vi, c := range []struct {
		weights []uint32
		agrees  bool
	}{{[]uint32{1, 1, 1, 1}, true}, {[]uint32{3, 1, 1, 2}, false}} {
		weights := c.weights
		servers := make([]Server, len(addrs))
		for i, a := range addrs {
			servers[i] = Server{Addr: a, Weight: weights[i]}
		}
		r := mustNew(t, servers)
		var liveServers []Server
		for i, s := range servers {
			if i != dead {
				liveServers = append(liveServers, s)
			}
		}
		rebuilt := mustNew(t, liveServers)
		alive := func(i int) bool { return i != dead }

		// Lead with keys of the dead server so libmemcached meets the
		// failure first; everything after runs on the rebuilt continuum.
		var keys [][]byte
		const triggers = 3
		prefix := "e" + strconv.Itoa(vi) + "/" // no key shared between variants
		for _, k := range prefixed(prefix+"t/", textKeys(200, uint64(20+vi))) {
			if len(keys) < triggers && r.Pick(k) == dead {
				keys = append(keys, k)
			}
		}
		if len(keys) != triggers {
			t.Fatalf("weights %v: too few keys on the dead server", weights)
		}
		keys = append(keys, prefixed(prefix, textKeys(1500, uint64(30+vi)))...)

		rc, idx := refSet(t, servers, keys, true)
		if rc[0] == 0 {
			t.Fatalf("weights %v: libmemcached stored the first key of the dead server", weights)
		}
		at := holders(t, slices.Concat(addrs[:dead], addrs[dead+1:]), keys)
		movedLive := 0
		for i, k := range keys {
			if at[i] >= dead {
				at[i]++ // holders indexed the live servers only
			}
			if i < triggers {
				continue // stored, or not, while libmemcached was finding out
			}
			if rc[i] != 0 || idx[i] == dead {
				t.Fatalf("weights %v: key %.60q after ejection: rc %d, server %d", weights, k, rc[i], idx[i])
			}
			rb := rebuilt.Pick(k)
			if rb >= dead {
				rb++
			}
			if at[i] != rb {
				t.Errorf("weights %v: key %.60q stored on %d, ring of the live servers says %d", weights, k, at[i], rb)
			}
			pl := r.PickLive(k, alive)
			if c.agrees && at[i] != pl {
				t.Errorf("weights %v: key %.60q stored on %d, PickLive says %d", weights, k, at[i], pl)
			}
			if p := r.Pick(k); p != dead && at[i] != p {
				movedLive++
			}
		}
		if !c.agrees && movedLive == 0 {
			t.Errorf("weights %v: expected libmemcached to move keys between live servers", weights)
		}
		if c.agrees && movedLive != 0 {
			t.Errorf("weights %v: libmemcached moved %d keys between live servers", weights, movedLive)
		}
		t.Logf("weights %v: after ejecting server %d libmemcached moved %d of %d keys between live servers",
			weights, dead, movedLive, len(keys)-triggers)
	}
}

// prefixed returns keys with p in front of each.
func prefixed(p string, keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = append([]byte(p), k...)
	}
	return out
}
