package mcclient

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
)

// One memcached for the Client tests that do not break it.
func sharedServer(t *testing.T) *mctest.Server {
	t.Helper()
	return mctest.Start(t, "-m", "64")
}

func TestClientRoundTrips(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	k := []byte("rt:key")

	res, err := cl.Get(k, nil, GetOptions{})
	if err != nil || res.Status != StatusMiss || res.Value != nil {
		t.Fatalf("get before set: %+v %v", res, err)
	}
	res, err = cl.Set(k, []byte("hello"), SetOptions{TTL: 60, Flags: 123})
	if err != nil || res.Status != StatusOK || res.CAS == 0 {
		t.Fatalf("set: %+v %v", res, err)
	}
	cas := res.CAS
	res, err = cl.Get(k, []byte("prefix:"), GetOptions{})
	if err != nil || res.Status != StatusOK || string(res.Value) != "prefix:hello" || res.Flags != 123 ||
		res.CAS != cas || res.TTL <= 0 || res.TTL > 60 {
		t.Fatalf("get: %+v %v", res, err)
	}
	if got, ok := rawGet(t, mc.Addr, string(k)); !ok || got != "hello" {
		t.Fatalf("memcached holds %q, %v", got, ok)
	}
	// Metadata-only fetch with touch, hit-before and last-access.
	res, err = cl.Get(k, nil, GetOptions{NoValue: true, Touch: true, TouchTTL: 300, WantHitBefore: true, WantLastAccess: true})
	if err != nil || res.Status != StatusOK || res.Value != nil || !res.HitBefore || res.TTL != 300 {
		t.Fatalf("get meta: %+v %v", res, err)
	}
	// Modes.
	if res, _ = cl.Set(k, []byte("x"), SetOptions{Mode: ModeAdd}); res.Status != StatusNotStored {
		t.Fatalf("add on existing: %v", res.Status)
	}
	if res, _ = cl.Set([]byte("rt:absent"), []byte("x"), SetOptions{Mode: ModeReplace}); res.Status != StatusNotStored {
		t.Fatalf("replace on missing: %v", res.Status)
	}
	if res, _ = cl.Set(k, []byte("_A"), SetOptions{Mode: ModeAppend}); res.Status != StatusOK {
		t.Fatalf("append: %v", res.Status)
	}
	if res, _ = cl.Set(k, []byte("P_"), SetOptions{Mode: ModePrepend}); res.Status != StatusOK {
		t.Fatalf("prepend: %v", res.Status)
	}
	if res, _ = cl.Get(k, nil, GetOptions{}); string(res.Value) != "P_hello_A" {
		t.Fatalf("after append+prepend: %q", res.Value)
	}
	// Delete, then it is gone.
	if res, err = cl.Delete(k, DeleteOptions{}); err != nil || res.Status != StatusOK {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if res, _ = cl.Delete(k, DeleteOptions{}); res.Status != StatusNotFound {
		t.Fatalf("second delete: %v", res.Status)
	}
	if res, _ = cl.Get(k, nil, GetOptions{}); res.Status != StatusMiss {
		t.Fatalf("get after delete: %v", res.Status)
	}
	// Counters.
	n := []byte("rt:counter")
	if res, _ = cl.Arith(n, ArithOptions{}); res.Status != StatusNotFound {
		t.Fatalf("incr missing: %v", res.Status)
	}
	if res, _ = cl.Arith(n, ArithOptions{Create: true, Initial: 10}); res.Status != StatusOK || res.Number != 10 {
		t.Fatalf("incr with create: %+v", res)
	}
	if res, _ = cl.Arith(n, ArithOptions{}); res.Number != 11 {
		t.Fatalf("incr: %+v", res)
	}
	if res, _ = cl.Arith(n, ArithOptions{Mode: Decr, Delta: 5}); res.Number != 6 {
		t.Fatalf("decr 5: %+v", res)
	}
	if res, _ = cl.Arith(n, ArithOptions{Mode: Decr, Delta: 100}); res.Number != 0 {
		t.Fatalf("decr clamps at 0: %+v", res)
	}
	if res, _ = cl.Arith(n, ArithOptions{Delta: 1 << 40}); res.Number != 1<<40 {
		t.Fatalf("incr by 2^40: %+v", res)
	}
	_, _ = cl.Set([]byte("rt:text"), []byte("abc"), SetOptions{})
	if res, err = cl.Arith([]byte("rt:text"), ArithOptions{}); !errors.Is(err, ErrClientError) || len(res.Message) == 0 {
		t.Fatalf("incr non-numeric: %+v %v", res, err)
	}
	// The connection survived the CLIENT_ERROR.
	if err := cl.Noop(0); err != nil {
		t.Fatalf("noop: %v", err)
	}
	if res, _ = cl.Get([]byte("rt:text"), nil, GetOptions{}); string(res.Value) != "abc" {
		t.Fatalf("get after CLIENT_ERROR: %+v", res)
	}
	if err := cl.Noop(5); err != ErrBadOptions {
		t.Fatalf("noop on server 5 of 1: %v", err)
	}
}

func TestClientKeys(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	keys := [][]byte{
		[]byte("plain"),
		[]byte("with space"),
		{0, 'b', 'i', 'n', 0xff, 'k', 'e', 'y', ' ', '\r', '\n'},
		[]byte("ünïcode"),
		bytes.Repeat([]byte("k"), MaxKeyLength),
		bytes.Repeat([]byte{0x80}, MaxBinaryKeyLength),
		[]byte("YmFzZTY0"), // the base64 text of "base64": a different key
		[]byte("base64"),
	}
	for i, k := range keys {
		if _, err := cl.Set(k, fmt.Appendf(nil, "v%d", i), SetOptions{}); err != nil {
			t.Fatalf("set key %d (%q): %v", i, k, err)
		}
	}
	for i, k := range keys {
		res, err := cl.Get(k, nil, GetOptions{})
		if err != nil || string(res.Value) != fmt.Sprintf("v%d", i) {
			t.Fatalf("get key %d (%q): %q %v", i, k, res.Value, err)
		}
	}
	// memcached stored the raw bytes of an encoded key: the plain-text
	// protocol finds "with space"'s neighbour-free raw form only via meta,
	// but a printable key is where a text client expects it.
	if v, ok := rawGet(t, mc.Addr, "base64"); !ok || v != "v7" {
		t.Fatalf("raw get base64 = %q %v", v, ok)
	}
	for _, k := range [][]byte{nil, bytes.Repeat([]byte("k"), MaxKeyLength+1), bytes.Repeat([]byte{0}, MaxBinaryKeyLength+1)} {
		if _, err := cl.Get(k, nil, GetOptions{}); !errors.Is(err, ErrKeyEmpty) && !errors.Is(err, ErrKeyTooLong) {
			t.Fatalf("bad key of %d bytes: %v", len(k), err)
		}
	}
}

// Values from 0 bytes to the largest memcached takes (1 MiB minus key
// length and 59 bytes of item header with -I 1m), and one byte more.
func TestClientValueSizes(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	key := []byte("size:k") // 6 bytes
	largest := 1<<20 - (len(key) + 59)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 100, 4095, 65536, 65537, 100 << 10, 512 << 10, largest} {
		val := make([]byte, size)
		for i := range val {
			val[i] = byte(rng.Uint32()) // every byte value, CR LF and NUL included
		}
		if res, err := cl.Set(key, val, SetOptions{}); err != nil || res.Status != StatusOK {
			t.Fatalf("set %d bytes: %+v %v", size, res.Status, err)
		}
		res, err := cl.Get(key, nil, GetOptions{})
		if err != nil || res.Status != StatusOK || !bytes.Equal(res.Value, val) {
			t.Fatalf("get %d bytes: status %v err %v, %d bytes back, equal %v", size, res.Status, err, len(res.Value), bytes.Equal(res.Value, val))
		}
	}
	// One byte more: memcached refuses it and drops the old value.
	res, err := cl.Set(key, make([]byte, largest+1), SetOptions{})
	if !errors.Is(err, ErrValueTooLarge) || res.Status != StatusFailed {
		t.Fatalf("set %d bytes: %+v %v", largest+1, res, err)
	}
	if res, _ = cl.Get(key, nil, GetOptions{}); res.Status != StatusMiss {
		t.Fatalf("old value survived an oversize set: %v", res.Status)
	}
	// Over Config.MaxValueSize the client refuses without sending.
	if _, err = cl.Set(key, make([]byte, 1<<20+1), SetOptions{}); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("set over MaxValueSize: %v", err)
	}
	if err := cl.Noop(0); err != nil {
		t.Fatalf("connection unusable after oversize set: %v", err)
	}
}

