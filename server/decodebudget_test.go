package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server/pagerecord"
)

// queued reports how many waiters b holds.
func (b *decodeBudget) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

// waitQueued polls until b holds n waiters (a state the test then acts on).
func waitQueued(t *testing.T, b *decodeBudget, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", b.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDecodeBudgetAccounting(t *testing.T) {
	b := newDecodeBudget(100)
	if !b.tryAcquire(60) || !b.tryAcquire(40) {
		t.Fatal("tryAcquire within the budget failed")
	}
	if b.tryAcquire(1) {
		t.Fatal("tryAcquire past the budget succeeded")
	}
	if got := b.inUse(); got != 100 {
		t.Fatalf("inUse %d, want 100", got)
	}
	b.release(60)
	if err := b.acquire(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	if got := b.inUse(); got != 90 {
		t.Fatalf("inUse %d, want 90", got)
	}
	b.release(90)
	if err := b.acquire(context.Background(), 101); err != errDecodeBusy {
		t.Fatalf("reservation over the whole budget: %v, want errDecodeBusy", err)
	}
	if b.inUse() != 0 || b.queued() != 0 {
		t.Fatalf("left %d in use, %d queued", b.inUse(), b.queued())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("releasing more than reserved did not panic")
		}
	}()
	b.release(1)
}

// TestDecodeBudgetFIFO: a large waiter is not overtaken by a small one that
// would fit, and each is granted as soon as it fits, in order.
func TestDecodeBudgetFIFO(t *testing.T) {
	b := newDecodeBudget(100)
	if !b.tryAcquire(100) {
		t.Fatal("tryAcquire failed")
	}
	order := make(chan string, 2)
	go func() {
		if b.acquire(context.Background(), 80) == nil {
			order <- "big"
		}
	}()
	waitQueued(t, b, 1)
	go func() {
		if b.acquire(context.Background(), 10) == nil {
			order <- "small"
		}
	}()
	waitQueued(t, b, 2)
	if b.tryAcquire(1) {
		t.Fatal("tryAcquire jumped the queue")
	}
	b.release(30) // 70 in use: the small one would fit, the big one is first
	if b.queued() != 2 || b.inUse() != 70 {
		t.Fatalf("after a partial release: %d queued, %d in use", b.queued(), b.inUse())
	}
	b.release(70) // both fit now, granted in order within release
	if b.queued() != 0 || b.inUse() != 90 {
		t.Fatalf("after the release: %d queued, %d in use, want 0 and 90", b.queued(), b.inUse())
	}
	got := map[string]bool{<-order: true, <-order: true}
	if !got["big"] || !got["small"] {
		t.Fatalf("granted %v", got)
	}
	b.release(90)
}

// TestDecodeBudgetTimeout: a waiter whose context ends holds nothing, leaves
// the queue, and a waiter behind it that fits is granted then.
func TestDecodeBudgetTimeout(t *testing.T) {
	b := newDecodeBudget(100)
	if !b.tryAcquire(50) {
		t.Fatal("tryAcquire failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	bigErr := make(chan error, 1)
	go func() { bigErr <- b.acquire(ctx, 80) }()
	waitQueued(t, b, 1)
	smallErr := make(chan error, 1)
	go func() { smallErr <- b.acquire(context.Background(), 40) }()
	waitQueued(t, b, 2)
	cancel()
	if err := <-bigErr; err != errDecodeBusy {
		t.Fatalf("cancelled waiter: %v, want errDecodeBusy", err)
	}
	if err := <-smallErr; err != nil {
		t.Fatalf("waiter behind the cancelled one: %v", err)
	}
	if b.inUse() != 90 || b.queued() != 0 {
		t.Fatalf("%d in use, %d queued; want 90, 0", b.inUse(), b.queued())
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := b.acquire(short, 20); err != errDecodeBusy {
		t.Fatalf("timed-out waiter: %v", err)
	}
	b.release(90)
	if b.inUse() != 0 || b.queued() != 0 {
		t.Fatalf("%d in use, %d queued at the end", b.inUse(), b.queued())
	}
}

// TestDecodeBudgetConcurrent: many goroutines reserving and releasing never
// see more than the budget reserved, and everything comes back.
func TestDecodeBudgetConcurrent(t *testing.T) {
	const size = 1000
	b := newDecodeBudget(size)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var over error
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for i := 0; i < 300; i++ {
				n := int64(1 + rng.IntN(size))
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3))*time.Millisecond)
				var err error
				if rng.IntN(4) == 0 {
					if !b.tryAcquire(n) {
						err = errDecodeBusy
					}
				} else {
					err = b.acquire(ctx, n)
				}
				cancel()
				if err != nil {
					continue
				}
				if u := b.inUse(); u > size {
					mu.Lock()
					over = errors.New("budget exceeded")
					mu.Unlock()
				}
				b.release(n)
			}
		}(uint64(g))
	}
	wg.Wait()
	if over != nil {
		t.Fatal(over)
	}
	if b.inUse() != 0 || b.queued() != 0 {
		t.Fatalf("%d in use, %d queued at the end", b.inUse(), b.queued())
	}
}

// testServer is a Server with just what decodeHeld needs.
func testServer(maxDecoded int, mem int64) *Server {
	return &Server{cfg: Config{MaxDecoded: maxDecoded, decodeMem: newDecodeBudget(mem)}}
}

