package mcclient

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// recorder is a Handler that keeps copies of what it is given.
type recorder struct {
	got []recorded
}

type recorded struct {
	token uint64
	res   Result
	value string
}

func (r *recorder) OnResult(token uint64, res *Result) {
	r.got = append(r.got, recorded{token, *res, string(res.Value)})
}

func newTestState(max int) connState { return newConnState(max, 1<<20) }

func TestConnStateMatchesRepliesInOrder(t *testing.T) {
	s := newTestState(8)
	var h recorder
	must(t, s.get([]byte("a"), GetOptions{}, &h, 10, 1))
	must(t, s.set([]byte("b"), []byte("val"), SetOptions{}, &h, 11, 1))
	must(t, s.delete([]byte("c"), DeleteOptions{}, &h, 12, 1))
	must(t, s.arith([]byte("d"), ArithOptions{}, &h, 13, 1))
	must(t, s.get([]byte("e"), GetOptions{}, &h, 14, 1))
	must(t, s.noop(&h, 15, 1))
	wantOut := "mg a v f c t O0\r\nms b 3 c O1\r\nval\r\nmd c O2\r\nma d v c O3\r\nmg e v f c t O4\r\nmn\r\n"
	if string(s.out) != wantOut {
		t.Fatalf("out = %q\nwant  %q", s.out, wantOut)
	}
	replies := "VA 2 f7 c9 t-1 O0\r\nhi\r\nHD c10 O1\r\nNF O2\r\nVA 2 c11 O3\r\n42\r\nEN O4\r\nMN\r\n"
	must(t, s.receive([]byte(replies)))
	want := []struct {
		token  uint64
		status Status
		value  string
	}{{10, StatusOK, "hi"}, {11, StatusOK, ""}, {12, StatusNotFound, ""}, {13, StatusOK, ""}, {14, StatusMiss, ""}, {15, StatusOK, ""}}
	if len(h.got) != len(want) {
		t.Fatalf("got %d results, want %d", len(h.got), len(want))
	}
	for i, w := range want {
		g := h.got[i]
		if g.token != w.token || g.res.Status != w.status || g.value != w.value || g.res.Err != nil {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}
	if r := h.got[0].res; r.Flags != 7 || r.CAS != 9 || r.TTL != -1 {
		t.Errorf("get metadata = %+v", r)
	}
	if r := h.got[1].res; r.CAS != 10 {
		t.Errorf("set CAS = %d, want 10", r.CAS)
	}
	if r := h.got[3].res; r.Number != 42 || r.CAS != 11 {
		t.Errorf("arith = %+v", r)
	}
	if s.pending() != 0 || len(s.in) != 0 {
		t.Fatalf("pending %d, buffered %d after all replies", s.pending(), len(s.in))
	}
}

// Replies arriving in pieces of every size give the same results.
func TestConnStateReceiveInPieces(t *testing.T) {
	big := strings.Repeat("x", 3000)
	replies := "VA 3 O0\r\nabc\r\nVA 3000 O1\r\n" + big + "\r\nEN O2\r\nHD O3\r\nVA 0 W O4\r\n\r\n"
	for _, piece := range []int{1, 2, 3, 7, 64, 1000, len(replies)} {
		t.Run(fmt.Sprint(piece), func(t *testing.T) {
			s := newTestState(8)
			var h recorder
			for i := 0; i < 5; i++ {
				must(t, s.get([]byte("k"), GetOptions{}, &h, uint64(i), 1))
			}
			for off := 0; off < len(replies); off += piece {
				must(t, s.receive([]byte(replies[off:min(off+piece, len(replies))])))
			}
			if len(h.got) != 5 {
				t.Fatalf("got %d results", len(h.got))
			}
			wantVals := []string{"abc", big, "", "", ""}
			wantStatus := []Status{StatusOK, StatusOK, StatusMiss, StatusOK, StatusOK}
			for i := range wantVals {
				if h.got[i].value != wantVals[i] || h.got[i].res.Status != wantStatus[i] || h.got[i].token != uint64(i) {
					t.Errorf("result %d: %v %q", i, h.got[i].res.Status, h.got[i].value[:min(10, len(h.got[i].value))])
				}
			}
			if !h.got[4].res.Win {
				t.Error("W flag lost")
			}
		})
	}
}

func TestConnStateFatalReplies(t *testing.T) {
	tests := []struct {
		name    string
		start   func(s *connState, h Handler) error
		replies string
		want    error
		done    int // results delivered before the failure
	}{
		{"opaque mismatch", startGets(2), "EN O1\r\n", ErrOpaqueMismatch, 0},
		{"opaque missing", startGets(1), "EN\r\n", ErrOpaqueMismatch, 0},
		{"opaque not a number", startGets(1), "EN Oab\r\n", ErrOpaqueMismatch, 0},
		{"second out of step", startGets(2), "EN O0\r\nEN O0\r\n", ErrOpaqueMismatch, 1},
		{"reply with nothing pending", startGets(0), "HD\r\n", ErrUnexpectedReply, 0},
		{"ERROR", startGets(1), "ERROR\r\n", ErrUnexpectedReply, 0},
		{"bad data chunk", startGets(1), "CLIENT_ERROR bad data chunk\r\n", ErrUnexpectedReply, 0},
		{"EN to a delete", func(s *connState, h Handler) error {
			return s.delete([]byte("k"), DeleteOptions{}, h, 0, 1)
		}, "EN O0\r\n", ErrUnexpectedReply, 0},
		{"VA to a set", func(s *connState, h Handler) error {
			return s.set([]byte("k"), nil, SetOptions{}, h, 0, 1)
		}, "VA 1 O0\r\nx\r\n", ErrUnexpectedReply, 0},
		{"MN to a get", startGets(1), "MN\r\n", ErrUnexpectedReply, 0},
		{"HD to a noop", func(s *connState, h Handler) error { return s.noop(h, 0, 1) }, "HD\r\n", ErrUnexpectedReply, 0},
		{"non-numeric counter", func(s *connState, h Handler) error {
			return s.arith([]byte("k"), ArithOptions{}, h, 0, 1)
		}, "VA 2 O0\r\nab\r\n", ErrMalformedReply, 0},
		{"malformed", startGets(1), "VA x\r\n", ErrMalformedReply, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestState(8)
			var h recorder
			must(t, tt.start(&s, &h))
			if err := s.receive([]byte(tt.replies)); !errors.Is(err, tt.want) {
				t.Fatalf("receive = %v, want %v", err, tt.want)
			}
			if len(h.got) != tt.done {
				t.Fatalf("%d results delivered before the failure, want %d", len(h.got), tt.done)
			}
		})
	}
}

