package mcclient

import (
	"bytes"
	"time"
)

// opKind is the command an operation sent, which decides the replies it may get.
type opKind uint8

const (
	opGet opKind = iota + 1
	opSet
	opDelete
	opArith
	opNoop
)

// slot is one pending operation: who to tell, and what to check the reply against.
type slot struct {
	h        Handler
	token    uint64
	deadline int64 // unix nanoseconds
	opaque   uint32
	kind     opKind
}

// bufKeep is the capacity above which an idle buffer is dropped instead of
// kept, so one large value does not pin memory on every connection.
const bufKeep = 256 << 10

// connState is the protocol state machine of one memcached connection,
// shared by both drivers: a FIFO of pending operations in preallocated
// slots, the encoded commands not yet written (out), and the bytes of a
// reply that has not fully arrived (in). Replies are matched to the oldest
// pending operation and its opaque token checked. It does no I/O and takes
// no locks: the LoopClient touches it only on its event loop, the Client
// only under the connection's mutex.
//
// The Client writes all of out at once. The LoopClient sets sliceMax and
// hands its commands over in slices (nextWrite): out is then a chunk of
// whole commands that is queued as it is when the next command would take
// it past sliceMax, so no slice is cut from a larger buffer and no buffer
// grows with the backlog: a burst of large values is a list of chunks, not
// one buffer that is copied each time it grows.
type connState struct {
	slots    []slot
	head, n  int
	opaque   uint32 // token for the next operation
	out      []byte
	in       []byte
	reply    Reply
	res      Result
	maxValue int
	// The LoopClient's chunks (see above): full ones waiting, oldest at
	// qhead; emptied ones kept for reuse; the one nextWrite returned last.
	sliceMax int
	queue    [][]byte
	qhead    int
	free     [][]byte
	freeLow  int   // fewest chunks in free since the last decay
	decayAt  int64 // unix nanoseconds: when decay next lets chunks go
	handing  []byte
	// epoch changes whenever failAll runs, so receive can tell that a handler
	// it called tore the connection down under it.
	epoch uint64
	// answered counts replies delivered; drivers use it to reset failure counts.
	answered uint64
	// errorReplies counts the replies among them that failed their
	// operation (CLIENT_ERROR, SERVER_ERROR), for monitoring.
	errorReplies uint64
}

func newConnState(maxPending, maxValue int) connState {
	return connState{slots: make([]slot, maxPending), maxValue: maxValue}
}

// pending is the number of operations waiting for a reply.
func (s *connState) pending() int { return s.n }

// expired reports whether the oldest pending operation's deadline has passed.
func (s *connState) expired(now int64) bool {
	return s.n > 0 && s.slots[s.head].deadline <= now
}

func (s *connState) push(kind opKind, h Handler, token uint64, deadline int64) {
	i := s.head + s.n
	if i >= len(s.slots) {
		i -= len(s.slots)
	}
	s.slots[i] = slot{h: h, token: token, deadline: deadline, opaque: s.opaque, kind: kind}
	s.n++
	s.opaque++
}

func (s *connState) pop() slot {
	sl := s.slots[s.head]
	s.slots[s.head] = slot{}
	s.head++
	if s.head == len(s.slots) {
		s.head = 0
	}
	s.n--
	return sl
}

// cmdLineRoom is more than any command holds besides its key and value
// (flags, numbers, spaces and CRLFs: at most 101 bytes, an ma with every
// flag), so that reserve can bound a command's size before encoding it.
const cmdLineRoom = 128

// reserve readies out for a command of keyLen and valueLen bytes, when the
// LoopClient slices the output: if out already holds commands and this one
// could take it past sliceMax, out is queued whole and a new chunk takes
// its place. So every chunk holds at most sliceMax bytes of whole
// commands, or one larger command.
func (s *connState) reserve(keyLen, valueLen int) {
	if s.sliceMax == 0 {
		return
	}
	n := 2*keyLen + valueLen + cmdLineRoom // a base64 key is at most 4/3 as long
	if len(s.out) == 0 || len(s.out)+n <= s.sliceMax {
		return
	}
	s.queue = append(s.queue, s.out)
	s.out = s.chunk(max(n, s.sliceMax))
}

// chunk returns an empty chunk: the one kept last, or a new one of
// capacity size (nil for 0, to grow with what is appended).
func (s *connState) chunk(size int) []byte {
	if k := len(s.free); k > 0 {
		c := s.free[k-1]
		s.free[k-1] = nil
		s.free = s.free[:k-1]
		s.freeLow = min(s.freeLow, k-1)
		return c
	}
	s.freeLow = 0
	if size == 0 {
		return nil
	}
	return make([]byte, 0, size)
}