func TestClientCAS(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	k := []byte("cas:k")
	res, _ := cl.Set(k, []byte("a"), SetOptions{})
	cas := res.CAS
	if res, _ = cl.Set(k, []byte("b"), SetOptions{CAS: cas + 1000}); res.Status != StatusExists {
		t.Fatalf("wrong CAS: %v", res.Status)
	}
	if res, _ = cl.Set(k, []byte("b"), SetOptions{CAS: cas}); res.Status != StatusOK || res.CAS == cas {
		t.Fatalf("right CAS: %+v", res)
	}
	if res, _ = cl.Set(k, []byte("c"), SetOptions{CAS: cas}); res.Status != StatusExists {
		t.Fatalf("stale CAS: %v", res.Status)
	}
	if res, _ = cl.Set([]byte("cas:missing"), []byte("c"), SetOptions{CAS: 1}); res.Status != StatusNotFound {
		t.Fatalf("CAS on missing: %v", res.Status)
	}
	if res, _ = cl.Delete(k, DeleteOptions{CAS: 1}); res.Status != StatusExists {
		t.Fatalf("delete with wrong CAS: %v", res.Status)
	}
	if res, _ = cl.Get(k, nil, GetOptions{}); string(res.Value) != "b" {
		t.Fatalf("value after CAS games: %q", res.Value)
	}
	if res, _ = cl.Delete(k, DeleteOptions{CAS: res.CAS}); res.Status != StatusOK {
		t.Fatalf("delete with right CAS: %v", res.Status)
	}
}

