package upstream

import (
	"bufio"
	"bytes"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// maxInterimResponses is how many 1xx interim responses may precede the final
// one.
const maxInterimResponses = 32

var http1Prefix = []byte("HTTP/1.")

// readResponse reads the response to the request just sent from br into resp
// (cleared, SkipBody set for a HEAD): the 1xx interim responses, each handed
// to the job's Interim as soon as it has been read (interim.go), then the
// final head and its body. uc, when not nil, is the connection
// br reads from: while a head is awaited reads wait until deadline, and from
// its first byte until the response is complete they wait at most
// Config.ResponseIdleTimeout each.
//
// Every head is checked by checkHead before fasthttp parses it. An interim
// response is a head and nothing else: what follows it is the next response,
// so one that frames a body (the upstream would send it, and what this side
// took for the final response could be bytes of that body) is refused.
func (p *Pool) readResponse(w *worker, br *bufio.Reader, uc *upConn, resp *fasthttp.Response, deadline time.Time) error {
	interimBytes := 0
	for n := 0; ; n++ {
		if n > maxInterimResponses {
			return errTooManyInterim
		}
		if uc != nil {
			uc.disarmIdle()
		}
		if _, err := br.Peek(1); err != nil {
			return err
		}
		if uc != nil {
			uc.armIdle(p.cfg.ResponseIdleTimeout, deadline)
		}
		if err := checkHead(br); err != nil {
			return err
		}
		buffered := br.Buffered() // checkHead: the whole head is in br
		if err := resp.Header.Read(br); err != nil {
			return err
		}
		code := resp.Header.StatusCode()
		if code == fasthttp.StatusSwitchingProtocols {
			return errUnexpectedUpgrade
		}
		if code >= 200 {
			break
		}
		// RFC 9110 §8.6: no Content-Length in a 1xx; an explicit 0 is
		// harmless, any other value or a Transfer-Encoding frames a body.
		if cl := resp.Header.ContentLength(); cl > 0 || cl == -1 {
			return errInterimBody
		}
		if interimBytes += max(buffered-br.Buffered(), 0); interimBytes > maxInterimBytes {
			return errInterimTooLarge
		}
		if w.job != nil && w.job.Interim != nil {
			w.interim = appendInterimHead(w.interim[:0], resp)
			w.job.Interim(w.job, w.interim)
			if cap(w.interim) > maxKeptInterim {
				w.interim = nil // a rare large head: not kept by every worker
			}
		}
	}
	// What fasthttp's ReadLimitBody does after the head.
	if code := resp.Header.StatusCode(); resp.SkipBody || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified {
		return nil
	}
	return readBody(br, resp, w.streamAbove, p.cfg.MaxResponseBodyBytes, &w.prefix)
}

// checkHead waits until br holds a whole response head (any empty lines before
// it, the status line, the field lines and the empty line that ends them)
// without consuming anything, and refuses what fasthttp's parser would let
// through although another recipient could read it differently, so that a
// response is never framed or split otherwise than the upstream meant:
//
//   - a line ended by a bare LF (errBareLF), or a CR not followed by LF
//     (errBareCR): a hop that accepts bare LF as a line end and one that does
//     not disagree on where the head, and so the message, ends; fasthttp also
//     waits for a CRLFCRLF that an LF-only head never sends;
//   - a field line starting with whitespace (errObsFold): obs-fold, which
//     RFC 9112 §5.2 lets a proxy answer with 502;
//   - a start other than "HTTP/1." (errNotHTTP1), refused from the first byte
//     that differs, so that the bytes after an interim response that were not
//     a response fail at once rather than when a line end arrives;
//   - a status code below 100 (errBadStatus; fasthttp reads "000" as 200).
//
// It also reads Transfer-Encoding, which fasthttp accepts only as exactly
// "chunked" or "identity", so that an unusual but valid one is not a 502
// (see unusualCoding).
//
// It fails with errHeadTooLarge when the head does not fit in br's buffer
// (Config.MaxResponseHeaderBytes), and with br's read error when the
// connection ends or times out first.
func checkHead(br *bufio.Reader) error {
	var (
		b      []byte
		line   int  // start of the current line
		from   int  // b[line:from] holds no LF
		status = -1 // start of the status line, once it has begun
		te     teScan
	)
	for {
		for {
			rest := b[line:]
			if len(rest) > 0 {
				switch {
				case status < 0 && rest[0] != '\r' && rest[0] != '\n':
					status = line
					fallthrough
				case line == status:
					k := min(len(rest), len(http1Prefix))
					if !bytes.Equal(rest[:k], http1Prefix[:k]) {
						return errNotHTTP1
					}
				case status >= 0 && httpbytes.IsOWS(rest[0]):
					return errObsFold
				}
			}
			i := bytes.IndexByte(b[from:], '\n')
			if i < 0 {
				from = len(b)
				break
			}
			nl := from + i
			if nl == line || b[nl-1] != '\r' {
				return errBareLF
			}
			start, text := line, b[line:nl-1]
			if bytes.IndexByte(text, '\r') >= 0 {
				return errBareCR
			}
			line, from = nl+1, nl+1
			switch {
			case len(text) == 0 && status >= 0:
				return te.settle(b) // the empty line that ends the head
			case start == status:
				if !validStatusLine(text) {
					return errBadStatus
				}
			default:
				te.line(start, text)
			}
		}
		// The head goes on past what has arrived: wait for more.
		n := len(b)
		next, err := br.Peek(n + 1)
		if len(next) <= n {
			if err == bufio.ErrBufferFull {
				return errHeadTooLarge
			}
			return err
		}
		b, _ = br.Peek(br.Buffered())
	}
}

// validStatusLine reports whether a status line that starts with "HTTP/1."
// goes on with a digit, spaces and a three-digit status code of at least 100,
// followed by a space or nothing. fasthttp checks the rest.
func validStatusLine(s []byte) bool {
	p := len(http1Prefix)
	if len(s) < p+1 || !httpbytes.IsDigit(s[p]) {
		return false
	}
	s = s[p+1:]
	if len(s) == 0 || s[0] != ' ' {
		return false
	}
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) < 3 || !httpbytes.IsDigit(s[0]) || !httpbytes.IsDigit(s[1]) || !httpbytes.IsDigit(s[2]) || s[0] == '0' {
		return false
	}
	return len(s) == 3 || s[3] == ' '
}
