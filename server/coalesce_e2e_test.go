package server_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server"
)

// TestColdPageFetchedOnce: many clients miss the same cold page at once; on
// one loop the origin sees one request and everyone gets the page.
// An uncacheable page is not shared: each client gets its own response.
func TestCoalescedMisses(t *testing.T) {
	o := newOrigin(t)
	var private atomic.Int64
	o.handle("/cold", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		fmt.Fprint(w, "popular page")
	})
	o.handle("/mine", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		n := private.Add(1)
		w.Header().Set("Set-Cookie", "id="+strconv.FormatInt(n, 10))
		fmt.Fprintf(w, "for %d", n)
	})
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Loops = 1 })
	const clients = 20
	for _, path := range []string{"/cold", "/mine"} {
		var wg sync.WaitGroup
		bodies := make([]string, clients)
		cookies := make([]string, clients)
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := dial(t, p.addr)
				r := c.get(path)
				bodies[i], cookies[i] = string(r.body), r.Header.Get("Set-Cookie")
			}(i)
		}
		wg.Wait()
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
