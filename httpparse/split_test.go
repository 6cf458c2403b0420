package httpparse

import "testing"

// TestParseHeadEveryPrefix feeds every test message cut at every byte, as a
// connection's buffer grows: no prefix may succeed, a prefix may only say
// ErrNeedMore or give the very error the whole message gives, and the
// whole message must give the one-shot result again.
func TestParseHeadEveryPrefix(t *testing.T) {
	type msg struct {
		name, raw string
		lim       *Limits
		wantErr   error // nil for a valid head
	}
	var msgs []msg
	for _, tc := range validCases {
		msgs = append(msgs, msg{tc.name, tc.raw, tc.limits(), nil})
	}
	for _, tc := range malformedCases {
		msgs = append(msgs, msg{tc.name, tc.raw, tc.limits(), tc.want})
	}
	var req Request
	for _, m := range msgs {
		t.Run(m.name, func(t *testing.T) {
			n, err := ParseHead([]byte(m.raw), &req, m.lim)
			if err != m.wantErr {
				t.Fatalf("one-shot: n=%d err=%v, want %v", n, err, m.wantErr)
			}
			sawErr := false
			for i := 0; i < len(m.raw); i++ {
				pn, perr := ParseHead([]byte(m.raw[:i]), &req, m.lim)
				switch {
				case perr == nil:
					t.Fatalf("prefix of %d bytes parsed (n=%d)", i, pn)
				case perr == ErrNeedMore:
					if sawErr {
						t.Fatalf("prefix of %d bytes needs more after a shorter one failed", i)
					}
				case perr != m.wantErr:
					t.Fatalf("prefix of %d bytes: %v, the whole message: %v", i, perr, m.wantErr)
				default:
					sawErr = true
				}
				if pn != 0 {
					t.Fatalf("prefix of %d bytes: n=%d with %v", i, pn, perr)
				}
			}
			if n2, err2 := ParseHead([]byte(m.raw), &req, m.lim); n2 != n || err2 != err {
				t.Fatalf("second parse: n=%d err=%v, first n=%d err=%v", n2, err2, n, err)
			}
		})
	}
}
