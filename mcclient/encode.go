package mcclient

import "strconv"

// The encoders append one meta command to dst and return the extended
// buffer; they never allocate when dst has room. The opaque token (O) is
// what the server echoes on the reply, so a caller can check that replies
// come back in request order. Only flags memcached 1.6.18 accepts are sent.
// On error dst is returned unchanged. Any goroutine may call them.

// AppendGet appends "mg <key> [b] [N] [R] [T] [v] f c t [u] [h] [l] O<opaque>".
func AppendGet(dst, key []byte, opaque uint32, opt GetOptions) ([]byte, error) {
	start := len(dst)
	dst = append(dst, "mg "...)
	dst, b64, err := appendKey(dst, key)
	if err != nil {
		return dst[:start], err
	}
	if b64 {
		dst = append(dst, " b"...)
	}
	// T goes before t so that t reports the TTL just set (flags are applied in order).
	if opt.Vivify > 0 {
		dst = appendUintFlag(dst, 'N', uint64(opt.Vivify))
	}
	if opt.Recache > 0 {
		dst = appendUintFlag(dst, 'R', uint64(opt.Recache))
	}
	if opt.Touch {
		dst = appendIntFlag(dst, 'T', int64(opt.TouchTTL))
	}
	if !opt.NoValue {
		dst = append(dst, " v"...)
	}
	dst = append(dst, " f c t"...)
	if opt.NoBump {
		dst = append(dst, " u"...)
	}
	if opt.WantHitBefore {
		dst = append(dst, " h"...)
	}
	if opt.WantLastAccess {
		dst = append(dst, " l"...)
	}
	dst = appendUintFlag(dst, 'O', uint64(opaque))
	return append(dst, "\r\n"...), nil
}

// setModeFlag maps SetMode to the M token's letter; 0 means no M flag.
var setModeFlag = [...]byte{ModeSet: 0, ModeAdd: 'E', ModeReplace: 'R', ModeAppend: 'A', ModePrepend: 'P'}

// AppendSet appends "ms <key> <len> [b] c [T] [F] [C] [I] [M] O<opaque>" and
// the value block. value is copied; it may hold any bytes.
func AppendSet(dst, key, value []byte, opaque uint32, opt SetOptions) ([]byte, error) {
	dst, err := appendSetHeader(dst, key, len(value), opaque, opt)
	if err != nil {
		return dst, err
	}
	dst = append(dst, value...)
	return append(dst, "\r\n"...), nil
}

// appendSetHeader appends the command line of an ms for a value of n
// bytes; the value and its CRLF must follow.
func appendSetHeader(dst, key []byte, n int, opaque uint32, opt SetOptions) ([]byte, error) {
	if int(opt.Mode) >= len(setModeFlag) {
		return dst, ErrBadOptions
	}
	start := len(dst)
	dst = append(dst, "ms "...)
	dst, b64, err := appendKey(dst, key)
	if err != nil {
		return dst[:start], err
	}
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(n), 10)
	if b64 {
		dst = append(dst, " b"...)
	}
	dst = append(dst, " c"...)
	if opt.TTL != 0 {
		dst = appendIntFlag(dst, 'T', int64(opt.TTL))
	}
	if opt.Flags != 0 {
		dst = appendUintFlag(dst, 'F', uint64(opt.Flags))
	}
	if opt.CAS != 0 {
		dst = appendUintFlag(dst, 'C', opt.CAS)
	}
	if opt.Invalidate {
		dst = append(dst, " I"...)
	}
	if m := setModeFlag[opt.Mode]; m != 0 {
		dst = append(dst, ' ', 'M', m)
	}
	dst = appendUintFlag(dst, 'O', uint64(opaque))
	return append(dst, "\r\n"...), nil
}

// AppendDelete appends "md <key> [b] [C] [I] [T] O<opaque>". A TTL without
// Invalidate is ErrBadOptions (1.6.18 ignores T on a real delete).
func AppendDelete(dst, key []byte, opaque uint32, opt DeleteOptions) ([]byte, error) {
	if opt.TTL != 0 && !opt.Invalidate {
		return dst, ErrBadOptions
	}
	start := len(dst)
	dst = append(dst, "md "...)
	dst, b64, err := appendKey(dst, key)
	if err != nil {
		return dst[:start], err
	}
	if b64 {
		dst = append(dst, " b"...)
	}
	if opt.CAS != 0 {
		dst = appendUintFlag(dst, 'C', opt.CAS)
	}
	if opt.Invalidate {
		dst = append(dst, " I"...)
		if opt.TTL != 0 {
			dst = appendIntFlag(dst, 'T', int64(opt.TTL))
		}
	}
	dst = appendUintFlag(dst, 'O', uint64(opaque))
	return append(dst, "\r\n"...), nil
}

// AppendArith appends "ma <key> [b] v c [MD] [D] [N J] [C] O<opaque>".
func AppendArith(dst, key []byte, opaque uint32, opt ArithOptions) ([]byte, error) {
	if opt.Mode > Decr {
		return dst, ErrBadOptions
	}
	start := len(dst)
	dst = append(dst, "ma "...)
	dst, b64, err := appendKey(dst, key)
	if err != nil {
		return dst[:start], err
	}
	if b64 {
		dst = append(dst, " b"...)
	}
	dst = append(dst, " v c"...)
	if opt.Mode == Decr {
		dst = append(dst, " MD"...)
	}
	if opt.Delta != 0 {
		dst = appendUintFlag(dst, 'D', opt.Delta)
	}
	if opt.Create {
		dst = appendUintFlag(dst, 'N', uint64(opt.CreateTTL))
		dst = appendUintFlag(dst, 'J', opt.Initial)
	}
	if opt.CAS != 0 {
		dst = appendUintFlag(dst, 'C', opt.CAS)
	}
	dst = appendUintFlag(dst, 'O', uint64(opaque))
	return append(dst, "\r\n"...), nil
}

// AppendNoop appends "mn", answered by MN; it carries no opaque.
func AppendNoop(dst []byte) []byte {
	return append(dst, "mn\r\n"...)
}

func appendUintFlag(dst []byte, flag byte, v uint64) []byte {
	dst = append(dst, ' ', flag)
	return strconv.AppendUint(dst, v, 10)
}

func appendIntFlag(dst []byte, flag byte, v int64) []byte {
	dst = append(dst, ' ', flag)
	return strconv.AppendInt(dst, v, 10)
}
