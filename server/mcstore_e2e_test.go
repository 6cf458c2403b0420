package server_test

// Pages in memcached: real memcached processes (internal/mctest), mcpage's
// per-loop client (server/mcstore over mcclient.LoopClient).

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rainycape/memcache"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/mcstore"
	"github.com/mcpage/mcpage/server/pagerecord"
	"github.com/mcpage/mcpage/server/pagestore"
)

// withMemcached makes the proxy keep its pages in the memcached servers
// at addrs, the way cmd/mcpage wires -memcached.
func withMemcached(t *testing.T, opTimeout time.Duration, addrs ...string) func(*server.Config) {
	t.Helper()
	var list []ketama.Server
	for _, a := range addrs {
		list = append(list, ketama.Server{Addr: a})
	}
	ring, err := ketama.New(list)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mcclient.Config{OpTimeout: opTimeout, ConnectTimeout: time.Second, RetryInterval: 200 * time.Millisecond}
	return func(c *server.Config) {
		c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(el, ring, cfg)
			if err != nil {
				panic(err)
			}
			return mcstore.New(lc, 5*time.Millisecond)
		}
	}
}

// A miss is stored in memcached and the next request, on another mcpage
// process sharing the cluster, is a hit; the record is what another
// memcached client reads under the page's key.
func TestMemcachedMissThenHitAcrossProcesses(t *testing.T) {
	mcs := []*mctest.Server{mctest.Start(t), mctest.Start(t), mctest.Start(t)}
	addrs := []string{mcs[0].Addr, mcs[1].Addr, mcs[2].Addr}
	o := newOrigin(t)
	body := bytes.Repeat([]byte("shared page "), 400) // compressible: stored gzip'd
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(append([]byte(r.URL.Path+" "), body...))
	})
	a := startProxy(t, o.addr(), withMemcached(t, time.Second, addrs...))
	b := startProxy(t, o.addr(), withMemcached(t, time.Second, addrs...))
	for i := 0; i < 6; i++ {
		path := fmt.Sprintf("/page/%d", i)
		want := append([]byte(path+" "), body...)
		r1 := dial(t, a.addr).get(path, "Accept-Encoding: gzip")
		if r1.xcache() != "MISS" || !bytes.Equal(r1.plain(t), want) {
			t.Fatalf("%s via a: %s %d bytes", path, r1.xcache(), len(r1.body))
		}
		// b never saw it: a hit only through memcached (the store is written
		// when a's response is queued; retry briefly for the ms to land).
		var r2 *response
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			r2 = dial(t, b.addr).get(path)
			if r2.xcache() == "HIT" || time.Now().After(deadline) {
				break
			}
		}
		if r2.xcache() != "HIT" || !bytes.Equal(r2.plain(t), want) {
			t.Fatalf("%s via b: %s, %d bytes", path, r2.xcache(), len(r2.body))
		}
		// Cross-check with another client: the value under the key is a record.
		key := cachepolicy.AppendKey(nil, nil, []byte("example.test"), []byte(path))
		var rec pagerecord.Record
		found := false
		for _, addr := range addrs {
			cl, err := memcache.New(addr)
			if err != nil {
				t.Fatal(err)
			}
			it, err := cl.Get(string(key))
			cl.Close()
			if err != nil {
				continue
			}
			found = true
			if err := pagerecord.Decode(it.Value, &rec); err != nil || rec.Status != 200 {
				t.Fatalf("%s: value on %s is not the record: %v", path, addr, err)
			}
		}
		if !found {
			t.Fatalf("%s: no memcached server holds %q", path, key)
		}
	}
	if n := o.hits("/page/0"); n != 1 {
		t.Fatalf("origin saw /page/0 %d times, want 1", n)
	}
}

// A dead or frozen memcached never breaks a request: lookups become misses
// within the operation timeout and are answered from the origin, with no
// 5xx; hits resume when the server is back.
func TestMemcachedDownIsAMiss(t *testing.T) {
	mc := mctest.Start(t)
	o := newOrigin(t)
	var n atomic.Int64
	o.handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s #%d", r.URL.Path, n.Add(1))
	})
	p := startProxy(t, o.addr(), withMemcached(t, 200*time.Millisecond, mc.Addr))
	c := dial(t, p.addr)
	check := func(phase string, i int) *response {
		t.Helper()
		r := c.get(fmt.Sprintf("/d%d", i))
		if r.StatusCode != 200 || !bytes.HasPrefix(r.body, []byte(fmt.Sprintf("/d%d #", i))) {
			t.Fatalf("%s: request %d: %d %q", phase, i, r.StatusCode, r.body)
		}
		return r
	}
	for i := 0; i < 3; i++ {
		check("up", i)
	}
	mc.Freeze()
	for i := 0; i < 5; i++ {
		check("frozen", i)
	}
	mc.Thaw()
	mc.Kill()
	for i := 0; i < 5; i++ {
		check("dead", i)
	}
	mc.Restart()
	// Hits resume by themselves once the server is probed back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		check("restarted", 100)
		if r := check("restarted", 100); r.xcache() == "HIT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no hit after memcached came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
