package server_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/pagestore"
)

// textPage is n bytes of HTML-ish text that compresses about as well as a
// real page, different for each seed.
func textPage(n int, seed uint64) []byte {
	words := strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do
		eiusmod tempor incididunt ut labore et dolore magna aliqua <p> </p> <div class="c"> </div>
		<a href="/x"> </a> 0 1 2 3 4 5 6 7 8 9`)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, 0, n+32)
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		if rng.IntN(12) == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

func gzipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zeroBomb returns a valid gzip stream of mib MiB of zeros (about 1 KB per
// MiB) without compressing them all: once the window holds only zeros, the
// deflate block for each further MiB (ended by a sync flush, so it is
// byte-aligned) is the same bytes, so one is repeated.
func zeroBomb(t testing.TB, mib int) []byte {
	t.Helper()
	var blk bytes.Buffer
	fw, err := flate.NewWriter(&blk, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	next := func() []byte {
		blk.Reset()
		fw.Write(zeros)
		fw.Flush()
		return bytes.Clone(blk.Bytes())
	}
	first, rep := next(), next()
	if again := next(); !bytes.Equal(again, rep) {
		t.Fatal("deflate blocks of zeros differ; cannot build the bomb by repetition")
	}
	blk.Reset()
	fw.Close()
	final := bytes.Clone(blk.Bytes()) // the empty final block

	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff} // RFC 1952 header, no name, mtime 0
	out = append(out, first...)
	var crc uint32
	crc = crc32.Update(crc, crc32.IEEETable, zeros)
	for i := 1; i < mib; i++ {
		out = append(out, rep...)
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	out = append(out, final...)
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(mib<<20))
}

// servePage answers with body, storable for a minute, with Content-Encoding
// ce when not empty.
func servePage(body []byte, ce string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=60")
		if ce != "" {
			w.Header().Set("Content-Encoding", ce)
		}
		w.Write(body)
	}
}

// eventually polls cond (a state, not an ordering of events) until it holds.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDecodedTooLargeNotStored: a page that decodes to more than MaxDecoded
// is served but not stored, whether the origin sent it identity (fill would
// gzip it) or gzipped; a smaller one is stored and served to both kinds of
// client.
func TestDecodedTooLargeNotStored(t *testing.T) {
	big := textPage(2<<20, 1)
	small := textPage(600<<10, 2) // over decodeInlineMax: its identity hits decode off the loop
	o := newOrigin(t)
	o.handle("/big", servePage(big, ""))
	o.handle("/bigz", servePage(gzipOf(t, big), "gzip"))
	o.handle("/small", servePage(small, ""))
	o.handle("/smallz", servePage(gzipOf(t, small), "gzip"))
	p := startProxy(t, o.addr(), func(c *server.Config) { c.MaxDecoded = 1 << 20 })
	c := dial(t, p.addr)

	for _, path := range []string{"/big", "/bigz"} {
		for i := 0; i < 2; i++ {
			r := c.get(path, "Accept-Encoding: gzip")
			if r.StatusCode != 200 || r.xcache() != "MISS" {
				t.Fatalf("%s #%d: %d %s, want 200 MISS", path, i, r.StatusCode, r.xcache())
			}
			if d := r.Header.Get("X-Cache-Detail"); d != "not stored: decoded too large" {
				t.Fatalf("%s #%d: X-Cache-Detail %q", path, i, d)
			}
			if !bytes.Equal(r.plain(t), big) {
				t.Fatalf("%s #%d: body differs", path, i)
			}
		}
		if n := o.hits(path); n != 2 {
			t.Fatalf("%s: origin saw %d requests, want 2 (not stored)", path, n)
		}
	}
	// Identity is what the origin sent for /big: passed as is.
	if r := c.get("/big"); r.StatusCode != 200 || !bytes.Equal(r.body, big) {
		t.Fatalf("/big for an identity client: %d, %d bytes", r.StatusCode, len(r.body))
	}
	// /bigz came gzipped because the proxy asked for gzip; it would inflate
	// past MaxDecoded for this client: 502.
	if r := c.get("/bigz"); r.StatusCode != 502 || r.xcache() != "MISS" {
		t.Fatalf("/bigz for an identity client: %d %s, want 502 MISS", r.StatusCode, r.xcache())
	}

	if r := c.get("/small", "Accept-Encoding: gzip"); r.xcache() != "MISS" || r.Header.Get("X-Cache-Detail") != "" {
		t.Fatalf("/small first: %s %q", r.xcache(), r.Header.Get("X-Cache-Detail"))
	}
	for _, ae := range []string{"Accept-Encoding: gzip", "Accept-Encoding: identity", "X-No-AE: 1"} {
		r := c.get("/small", ae)
		if r.StatusCode != 200 || r.xcache() != "HIT" || !bytes.Equal(r.plain(t), small) {
			t.Fatalf("/small with %q: %d %s, body equal %v", ae, r.StatusCode, r.xcache(), bytes.Equal(r.plain(t), small))
		}
	}
	if n := o.hits("/small"); n != 1 {
		t.Fatalf("/small: origin saw %d requests, want 1", n)
	}
	// Sent gzipped by the origin, first asked for by an identity client: the
	// miss is decoded on the worker (under the budget), and stored.
	for i, want := range []string{"MISS", "HIT", "HIT"} {
		r := c.get("/smallz")
		if r.StatusCode != 200 || r.xcache() != want || r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, small) {
			t.Fatalf("/smallz #%d: %d %s CE=%q, body equal %v", i, r.StatusCode, r.xcache(), r.Header.Get("Content-Encoding"), bytes.Equal(r.body, small))
		}
	}
	eventually(t, 10*time.Second, "decode budget not given back", func() bool { return p.DecodeMemoryInUse() == 0 })
}

// heapPeak samples HeapInuse until stop is called, which returns the peak.
func heapPeak() (stop func() uint64) {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				res <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}

// TestGzipBombFromOrigin: 1 GiB of zeros gzipped (about 1 MB), sent by the
// origin to a request the proxy made with Accept-Encoding: gzip on behalf of
// a client that takes no gzip. The client gets a prompt 502 and the process
// allocates a small fraction of the bomb's size (mcpage used to inflate up
// to 256 MiB per request). The bomb is sent with an honest size trailer and
// with a trailing empty member whose trailer says 0, so the bound must come
// from the inflating itself. A client that takes gzip gets the origin's
// bytes, not stored.
func TestGzipBombFromOrigin(t *testing.T) {
	if check := zeroBomb(t, 3); !bytes.Equal(gunzip(t, check), make([]byte, 3<<20)) {
		t.Fatal("zeroBomb builds an invalid stream")
	}
	bomb := zeroBomb(t, 1024)
	twoMembers := append(bytes.Clone(bomb), gzipOf(t, nil)...)
	t.Logf("bomb: %d bytes inflating to 1 GiB", len(bomb))
	o := newOrigin(t)
	o.handle("/bomb", servePage(bomb, "gzip"))
	o.handle("/bomb2", servePage(twoMembers, "gzip"))
	p := startProxy(t, o.addr(), nil)

	for path, body := range map[string][]byte{"/bomb": bomb, "/bomb2": twoMembers} {
		c := dial(t, p.addr)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := heapPeak()
		start := time.Now()
		r := c.get(path)
		took := time.Since(start)
		peak := stop()
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d in %v; allocated %d KiB; HeapInuse %d KiB before, peak %d KiB",
			path, r.StatusCode, took, allocated>>10, before.HeapInuse>>10, peak>>10)
		if r.StatusCode != 502 || r.xcache() != "MISS" {
			t.Fatalf("%s: %d %s, want 502 MISS", path, r.StatusCode, r.xcache())
		}
		if took > 5*time.Second {
			t.Errorf("%s: 502 took %v", path, took)
		}
		if allocated > 32<<20 {
			t.Errorf("%s: the process allocated %d MiB answering a bomb", path, allocated>>20)
		}

		g := c.get(path, "Accept-Encoding: gzip")
		if g.StatusCode != 200 || g.xcache() != "MISS" || g.Header.Get("X-Cache-Detail") != "not stored: decoded too large" {
			t.Fatalf("%s for a gzip client: %d %s %q", path, g.StatusCode, g.xcache(), g.Header.Get("X-Cache-Detail"))
		}
		if g.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(g.body, body) {
			t.Fatalf("%s for a gzip client: not the origin's bytes", path)
		}
	}
	if n := o.hits("/bomb"); n != 2 {
		t.Fatalf("origin saw %d requests for /bomb, want 2 (never stored)", n)
	}
	eventually(t, 10*time.Second, "decode budget not given back", func() bool { return p.DecodeMemoryInUse() == 0 })
}

// rawGet sends one GET without Accept-Encoding on a fresh connection and
// returns the body; for goroutines, which must not call t.Fatal.
func rawGet(addr, path string) (*http.Response, []byte, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, request("GET", path)); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: "GET"})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// TestLargeDecodeOffLoop: a stored gzipped page too large to inflate on the
// loop is inflated off it for identity clients. While that inflating is held
// (the decode hook blocks), another client of the same (only) loop gets its
// hits answered; the held request's connection keeps its responses in order;
// and several identity clients at once all get the page byte-exact, the
// decode budget going back to zero once everything has been written.
func TestLargeDecodeOffLoop(t *testing.T) {
	page := textPage(6<<20, 3)
	tiny := []byte("small page\n")
	o := newOrigin(t)
	o.handle("/large", servePage(page, ""))
	o.handle("/small", servePage(tiny, ""))
	p := startProxy(t, o.addr(), func(c *server.Config) { c.Loops = 1 })

	warm := dial(t, p.addr)
	if r := warm.get("/large", "Accept-Encoding: gzip"); r.xcache() != "MISS" || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("fill: %s CE=%q, want MISS stored gzipped", r.xcache(), r.Header.Get("Content-Encoding"))
	}
	warm.get("/small")

	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	server.SetDecodeHook(func() {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
	})
	t.Cleanup(func() { open(); server.SetDecodeHook(nil) }) // before the proxy's shutdown

	a := dial(t, p.addr)
	a.send(request("GET", "/large") + request("GET", "/small"))
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the large identity hit was not handed off the loop")
	}
	// The large decode is in progress; the loop still serves everyone else.
	b := dial(t, p.addr)
	for i := 0; i < 3; i++ {
		if r := b.get("/small"); r.xcache() != "HIT" || !bytes.Equal(r.body, tiny) {
			t.Fatalf("small hit #%d during the large decode: %s", i, r.xcache())
		}
	}
	open()
	if r := a.read("GET"); r.xcache() != "HIT" || r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, page) {
		t.Fatalf("large identity hit: %s CE=%q %d bytes, equal %v", r.xcache(), r.Header.Get("Content-Encoding"), len(r.body), bytes.Equal(r.body, page))
	}
	if r := a.read("GET"); !bytes.Equal(r.body, tiny) {
		t.Fatal("pipelined response after the large one is not the small page")
	}

	const clients = 3
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			resp, body, err := rawGet(p.addr, "/large")
			switch {
			case err != nil:
				errs <- err
			case resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "HIT" || !bytes.Equal(body, page):
				errs <- fmt.Errorf("identity client: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("X-Cache"), len(body))
			default:
				errs <- nil
			}
		}()
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "decode budget not given back", func() bool { return p.DecodeMemoryInUse() == 0 })
	if n := o.hits("/large"); n != 1 {
		t.Fatalf("origin saw %d requests for /large, want 1", n)
	}
}

// TestStoredPageDecodingTooLargeRefused: a record written by another
// instance with a larger MaxDecoded (a shared store) that decodes to more
// than this instance's MaxDecoded is served to clients that take its
// encoding, refused with 502 to the others, and deleted. Covered for a gzip
// trailer that tells the size and for one that does not (two members).
func TestStoredPageDecodingTooLargeRefused(t *testing.T) {
	store, err := pagestore.NewEmbedded(pagestore.EmbeddedConfig{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	shared := func(int, gnet.EventLoop) pagestore.Store { return store }
	page := textPage(3<<20, 4)
	o := newOrigin(t)
	o.handle("/one", servePage(page, ""))                                           // fill gzips it: one member
	o.handle("/two", servePage(append(gzipOf(t, page), gzipOf(t, nil)...), "gzip")) // trailer says 0
	writer := startProxy(t, o.addr(), func(c *server.Config) { c.MaxDecoded = 16 << 20; c.NewStore = shared })
	reader := startProxy(t, o.addr(), func(c *server.Config) { c.MaxDecoded = 1 << 20; c.NewStore = shared })
	w, r := dial(t, writer.addr), dial(t, reader.addr)
	for _, path := range []string{"/one", "/two"} {
		w.get(path, "Accept-Encoding: gzip")
		if h := w.get(path, "Accept-Encoding: gzip"); h.xcache() != "HIT" {
			t.Fatalf("%s: writer did not store it: %s", path, h.xcache())
		}
		if g := r.get(path, "Accept-Encoding: gzip"); g.xcache() != "HIT" || !bytes.Equal(g.plain(t), page) {
			t.Fatalf("%s: gzip client of the reader: %s", path, g.xcache())
		}
		if id := r.get(path); id.StatusCode != 502 || id.xcache() != "HIT" {
			t.Fatalf("%s: identity client of the reader: %d %s, want 502 HIT", path, id.StatusCode, id.xcache())
		}
		g := r.get(path, "Accept-Encoding: gzip")
		if g.xcache() != "MISS" || g.Header.Get("X-Cache-Detail") != "not stored: decoded too large" {
			t.Fatalf("%s after the refusal: %s %q, want a MISS not stored", path, g.xcache(), g.Header.Get("X-Cache-Detail"))
		}
	}
	eventually(t, 10*time.Second, "decode budget not given back", func() bool { return reader.DecodeMemoryInUse() == 0 })
}