// TestDecodeHeld: the reservation is the buffer's exact size, whatever tells
// it (the gzip trailer, a known size, or measuring), nothing stays reserved
// after a failure, and the limits hold.
func TestDecodeHeld(t *testing.T) {
	page := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640000 bytes
	gz := pagerecord.AppendGzip(nil, page)
	twoMembers := append(bytes.Clone(gz), pagerecord.AppendGzip(nil, nil)...)
	s := testServer(1<<20, 4<<20)
	for name, in := range map[string][]byte{"trailer": gz, "two members": twoMembers} {
		for _, known := range []int{-1, len(page)} {
			buf, held, err := s.decodeHeld(in, pagerecord.Gzip, 100, known)
			if err != nil || !bytes.Equal(buf[100:], page) {
				t.Fatalf("%s, known %d: err %v", name, known, err)
			}
			if held != int64(cap(buf)) || held != int64(100+len(page)+1) || s.cfg.decodeMem.inUse() != held {
				t.Fatalf("%s, known %d: held %d, cap %d, in use %d", name, known, held, cap(buf), s.cfg.decodeMem.inUse())
			}
			s.releaseDecode(held)
		}
	}
	// A known size that is short (a changed record) falls back to measuring.
	if buf, held, err := s.decodeHeld(twoMembers, pagerecord.Gzip, 0, 10); err != nil || !bytes.Equal(buf, page) {
		t.Fatalf("short known size: %v", err)
	} else {
		s.releaseDecode(held)
	}

	small := testServer(600000, 4<<20)
	for name, in := range map[string][]byte{"trailer": gz, "two members": twoMembers} {
		if _, _, err := small.decodeHeld(in, pagerecord.Gzip, 100, -1); err != pagerecord.ErrTooLarge {
			t.Fatalf("%s over MaxDecoded: %v", name, err)
		}
	}
	if u := small.cfg.decodeMem.inUse(); u != 0 {
		t.Fatalf("%d bytes left reserved after refusals", u)
	}
	bad := bytes.Clone(gz)
	for i := len(bad) / 3; i < len(bad)/3+16; i++ {
		bad[i] ^= 0x5a
	}
	if _, _, err := s.decodeHeld(bad, pagerecord.Gzip, 0, -1); !errors.Is(err, pagerecord.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
	if u := s.cfg.decodeMem.inUse(); u != 0 {
		t.Fatalf("%d bytes left reserved after failures", u)
	}

	// A reservation larger than the whole budget is refused at once (the
	// wait for a budget that is in use is TestDecodeBudgetTimeout's).
	tiny := testServer(1<<20, 1<<10)
	if _, _, err := tiny.decodeHeld(gz, pagerecord.Gzip, 0, -1); err != errDecodeBusy {
		t.Fatalf("reservation over the budget: %v", err)
	}
	if u := tiny.cfg.decodeMem.inUse(); u != 0 {
		t.Fatalf("%d bytes left reserved", u)
	}
}

// TestDecodedMemoSizes: bodies too large to keep are remembered by size, and
// a replaced record is not answered from what was known of the old one.
func TestDecodedMemoSizes(t *testing.T) {
	d := newDecodedLRU(4 << 20) // keeps bodies up to 1 MiB
	key := []byte("k")
	d.put(key, recordID{storedAt: 1, n: 10}, make([]byte, 100))
	if b, ok := d.get(key, recordID{storedAt: 1, n: 10}); !ok || len(b) != 100 {
		t.Fatal("kept body not returned")
	}
	d.put(key, recordID{storedAt: 2, n: 10}, make([]byte, 2<<20))
	if _, ok := d.get(key, recordID{storedAt: 2, n: 10}); ok {
		t.Fatal("a 2 MiB body was kept")
	}
	if n, ok := d.size(key, recordID{storedAt: 2, n: 10}); !ok || n != 2<<20 {
		t.Fatalf("size %d %v, want 2 MiB", n, ok)
	}
	if _, ok := d.size(key, recordID{storedAt: 3, n: 10}); ok {
		t.Fatal("size answered for another record")
	}
	d.putSize(key, recordID{storedAt: 3, n: 10}, sizeAbove)
	if n, ok := d.size(key, recordID{storedAt: 3, n: 10}); !ok || n != sizeAbove {
		t.Fatalf("size %d %v, want sizeAbove", n, ok)
	}
	d.forget(key)
	if _, ok := d.size(key, recordID{storedAt: 3, n: 10}); ok || d.used != 0 {
		t.Fatalf("forgotten entry still known, %d bytes used", d.used)
	}
}

// TestRecordIDSeesContent: two records stored in the same second with bodies
// of the same length but different content are told apart (a page purged
// and refetched at once must not be answered from the old one's decoded
// body); the same record always gets the same ID.
func TestRecordIDSeesContent(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	g1, g2 := gz("version 1 of the page"), gz("version 2 of the page")
	if len(g1) != len(g2) {
		t.Fatalf("test bodies differ in length: %d, %d", len(g1), len(g2))
	}
	for _, c := range []struct {
		enc  pagerecord.Encoding
		a, b []byte
	}{
		{pagerecord.Gzip, g1, g2},
		{pagerecord.Brotli, []byte("abcdefgh"), []byte("abcdefgX")},
		{pagerecord.Identity, []byte("12345678901234567890"), []byte("12345678901234567891")},
	} {
		ra := pagerecord.Record{StoredAt: 7, Encoding: c.enc, Body: c.a}
		rb := pagerecord.Record{StoredAt: 7, Encoding: c.enc, Body: c.b}
		if idOf(&ra) == idOf(&rb) {
			t.Errorf("%v: different content, same ID", c.enc)
		}
		again := pagerecord.Record{StoredAt: 7, Encoding: c.enc, Body: bytes.Clone(c.a)}
		if idOf(&ra) != idOf(&again) {
			t.Errorf("%v: same record, different IDs", c.enc)
		}
	}
}