// recycle keeps an emptied chunk for reuse, unless it is oversized (it
// held one large command). While a backlog drains, chunks are written as
// others fill: reusing them, the turnover does not allocate.
func (s *connState) recycle(c []byte) {
	if c != nil && cap(c) <= 2*s.sliceMax {
		s.free = append(s.free, c[:0])
	}
}

// chunkKeep is how long a LoopClient connection keeps chunks it does not
// use: bursts a second apart reuse them without allocating, and an idle
// connection does not pin a burst's memory for longer than two of these.
const chunkKeep = int64(time.Second)

// decay lets go of the chunks kept for reuse that were not needed for a
// whole chunkKeep (the fewest kept at any time since the last time it let
// some go), and on an idle connection puts a large chunk left in out, and
// the last one handed over, among them. The LoopClient calls it from Sweep.
func (s *connState) decay(now int64) {
	if now < s.decayAt {
		return
	}
	s.decayAt = now + chunkKeep
	if n := min(s.freeLow, len(s.free)); n > 0 {
		clear(s.free[:n]) // the longest unused: chunk takes from the end
		s.free = append(s.free[:0], s.free[n:]...)
		clear(s.free[len(s.free):cap(s.free)])
	}
	if s.n == 0 && !s.unhanded() {
		s.recycle(s.handing)
		s.handing = nil
		if cap(s.out) > bufKeep {
			s.recycle(s.out)
			s.out = nil
		}
	}
	s.freeLow = len(s.free)
}

// unhanded reports whether commands wait to be handed to the connection.
func (s *connState) unhanded() bool { return s.qhead < len(s.queue) || len(s.out) > 0 }

// nextWrite returns the next slice of commands for the LoopClient to hand
// to its connection, or nil when none waits: the oldest full chunk, else
// what out holds. A slice is whole commands, at most sliceMax bytes of
// them or one larger command, which is what lets the LoopClient wait for
// a reply: once memcached has read a slice, its last command is answered.
// The slice is valid until the next call of nextWrite or decay, when its
// chunk is reused; commands started meanwhile do not touch it.
func (s *connState) nextWrite() []byte {
	s.recycle(s.handing)
	s.handing = nil
	var p []byte
	switch {
	case s.qhead < len(s.queue):
		p = s.queue[s.qhead]
		s.queue[s.qhead] = nil
		if s.qhead++; s.qhead == len(s.queue) {
			s.queue, s.qhead = s.queue[:0], 0
		}
	case len(s.out) > 0:
		p = s.out
		s.out = s.chunk(0)
	default:
		return nil
	}
	s.handing = p
	return p
}

// get encodes an mg and queues its slot; the others below likewise. On error
// nothing is queued or encoded.
func (s *connState) get(key []byte, opt GetOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	s.reserve(len(key), 0)
	out, err := AppendGet(s.out, key, s.opaque, opt)
	if err != nil {
		return err
	}
	s.out = out
	s.push(opGet, h, token, deadline)
	return nil
}

func (s *connState) set(key, value []byte, opt SetOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	if len(value) > s.maxValue {
		return ErrValueTooLarge
	}
	s.reserve(len(key), len(value))
	out, err := AppendSet(s.out, key, value, s.opaque, opt)
	if err != nil {
		return err
	}
	s.out = out
	s.push(opSet, h, token, deadline)
	return nil
}

// setHeader queues an ms whose n-byte value the driver writes itself,
// straight after the bytes now in s.out, followed by CRLF.
func (s *connState) setHeader(key []byte, n int, opt SetOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	if n > s.maxValue {
		return ErrValueTooLarge
	}
	out, err := appendSetHeader(s.out, key, n, s.opaque, opt)
	if err != nil {
		return err
	}
	s.out = out
	s.push(opSet, h, token, deadline)
	return nil
}

func (s *connState) delete(key []byte, opt DeleteOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	s.reserve(len(key), 0)
	out, err := AppendDelete(s.out, key, s.opaque, opt)
	if err != nil {
		return err
	}
	s.out = out
	s.push(opDelete, h, token, deadline)
	return nil
}

func (s *connState) arith(key []byte, opt ArithOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	s.reserve(len(key), 0)
	out, err := AppendArith(s.out, key, s.opaque, opt)
	if err != nil {
		return err
	}
	s.out = out
	s.push(opArith, h, token, deadline)
	return nil
}

func (s *connState) noop(h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
	s.reserve(0, 0)
	s.out = AppendNoop(s.out)
	s.push(opNoop, h, token, deadline)
	return nil
}

