package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/mcstore"
)

// heldGauge reads mcpage_response_bytes_held from the server's metrics.
func heldGauge(t *testing.T, p *proxy) int {
	t.Helper()
	var m bytes.Buffer
	p.WritePrometheus(&m)
	g := regexp.MustCompile(`(?m)^mcpage_response_bytes_held (\d+)$`).FindStringSubmatch(m.String())
	if g == nil {
		t.Fatal("metrics lack mcpage_response_bytes_held")
	}
	n, _ := strconv.Atoi(g[1])
	return n
}

// settledHeld waits until p's connections hold queued slots of which none
// waits for an answer (the pipelined requests have been parsed, and every
// lookup or fill started has been answered: with a client that reads
// nothing, nothing moves after that), checking the bound at every look.
func settledHeld(t *testing.T, p *proxy, bound int) server.HeldState {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h := p.HeldState()
		if h.Held > bound {
			t.Fatalf("connections hold %d bytes of responses, past the bound %d (%+v)", h.Held, bound, h)
		}
		if h.Waiting == 0 && h.Queued > 0 {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookups never settled: %+v", h)
		}
	}
}

// A client that pipelines 32 GETs of 1 MB pages over one connection and
// reads nothing makes the proxy hold at most MaxHeld plus one response
// (not 32 copies of a memcached page); when it reads, all 32 arrive in
// order, byte-identical, as HITs. With both stores, and with memcached as
// cmd/mcpage configures it (elections, pages kept past freshness).
func TestHeldBoundPipelinedBigPages(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) { heldBoundPipelined(t, mod, true) })
	t.Run("memcached-elect", func(t *testing.T) {
		mc := mctest.Start(t)
		heldBoundPipelined(t, withMemcachedStore(t, mcstore.Config{}, mc.Addr), true)
	})
}

// The same with pages not cached yet: the first request for each page
// fills it, the others wait for that fill (coalesce.go) and are answered
// from the page it stored, which is held under the same bound.
func TestHeldBoundPipelinedFillWaiters(t *testing.T) {
	eachStore(t, func(t *testing.T, mod func(*server.Config)) { heldBoundPipelined(t, mod, false) })
}

// heldBoundPipelined is TestHeldBoundPipelinedBigPages with one store,
// after warming the pages up or not.
func heldBoundPipelined(t *testing.T, mod func(*server.Config), warmUp bool) {
	const size, kinds, n = 1_000_000, 4, 32
	pages := make([][]byte, kinds)
	o := newOrigin(t)
	for i := range pages {
		pages[i] = randomBody(size, uint64(i+1))
		page := pages[i]
		o.handle(fmt.Sprintf("/p%d", i), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "max-age=600")
			w.Write(page)
		})
	}
	p := startProxy(t, o.addr(), func(c *server.Config) {
		mod(c)
		c.Loops = 1
	})
	if warmUp {
		warm := dial(t, p.addr)
		for i := range pages {
			warm.get(fmt.Sprintf("/p%d", i))
			expectBody(t, "warm-up", warm.get(fmt.Sprintf("/p%d", i)), "HIT", pages[i])
		}
	}

	var reqs strings.Builder
	for i := 0; i < n; i++ {
		reqs.WriteString(request("GET", fmt.Sprintf("/p%d", i%kinds)))
	}
	c := dial(t, p.addr)
	c.send(reqs.String())
	bound := server.DefaultMaxHeld + size + 4<<10 // plus the head slot's copy
	h := settledHeld(t, p, bound)
	if g := heldGauge(t, p); g != h.Held {
		t.Errorf("mcpage_response_bytes_held %d, connections hold %d", g, h.Held)
	}
	t.Logf("settled: %+v", h)

	for i := 0; i < n; i++ {
		label := "HIT"
		if !warmUp && i < kinds {
			label = "MISS" // the fills
		}
		expectBody(t, fmt.Sprintf("response %d", i), c.read("GET"), label, pages[i%kinds])
	}
	if h := p.HeldState(); h.Held != 0 || h.Deferred != 0 || h.Queued != 0 {
		t.Errorf("after reading everything: %+v", h)
	}
	if g := heldGauge(t, p); g != 0 {
		t.Errorf("mcpage_response_bytes_held %d after reading everything", g)
	}
}
