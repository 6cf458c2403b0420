package mcclient

import "bytes"

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
	// end is the offset just past the operation's command in the output
	// buffer that holds it: the command boundaries nextWrite cuts at.
	end    int
	opaque uint32
	kind   opKind
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
// The Client takes all of out at once (takeOut). The LoopClient hands its
// commands over in bounded slices (nextWrite): out is double-buffered with
// wbuf, the previous out, whose first woff bytes are handed over; new
// commands keep appending to out meanwhile, so neither buffer is ever
// compacted or copied. The pending operations whose commands are not handed
// over yet are the newest wops+oops of the FIFO: wops of them end in wbuf,
// then oops in out.
type connState struct {
	slots      []slot
	head, n    int
	opaque     uint32 // token for the next operation
	out        []byte
	wbuf       []byte
	woff       int
	wops, oops int
	in         []byte
	reply      Reply
	res        Result
	maxValue   int
	// epoch changes whenever failAll runs, so receive can tell that a handler
	// it called tore the connection down under it.
	epoch uint64
	// answered counts replies delivered; drivers use it to reset failure counts.
	answered uint64
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

// push queues the slot of the command just appended to out.
func (s *connState) push(kind opKind, h Handler, token uint64, deadline int64) {
	i := s.head + s.n
	if i >= len(s.slots) {
		i -= len(s.slots)
	}
	s.slots[i] = slot{h: h, token: token, deadline: deadline, end: len(s.out), opaque: s.opaque, kind: kind}
	s.n++
	s.oops++
	s.opaque++
}

func (s *connState) pop() slot {
	if s.wops+s.oops == s.n {
		// A reply to a command never handed over: only tests that feed
		// connState replies without a driver see one. Its bytes stay
		// where they are and go out with the next slice.
		if s.wops > 0 {
			s.wops--
		} else {
			s.oops--
		}
	}
	sl := s.slots[s.head]
	s.slots[s.head] = slot{}
	s.head++
	if s.head == len(s.slots) {
		s.head = 0
	}
	s.n--
	return sl
}

// unhanded reports whether commands wait to be handed to the connection.
func (s *connState) unhanded() bool { return s.woff < len(s.wbuf) || len(s.out) > 0 }

// nextWrite returns the next slice of commands for the LoopClient to hand
// to its connection, or nil when none waits: whole commands, oldest first,
// at most max bytes of them — or one command alone when it is larger. The
// slice aliases the state's buffers and is valid until the next call of
// nextWrite or failAll; commands started meanwhile do not touch it.
//
// Cutting only at command boundaries is what lets the LoopClient wait for
// a reply: once memcached has read a slice, its last command is answered.
func (s *connState) nextWrite(max int) []byte {
	if s.woff == len(s.wbuf) {
		if len(s.out) == 0 {
			return nil
		}
		s.wbuf, s.out, s.woff = s.out, s.wbuf[:0], 0
		s.wops, s.oops = s.oops, 0
	}
	cut := len(s.wbuf)
	if s.wops > 0 {
		i := s.head + s.n - s.wops - s.oops
		if i >= len(s.slots) {
			i -= len(s.slots)
		}
		k := 0
		for k < s.wops {
			e := s.slots[i].end
			if k > 0 && e-s.woff > max {
				break
			}
			cut = e
			k++
			if i++; i == len(s.slots) {
				i = 0
			}
		}
		if s.wops -= k; s.wops == 0 {
			// Trailing bytes of operations no longer pending (see pop) go too.
			cut = len(s.wbuf)
		}
	}
	p := s.wbuf[s.woff:cut]
	s.woff = cut
	return p
}

// trimIdle lets go of output buffers a burst grew past writeBufKeep, once
// nothing is pending: kept while busy, they are reused without copying.
func (s *connState) trimIdle() {
	if s.n > 0 || s.unhanded() {
		return
	}
	if cap(s.wbuf) > writeBufKeep {
		s.wbuf = nil
	}
	if cap(s.out) > writeBufKeep {
		s.out = nil
	}
	s.wbuf, s.woff = s.wbuf[:0], 0
}

// takeOut hands every queued command over at once, for the Client: it
// returns out and puts spare, emptied, in its place.
func (s *connState) takeOut(spare []byte) []byte {
	out := s.out
	s.out, s.oops = spare[:0], 0
	return out
}

// get encodes an mg and queues its slot; the others below likewise. On error
// nothing is queued or encoded.
func (s *connState) get(key []byte, opt GetOptions, h Handler, token uint64, deadline int64) error {
	if s.n == len(s.slots) {
		return ErrQueueFull
	}
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
	case CodeServerError:
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
	s.out, s.wbuf, s.woff, s.wops, s.oops = s.out[:0], s.wbuf[:0], 0, 0, 0
	if cap(s.out) > bufKeep {
		s.out = nil
	}
	if cap(s.wbuf) > bufKeep {
		s.wbuf = nil
	}
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