// receive feeds bytes read from the connection: every complete reply is
// matched to the oldest pending operation and handed to its handler; a
// partial reply is kept for the next call. A non-nil error is fatal: the
// driver must failAll with it and drop the connection. data is not retained.
func (s *connState) receive(data []byte) error {
	epoch := s.epoch
	buf := data
	if len(s.in) > 0 {
		s.in = append(s.in, data...)
		buf = s.in
	}
	for len(buf) > 0 {
		n, err := s.reply.Parse(buf, s.maxValue)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if err := s.deliver(&s.reply); err != nil {
			return err
		}
		if s.epoch != epoch {
			return nil // a handler reset the connection; its bytes are gone
		}
		buf = buf[n:]
	}
	s.keep(buf)
	return nil
}

// keep saves the unparsed tail of the input (which may alias s.in), growing
// s.in at once to the size of the reply being waited for when known.
func (s *connState) keep(rest []byte) {
	if len(rest) == 0 {
		if cap(s.in) > bufKeep {
			s.in = nil
		}
		s.in = s.in[:0]
		return
	}
	if want := max(s.reply.Want, len(rest)); cap(s.in) < want {
		in := make([]byte, len(rest), want)
		copy(in, rest)
		s.in = in
		return
	}
	s.in = s.in[:copy(s.in[:len(rest)], rest)]
}

// deliver matches r to the oldest pending operation and calls its handler.
func (s *connState) deliver(r *Reply) error {
	if s.n == 0 {
		return ErrUnexpectedReply
	}
	sl := &s.slots[s.head]
	res := &s.res
	*res = Result{}
	switch r.Code {
	case CodeError:
		return ErrUnexpectedReply
	case CodeClientError:
		if bytes.HasPrefix(r.Message, []byte("bad data chunk")) {
			// The server read a different value length than we sent: what
			// follows is out of step.
			return ErrUnexpectedReply
		}
		res.Err, res.Message = ErrClientError, r.Message
		s.errorReplies++
	case CodeServerError:
		s.errorReplies++
		res.Err, res.Message = ErrServerError, r.Message
		if bytes.Contains(r.Message, []byte("too large")) {
			res.Err = ErrValueTooLarge
		}
	case CodeMN:
		if sl.kind != opNoop {
			return ErrUnexpectedReply
		}
		res.Status = StatusOK
	default:
		if sl.kind == opNoop {
			return ErrUnexpectedReply
		}
		if o, ok := parseUint(r.Opaque, 1<<32-1); !ok || uint32(o) != sl.opaque {
			return ErrOpaqueMismatch
		}
		st := statusFor(sl.kind, r.Code)
		if st == StatusFailed {
			return ErrUnexpectedReply
		}
		res.Status = st
		res.Flags, res.CAS, res.TTL = r.Flags, r.CAS, r.TTL
		res.LastAccess, res.HitBefore = r.LastAccess, r.HitBefore
		res.Win, res.Stale, res.WinTaken = r.Win, r.Stale, r.WinTaken
		if r.Code == CodeVA {
			if sl.kind == opArith {
				v, ok := parseUint(r.Value, 1<<64-1)
				if !ok {
					return ErrMalformedReply
				}
				res.Number = v
			} else {
				res.Value = r.Value
			}
		}
	}
	done := s.pop()
	s.answered++
	done.h.OnResult(done.token, res)
	return nil
}

// statusFor maps a reply code to the Status it means for the command, or
// StatusFailed if that command cannot get that code.
func statusFor(kind opKind, c Code) Status {
	switch c {
	case CodeVA:
		if kind == opGet || kind == opArith {
			return StatusOK
		}
	case CodeHD:
		return StatusOK
	case CodeEN:
		if kind == opGet {
			return StatusMiss
		}
	case CodeNS:
		if kind == opSet || kind == opArith {
			return StatusNotStored
		}
	case CodeEX:
		if kind != opGet {
			return StatusExists
		}
	case CodeNF:
		if kind != opGet {
			return StatusNotFound
		}
	}
	return StatusFailed
}

// failAll fails every pending operation with err, oldest first, and drops
// unsent commands and partial input. The driver must have stopped accepting
// operations on this connection first.
func (s *connState) failAll(err error) {
	s.epoch++
	s.out = s.out[:0]
	if cap(s.out) > bufKeep {
		s.out = nil
	}
	for i := s.qhead; i < len(s.queue); i++ {
		s.recycle(s.queue[i])
	}
	clear(s.queue)
	s.queue, s.qhead = s.queue[:0], 0
	s.in = s.in[:0]
	if cap(s.in) > bufKeep {
		s.in = nil
	}
	// A fresh Result per failure: a handler may itself cause another failAll
	// (closing the client), which must not overwrite what it is reading.
	for s.n > 0 {
		sl := s.pop()
		res := &Result{Err: err}
		sl.h.OnResult(sl.token, res)
	}
}