func TestClientTTL(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	_, _ = cl.Set([]byte("ttl:neg"), []byte("x"), SetOptions{TTL: -1})
	if res, _ := cl.Get([]byte("ttl:neg"), nil, GetOptions{}); res.Status != StatusMiss {
		t.Fatalf("negative TTL: %v", res.Status)
	}
	_, _ = cl.Set([]byte("ttl:forever"), []byte("x"), SetOptions{})
	if res, _ := cl.Get([]byte("ttl:forever"), nil, GetOptions{}); res.TTL != -1 {
		t.Fatalf("no TTL: t=%d", res.TTL)
	}
	abs := int32(time.Now().Unix() + 1000)
	_, _ = cl.Set([]byte("ttl:abs"), []byte("x"), SetOptions{TTL: abs})
	if res, _ := cl.Get([]byte("ttl:abs"), nil, GetOptions{}); res.TTL < 990 || res.TTL > 1001 {
		t.Fatalf("absolute expiry 1000 s ahead: t=%d", res.TTL)
	}
	_, _ = cl.Set([]byte("ttl:1"), []byte("x"), SetOptions{TTL: 1})
	if res, _ := cl.Get([]byte("ttl:1"), nil, GetOptions{}); res.Status != StatusOK {
		t.Fatalf("1 s TTL, right away: %v", res.Status)
	}
	// memcached's clock ticks in whole seconds: a 1 s item is gone within 2.
	eventually(t, 3*time.Second, "a 1 s item to expire", func() bool {
		res, _ := cl.Get([]byte("ttl:1"), nil, GetOptions{})
		return res.Status == StatusMiss
	})
}