func startGets(n int) func(s *connState, h Handler) error {
	return func(s *connState, h Handler) error {
		for i := 0; i < n; i++ {
			if err := s.get([]byte("k"), GetOptions{}, h, uint64(i), 1); err != nil {
				return err
			}
		}
		return nil
	}
}

// CLIENT_ERROR and SERVER_ERROR fail one operation; the next still matches.
func TestConnStatePerOperationErrors(t *testing.T) {
	s := newTestState(8)
	var h recorder
	must(t, s.arith([]byte("k"), ArithOptions{}, &h, 1, 1))
	must(t, s.set([]byte("k"), []byte("v"), SetOptions{}, &h, 2, 1))
	must(t, s.set([]byte("k"), []byte("v"), SetOptions{}, &h, 3, 1))
	must(t, s.get([]byte("k"), GetOptions{}, &h, 4, 1))
	must(t, s.receive([]byte("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"+
		"SERVER_ERROR object too large for cache\r\nSERVER_ERROR out of memory storing object\r\nVA 1 O3\r\nv\r\n")))
	wantErr := []error{ErrClientError, ErrValueTooLarge, ErrServerError, nil}
	wantMsg := []string{"cannot increment or decrement non-numeric value", "object too large for cache", "out of memory storing object", ""}
	if len(h.got) != 4 {
		t.Fatalf("got %d results", len(h.got))
	}
	for i := range wantErr {
		r := h.got[i].res
		if !errors.Is(r.Err, wantErr[i]) || string(r.Message) != wantMsg[i] || (r.Err != nil) != (r.Status == StatusFailed) {
			t.Errorf("result %d: err %v status %v msg %q", i, r.Err, r.Status, r.Message)
		}
	}
	if h.got[3].value != "v" {
		t.Errorf("get after errors = %q", h.got[3].value)
	}
}

