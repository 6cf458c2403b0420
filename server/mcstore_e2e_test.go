package server_test

// Pages in memcached: real memcached processes (internal/mctest), mcpage's
// per-loop client (server/mcstore over mcclient.LoopClient).

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
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
	if opTimeout == 0 {
		opTimeout = time.Second
	}
	cfg := mcclient.Config{OpTimeout: opTimeout, ConnectTimeout: time.Second, RetryInterval: 200 * time.Millisecond}
	return func(c *server.Config) {
		c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
			lc, err := mcclient.NewLoopClient(el, ring, cfg)
			if err != nil {
				panic(err)
			}
			return mcstore.New(lc, mcstore.Config{SweepEvery: 5 * time.Millisecond, FillTTL: 10, FillWait: time.Second, Keep: server.MaxStaleKeep})
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
		if r := check("restarted", 100); r.xcache() == "HIT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no hit after memcached came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Across processes sharing memcached, one fills a cold page and the others
// wait for it (mg N placeholder): the origin sees one request. If the page
// turns out not to be storable, the filler removes its placeholder and the
// waiters fetch their own at once.
func TestMemcachedOneFillerAcrossProcesses(t *testing.T) {
	mc := mctest.Start(t)
	release := make(chan struct{}, 4)
	o := newOrigin(t)
	o.handle("/cold", func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "cold page")
	})
	var mine atomic.Int64
	o.handle("/mine", func(w http.ResponseWriter, r *http.Request) {
		<-release
		n := mine.Add(1)
		w.Header().Set("Set-Cookie", fmt.Sprintf("id=%d", n))
		fmt.Fprintf(w, "for %d", n)
	})
	var mu sync.Mutex
	var bStores []*mcstore.Store
	storesOf := func(list *[]*mcstore.Store) func(*server.Config) {
		ring, err := ketama.New([]ketama.Server{{Addr: mc.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		return func(c *server.Config) {
			c.Loops = 1
			c.NewStore = func(_ int, el gnet.EventLoop) pagestore.Store {
				lc, err := mcclient.NewLoopClient(el, ring, mcclient.Config{OpTimeout: time.Second})
				if err != nil {
					panic(err)
				}
				st := mcstore.New(lc, mcstore.Config{SweepEvery: 5 * time.Millisecond, FillTTL: 10, FillWait: 10 * time.Second})
				if list != nil {
					mu.Lock()
					*list = append(*list, st)
					mu.Unlock()
				}
				return st
			}
		}
	}
	a := startProxy(t, o.addr(), storesOf(nil))
	b := startProxy(t, o.addr(), storesOf(&bStores))
	waiting := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		var n int64
		for _, st := range bStores {
			n += st.Waiting()
		}
		return n
	}
	for _, path := range []string{"/cold", "/mine"} {
		ca, cb := dial(t, a.addr), dial(t, b.addr)
		ca.send(request("GET", path))
		for o.hits(path) == 0 { // a won and its fetch is at the origin
			time.Sleep(time.Millisecond)
		}
		cb.send(request("GET", path))
		for deadline := time.Now().Add(10 * time.Second); waiting() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: b never waited for a's fill", path)
			}
		}
		release <- struct{}{}
		ra := ca.read("GET")
		if path == "/mine" {
			release <- struct{}{} // b fetches its own once a abandons the fill
		}
		rb := cb.read("GET")
		switch path {
		case "/cold":
			if string(ra.body) != "cold page" || string(rb.body) != "cold page" || rb.xcache() != "HIT" {
				t.Fatalf("%s: a %q (%s), b %q (%s)", path, ra.body, ra.xcache(), rb.body, rb.xcache())
			}
			if n := o.hits(path); n != 1 {
				t.Fatalf("%s: origin saw %d requests from two processes, want 1", path, n)
			}
		case "/mine":
			if string(ra.body) == string(rb.body) || o.hits(path) != 2 {
				t.Fatalf("%s: a %q, b %q, origin %d: a private page was shared", path, ra.body, rb.body, o.hits(path))
			}
		}
	}
}

// waitHit asks for path until it is a HIT (a store just written through
// another process lands asynchronously), bounded.
func waitHit(t *testing.T, c *client, path string) *response {
	t.Helper()
	return waitLabel(t, c, path, "HIT")
}