// The anti-stampede flows of META.md §3, through the client.
func TestClientWinStale(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	get := func(k string, opt GetOptions) Result {
		t.Helper()
		res, err := cl.Get([]byte(k), nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// N: the first reader of a miss wins a 0-byte stub, the next sees Z.
	r := get("ws:page", GetOptions{Vivify: 30})
	if r.Status != StatusOK || !r.Win || r.WinTaken || len(r.Value) != 0 || r.Flags != 0 {
		t.Fatalf("vivify: %+v", r)
	}
	lease := r.CAS
	r = get("ws:page", GetOptions{Vivify: 30})
	if r.Win || !r.WinTaken || len(r.Value) != 0 {
		t.Fatalf("second reader of stub: %+v", r)
	}
	// The winner stores with the stub's CAS; a late second store loses.
	if res, _ := cl.Set([]byte("ws:page"), []byte("PAGE"), SetOptions{CAS: lease, TTL: 60, Flags: 1}); res.Status != StatusOK {
		t.Fatalf("winner store: %v", res.Status)
	}
	if res, _ := cl.Set([]byte("ws:page"), []byte("LATE"), SetOptions{CAS: lease, TTL: 60}); res.Status != StatusExists {
		t.Fatalf("late store: %v", res.Status)
	}
	r = get("ws:page", GetOptions{Vivify: 30})
	if r.Win || r.WinTaken || r.Stale || string(r.Value) != "PAGE" || r.Flags != 1 {
		t.Fatalf("after store: %+v", r)
	}
	// md I: stale; the next reader wins (X W), later ones see Z X.
	if res, _ := cl.Delete([]byte("ws:page"), DeleteOptions{Invalidate: true, TTL: 30}); res.Status != StatusOK {
		t.Fatalf("invalidate: %v", res.Status)
	}
	r = get("ws:page", GetOptions{})
	if !r.Stale || !r.Win || r.WinTaken || string(r.Value) != "PAGE" || r.TTL > 30 {
		t.Fatalf("first read after invalidate: %+v", r)
	}
	staleCAS := r.CAS
	r = get("ws:page", GetOptions{})
	if !r.Stale || r.Win || !r.WinTaken {
		t.Fatalf("second read after invalidate: %+v", r)
	}
	// A writer with a pre-invalidation CAS and I refreshes bytes, not freshness.
	if res, _ := cl.Set([]byte("ws:page"), []byte("OLD2"), SetOptions{CAS: lease, Invalidate: true}); res.Status != StatusOK {
		t.Fatalf("stale write with I: %v", res.Status)
	}
	if r = get("ws:page", GetOptions{}); !r.Stale || string(r.Value) != "OLD2" {
		t.Fatalf("after stale write: %+v", r)
	}
	// The winner's store with the current CAS makes it fresh.
	if res, _ := cl.Set([]byte("ws:page"), []byte("NEW"), SetOptions{CAS: r.CAS, TTL: 600}); res.Status != StatusOK {
		t.Fatalf("fresh store: %v (stale CAS was %d)", res.Status, staleCAS)
	}
	if r = get("ws:page", GetOptions{}); r.Stale || r.Win || r.WinTaken || string(r.Value) != "NEW" {
		t.Fatalf("after fresh store: %+v", r)
	}
	// R: remaining TTL below the threshold hands out one win.
	_, _ = cl.Set([]byte("ws:hot"), []byte("abc"), SetOptions{TTL: 10})
	if r = get("ws:hot", GetOptions{Recache: 30}); !r.Win {
		t.Fatalf("recache first: %+v", r)
	}
	if r = get("ws:hot", GetOptions{Recache: 30}); r.Win || !r.WinTaken {
		t.Fatalf("recache second: %+v", r)
	}
	_, _ = cl.Set([]byte("ws:cold"), []byte("abc"), SetOptions{TTL: 100})
	if r = get("ws:cold", GetOptions{Recache: 30}); r.Win || r.WinTaken {
		t.Fatalf("recache above threshold: %+v", r)
	}
}

// 10 000 mixed operations from 64 goroutines over one pipelined
// connection (and over three); every reply must belong to its own request.
func TestClientPipeline(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	for _, conns := range []int{1, 3} {
		t.Run(fmt.Sprintf("conns=%d", conns), func(t *testing.T) {
			testPipeline(t, newClient(t, Config{ConnsPerServer: conns}, mc), fmt.Sprintf("pipe%d", conns))
		})
	}
}

func testPipeline(t *testing.T, cl *Client, prefix string) {
	const workers, perWorker = 64, 10000 / 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; i < perWorker; i++ {
				k := fmt.Appendf(nil, "%s:%d:%d", prefix, w, i%7)
				v := fmt.Appendf(nil, "value-%d-%d-%s", w, i, bytes.Repeat([]byte{'x'}, i%300))
				var err error
				switch i % 4 {
				case 0:
					var res Result
					if res, err = cl.Set(k, v, SetOptions{Flags: uint32(i)}); err == nil && res.Status != StatusOK {
						err = fmt.Errorf("set status %v", res.Status)
					}
				case 1:
					_, _ = cl.Set(k, v, SetOptions{Flags: uint32(i)})
					var res Result
					res, err = cl.Get(k, buf[:0], GetOptions{})
					buf = res.Value
					if err == nil && (!bytes.Equal(res.Value, v) || res.Flags != uint32(i)) {
						err = fmt.Errorf("get %s = %q flags %d, want %q %d", k, res.Value, res.Flags, v, i)
					}
				case 2:
					var res Result
					if res, err = cl.Delete(k, DeleteOptions{}); err == nil && res.Status != StatusOK && res.Status != StatusNotFound {
						err = fmt.Errorf("delete status %v", res.Status)
					}
				case 3:
					var res Result
					ck := fmt.Appendf(nil, "%s:ctr:%d", prefix, w)
					if res, err = cl.Arith(ck, ArithOptions{Create: true, Initial: 0}); err == nil && res.Number != uint64(i/4) {
						err = fmt.Errorf("counter = %d, want %d", res.Number, i/4)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClientCloseFailsPending(t *testing.T) {
	t.Parallel()
	mc := mctest.Start(t)
	cl := newClient(t, Config{OpTimeout: 10 * time.Second}, mc)
	if _, err := cl.Set([]byte("k"), []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	mc.Freeze()
	defer mc.Thaw()
	done := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			_, err := cl.Get([]byte("k"), nil, GetOptions{})
			done <- err
		}()
	}
	eventually(t, 2*time.Second, "10 pending operations", func() bool {
		c := cl.servers[0].conns[0]
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.st.pending() == 10
	})
	_ = cl.Close()
	for i := 0; i < 10; i++ {
		if err := <-done; err != ErrClosed {
			t.Fatalf("pending op after Close: %v", err)
		}
	}
	if _, err := cl.Get([]byte("k"), nil, GetOptions{}); err != ErrClosed {
		t.Fatalf("op after Close: %v", err)
	}
}

// Values around the size from which Set writes from the caller's memory,
// from many goroutines at once, interleaved with small commands: every
// value must come back intact. The first Set goes out while the
// connection is still being dialed.
func TestClientLargeValuesConcurrent(t *testing.T) {
	t.Parallel()
	mc := sharedServer(t)
	cl := newClient(t, Config{}, mc)
	first := bytes.Repeat([]byte("first"), 20000)
	if res, err := cl.Set([]byte("big:first"), first, SetOptions{}); err != nil || res.Status != StatusOK {
		t.Fatalf("set before the connection is up: %v %v", res.Status, err)
	}
	sizes := []int{directWriteMin - 1, directWriteMin, directWriteMin + 1, 50 << 10, 100, 0}
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 20; i++ {
				size := sizes[(w+i)%len(sizes)]
				val := make([]byte, size)
				for j := range val {
					val[j] = byte(rng.Uint32())
				}
				k := fmt.Appendf(nil, "big:%d", w)
				if _, err := cl.Set(k, val, SetOptions{Flags: uint32(size)}); err != nil {
					t.Errorf("set %d bytes: %v", size, err)
					return
				}
				res, err := cl.Get(k, nil, GetOptions{})
				if err != nil || !bytes.Equal(res.Value, val) || res.Flags != uint32(size) {
					t.Errorf("worker %d: get after %d-byte set: %d bytes, flags %d, %v", w, size, len(res.Value), res.Flags, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if res, _ := cl.Get([]byte("big:first"), nil, GetOptions{}); !bytes.Equal(res.Value, first) {
		t.Fatal("first value lost")
	}
}