func TestConnStateQueueBound(t *testing.T) {
	s := newTestState(3)
	var h recorder
	for i := 0; i < 3; i++ {
		must(t, s.get([]byte("k"), GetOptions{}, &h, 0, 1))
	}
	out := len(s.out)
	if err := s.get([]byte("k"), GetOptions{}, &h, 0, 1); err != ErrQueueFull {
		t.Fatalf("4th op on a 3-slot queue: %v", err)
	}
	if err := s.set([]byte("k"), nil, SetOptions{}, &h, 0, 1); err != ErrQueueFull {
		t.Fatalf("set on a full queue: %v", err)
	}
	if len(s.out) != out {
		t.Fatal("a refused operation was encoded")
	}
	// Replies free slots; the ring wraps.
	for round := 0; round < 5; round++ {
		must(t, s.receive([]byte(fmt.Sprintf("EN O%d\r\n", round))))
		must(t, s.get([]byte("k"), GetOptions{}, &h, 0, 1))
	}
	if s.pending() != 3 || len(h.got) != 5 {
		t.Fatalf("pending %d, delivered %d", s.pending(), len(h.got))
	}
}

func TestConnStateValueTooLarge(t *testing.T) {
	s := newConnState(4, 10)
	var h recorder
	must(t, s.set([]byte("k"), make([]byte, 10), SetOptions{}, &h, 0, 1))
	if err := s.set([]byte("k"), make([]byte, 11), SetOptions{}, &h, 0, 1); err != ErrValueTooLarge {
		t.Fatalf("11-byte value with a 10-byte limit: %v", err)
	}
	// And the decoder refuses a reply announcing more than the limit.
	must(t, s.get([]byte("k"), GetOptions{}, &h, 0, 1))
	if err := s.receive([]byte("HD O0\r\nVA 11 O1\r\n")); err != ErrReplyValueTooLarge {
		t.Fatalf("11-byte reply with a 10-byte limit: %v", err)
	}
}

func TestConnStateDeadlineAndFailAll(t *testing.T) {
	s := newTestState(8)
	var h recorder
	must(t, s.get([]byte("a"), GetOptions{}, &h, 1, 100))
	must(t, s.get([]byte("b"), GetOptions{}, &h, 2, 50)) // deadlines are per op; the oldest decides
	must(t, s.receive([]byte("VA 3 O0\r\nab")))          // a partial reply is buffered
	if s.expired(99) || !s.expired(100) {
		t.Fatalf("expired(99)=%v expired(100)=%v with oldest deadline 100", s.expired(99), s.expired(100))
	}
	s.failAll(ErrTimeout)
	if len(h.got) != 2 || h.got[0].token != 1 || h.got[1].token != 2 {
		t.Fatalf("failAll results %+v", h.got)
	}
	for _, g := range h.got {
		if g.res.Err != ErrTimeout || g.res.Status != StatusFailed {
			t.Fatalf("failed result %+v", g.res)
		}
	}
	if s.pending() != 0 || len(s.out) != 0 || len(s.in) != 0 || s.expired(1<<62) {
		t.Fatal("state not reset by failAll")
	}
	// The next connection starts clean: a fresh reply parses.
	must(t, s.get([]byte("c"), GetOptions{}, &h, 3, 1))
	must(t, s.receive([]byte("EN O2\r\n")))
	if h.got[2].res.Status != StatusMiss {
		t.Fatalf("after reset: %+v", h.got[2].res)
	}
}

// A handler that fails the connection from inside receive stops delivery.
type resetter struct {
	s    *connState
	seen int
}

func (r *resetter) OnResult(uint64, *Result) {
	r.seen++
	if r.seen == 1 {
		r.s.failAll(ErrClosed)
	}
}

func TestConnStateHandlerResetsConnection(t *testing.T) {
	s := newTestState(8)
	h := &resetter{s: &s}
	must(t, s.get([]byte("a"), GetOptions{}, h, 0, 1))
	must(t, s.get([]byte("b"), GetOptions{}, h, 0, 1))
	must(t, s.receive([]byte("EN O0\r\nEN O1\r\nEN O2\r\n")))
	if h.seen != 2 || s.pending() != 0 || len(s.in) != 0 {
		t.Fatalf("seen %d pending %d buffered %d", h.seen, s.pending(), len(s.in))
	}
}

type nopHandler struct{}

func (nopHandler) OnResult(uint64, *Result) {}

