package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// TestCoalescedMisses: many clients miss the same cold page at once; with
// one loop or several (clients spread over them), the origin sees one
// request and everyone gets the page.
// An uncacheable page is not shared: each client gets its own response.
func TestCoalescedMisses(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) { testCoalescedMisses(t, loops) })
	}
}

func testCoalescedMisses(t *testing.T, loops int) {
	o := newOrigin(t)
	var private atomic.Int64
	const clients = 20
	var p *proxy
	// The first request of each path is held at the origin until every
	// other client's miss has joined it (an event the proxy counts), so the
	// fill is in flight when they arrive whatever the scheduling.
	var base atomic.Int64
	var leader sync.Map
	hold := func(path string) {
		if _, loaded := leader.LoadOrStore(path, true); loaded {
			return
		}
		deadline := time.Now().Add(20 * time.Second)
		for p.Stats().Coalesced.Load() < base.Load()+clients-1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	o.handle("/cold", func(w http.ResponseWriter, r *http.Request) {
		hold(r.URL.Path)
		fmt.Fprint(w, "popular page")
	})
	o.handle("/mine", func(w http.ResponseWriter, r *http.Request) {
		hold(r.URL.Path)
		n := private.Add(1)
		w.Header().Set("Set-Cookie", "id="+strconv.FormatInt(n, 10))
		fmt.Fprintf(w, "for %d", n)
	})
	p = startProxy(t, o.addr(), func(c *server.Config) { c.Loops = loops })
	for _, path := range []string{"/cold", "/mine"} {
		base.Store(p.Stats().Coalesced.Load())
		var wg sync.WaitGroup
		bodies := make([]string, clients)
		cookies := make([]string, clients)
		errs := make(chan error, clients)
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				resp, err := http.Get("http://" + p.addr + path)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				bodies[i], cookies[i] = string(b), resp.Header.Get("Set-Cookie")
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		switch path {
		case "/cold":
			if n := o.hits(path); n != 1 {
				t.Fatalf("%s: origin saw %d requests for %d concurrent clients, want 1", path, n, clients)
			}
			for i, b := range bodies {
				if b != "popular page" {
					t.Fatalf("client %d got %q", i, b)
				}
			}
		case "/mine":
			if n := o.hits(path); n != clients {
				t.Fatalf("%s: origin saw %d requests, want %d (never shared)", path, n, clients)
			}
			seen := map[string]bool{}
			for i := range bodies {
				if bodies[i] != "for "+cookies[i][len("id="):] || seen[cookies[i]] {
					t.Fatalf("client %d got body %q with cookie %q", i, bodies[i], cookies[i])
				}
				seen[cookies[i]] = true
			}
		}
	}
}