func TestConnStateDoesNotAllocate(t *testing.T) {
	s := newTestState(64)
	key, val := []byte("key"), bytes.Repeat([]byte("v"), 100)
	reply := []byte("VA 100 f0 c1 t-1 O")
	var h nopHandler
	var buf []byte
	op := uint32(0)
	run := func() {
		must(t, s.get(key, GetOptions{}, h, 0, 1))
		must(t, s.set(key, val, SetOptions{}, h, 0, 1))
		s.out = s.out[:0]
		buf = append(buf[:0], reply...)
		buf = appendUint(buf, op)
		buf = append(buf, "\r\n"...)
		buf = append(buf, val...)
		buf = append(buf, "\r\nHD c1 O"...)
		buf = appendUint(buf, op+1)
		buf = append(buf, "\r\n"...)
		op += 2
		// In two pieces, so the partial-reply path runs too.
		must(t, s.receive(buf[:50]))
		must(t, s.receive(buf[50:]))
	}
	run()
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("%v allocations per get+set round trip", allocs)
	}
}

func appendUint(b []byte, v uint32) []byte { return strconv.AppendUint(b, uint64(v), 10) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzReceive: whatever a peer sends, the state machine neither panics nor
// delivers more results than operations were pending, and after an error
// it reports one again for the same bytes (no state carried off).
func FuzzReceive(f *testing.F) {
	f.Add([]byte("VA 2 O0\r\nhi\r\nEN O1\r\nHD O2\r\n"), uint8(3))
	f.Add([]byte("EN O1\r\n"), uint8(2))
	f.Add([]byte("CLIENT_ERROR x\r\nSERVER_ERROR y\r\nMN\r\n"), uint8(3))
	f.Add([]byte("VA 3 O0\r\nabcd\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, pieces uint8) {
		s := newConnState(4, 1<<10)
		var h recorder
		for i := 0; i < 3; i++ {
			_ = s.get([]byte("k"), GetOptions{}, &h, uint64(i), 1)
		}
		_ = s.noop(&h, 3, 1)
		step := len(data)/(int(pieces%8)+1) + 1
		for off := 0; off < len(data); off += step {
			if err := s.receive(data[off:min(off+step, len(data))]); err != nil {
				s.failAll(err)
				break
			}
		}
		if len(h.got) > 4 {
			t.Fatalf("%d results for 4 operations", len(h.got))
		}
	})
}

// nextWrite hands the commands over in slices of whole commands, at most
// sliceMax bytes unless one command alone is larger, in order, while
// commands started meanwhile keep queueing behind them.
func TestConnStateNextWriteSlices(t *testing.T) {
	const max = 1000
	s := newTestState(64)
	s.sliceMax = max
	var h recorder
	var want []byte // every command, in the order started
	var ends []int  // stream offsets just past each command
	start := func(size int) {
		t.Helper()
		var cmd []byte
		cmd, err := AppendSet(nil, fmt.Appendf(nil, "k%d", len(ends)), bytes.Repeat([]byte{byte('a' + len(ends)%26)}, size), uint32(len(ends)), SetOptions{})
		must(t, err)
		must(t, s.set(fmt.Appendf(nil, "k%d", len(ends)), bytes.Repeat([]byte{byte('a' + len(ends)%26)}, size), SetOptions{}, &h, 0, 1))
		want = append(want, cmd...)
		ends = append(ends, len(want))
	}
	var got []byte
	take := func() bool {
		t.Helper()
		p := s.nextWrite()
		if p == nil {
			return false
		}
		got = append(got, p...)
		i := 0
		for i < len(ends) && ends[i] < len(got) {
			i++
		}
		if i == len(ends) || ends[i] != len(got) {
			t.Fatalf("slice of %d bytes ends at %d, inside a command", len(p), len(got))
		}
		if len(p) > max && (i == 0 || ends[i-1] != len(got)-len(p)) {
			t.Fatalf("slice of %d bytes holds more than one command and exceeds %d", len(p), max)
		}
		return true
	}
	if s.unhanded() || s.nextWrite() != nil {
		t.Fatal("something to write before anything was started")
	}
	for _, size := range []int{10, 300, 400, 200, 5000, 10, 10} {
		start(size)
	}
	take()
	// Commands started between slices queue behind the ones left.
	start(700)
	start(20)
	for take() {
		if len(ends) < 30 {
			start(100 * (len(ends) % 12))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("handed over %d bytes, not the %d started, in order", len(got), len(want))
	}
	if s.unhanded() || s.pending() != len(ends) {
		t.Fatalf("after everything was handed: unhanded %v, pending %d", s.unhanded(), s.pending())
	}
	// failAll forgets what was not handed over.
	start(10)
	start(5000)
	start(20)
	s.failAll(ErrConnClosed)
	if s.unhanded() || s.nextWrite() != nil {
		t.Fatal("commands left to write after failAll")
	}
}

// The chunks a burst of large values grew are kept while they are reused,
// and let go of once unused for a whole chunkKeep; an idle connection lets
// go of the ones it still holds too.
func TestConnStateLetsChunksGo(t *testing.T) {
	s := newTestState(64)
	s.sliceMax = 1 << 20
	var h nopHandler
	sets := 0
	burst := func() {
		for i := 0; i < 8; i++ {
			must(t, s.set([]byte("k"), make([]byte, 900<<10), SetOptions{}, h, 0, 1))
			sets++
		}
		for s.nextWrite() != nil {
		}
	}
	now := int64(1)
	tick := func() { // one Sweep, chunkKeep after the last
		s.decay(now)
		now += chunkKeep
	}
	tick()
	burst()
	tick()
	if len(s.free) < 7 {
		t.Fatalf("%d chunks kept after a burst of 8", len(s.free))
	}
	burst() // reuses them all
	tick()
	if len(s.free) < 7 {
		t.Fatalf("%d chunks kept after they were reused", len(s.free))
	}
	s.decay(now - 1) // within chunkKeep of the last decay: nothing happens
	tick()           // unused since the last decay
	if len(s.free) != 0 {
		t.Fatalf("%d chunks kept a whole chunkKeep after the last burst", len(s.free))
	}
	burst()
	var replies []byte
	for i := 0; i < sets; i++ {
		replies = fmt.Appendf(replies, "HD O%d\r\n", i)
	}
	must(t, s.receive(replies))
	tick()
	tick()
	if len(s.free) != 0 || cap(s.out) > bufKeep || s.handing != nil {
		t.Fatalf("idle for two chunkKeeps with %d chunks kept, %d bytes in out, %d being handed", len(s.free), cap(s.out), cap(s.handing))
	}
}

// The LoopClient's write path reuses its chunks: no allocation per
// operation once they have grown.
func TestConnStateNextWriteDoesNotAllocate(t *testing.T) {
	s := newTestState(64)
	s.sliceMax = 1000
	key, val := []byte("key"), bytes.Repeat([]byte("v"), 100)
	var h nopHandler
	var replies []byte
	op := uint32(0)
	run := func() {
		replies = replies[:0]
		for i := 0; i < 8; i++ {
			must(t, s.set(key, val, SetOptions{}, h, 0, 1))
			if i%3 == 0 {
				_ = s.nextWrite()
			}
			replies = append(replies, "HD c1 O"...)
			replies = appendUint(replies, op)
			replies = append(replies, "\r\n"...)
			op++
		}
		for s.nextWrite() != nil {
		}
		must(t, s.receive(replies))
	}
	run()
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("%v allocations per round of 8 sets", allocs)
	}
}

// reserve's bound holds: no command is longer than twice its key (base64
// keys are longer than raw ones) plus its value plus cmdLineRoom.
func TestCmdLineRoom(t *testing.T) {
	for _, key := range [][]byte{[]byte("k"), bytes.Repeat([]byte("k"), 250), {0}, bytes.Repeat([]byte{0xff}, 186)} {
		const u32, u64 = 1<<32 - 1, 1<<64 - 1
		value := []byte("v")
		check := func(name string, cmd []byte, err error, valueLen int) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(cmd) > 2*len(key)+valueLen+cmdLineRoom {
				t.Errorf("%s with a %d-byte key: %d bytes, more than reserve allows", name, len(key), len(cmd))
			}
		}
		cmd, err := AppendGet(nil, key, u32, GetOptions{Vivify: u32, Recache: u32, Touch: true, TouchTTL: -1 << 31, NoBump: true, WantHitBefore: true, WantLastAccess: true})
		check("mg", cmd, err, 0)
		cmd, err = AppendSet(nil, key, value, u32, SetOptions{TTL: -1 << 31, Flags: u32, CAS: u64, Invalidate: true, Mode: ModePrepend})
		check("ms", cmd, err, len(value))
		cmd, err = AppendDelete(nil, key, u32, DeleteOptions{CAS: u64, Invalidate: true, TTL: -1 << 31})
		check("md", cmd, err, 0)
		cmd, err = AppendArith(nil, key, u32, ArithOptions{Mode: Decr, Delta: u64, Create: true, CreateTTL: u32, Initial: u64, CAS: u64})
		check("ma", cmd, err, 0)
	}
}
