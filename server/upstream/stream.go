package upstream

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// errStreaming is readBody's word that the body was left unread, to be handed
// to Done as Job.Body; it never reaches a caller.
var errStreaming = errors.New("upstream: body is streamed")

// ErrStreamClosed is returned by a Job.Body's Read after its Close.
var ErrStreamClosed = errors.New("upstream: body stream closed")

// readBody reads the body of the response whose head is in resp, or leaves it
// to be streamed: with streamAbove > 0 a body declared longer than that, or
// of unknown length (chunked, or up to the close) that turns out longer, is
// not buffered; readBody then returns errStreaming, with what it read of an
// unknown-length body in *prefix and resp set up to stream the rest
// (resp.BodyStream). Otherwise the body is read whole into resp, at most
// maxBody bytes (then ErrBodyTooLarge's cause).
func readBody(br *bufio.Reader, resp *fasthttp.Response, streamAbove, maxBody int, prefix *[]byte) error {
	cl := resp.Header.ContentLength()
	if streamAbove <= 0 || (cl >= 0 && cl <= streamAbove) {
		if err := resp.ReadBody(br, maxBody); err != nil {
			return err
		}
		if cl == -1 {
			if err := resp.Header.ReadTrailer(br); err != nil {
				if err == io.EOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		return nil
	}
	resp.StreamBody = true
	if err := resp.ReadBody(br, 0); err != nil {
		return err
	}
	if cl >= 0 {
		return errStreaming
	}
	// Unknown length: most such bodies are small dynamic pages, which are
	// buffered (and may be stored) as before.
	buf := (*prefix)[:0]
	stream := resp.BodyStream()
	for len(buf) <= streamAbove {
		if cap(buf)-len(buf) < 4096 {
			buf = append(buf, make([]byte, 32<<10)...)[:len(buf)]
		}
		n, err := stream.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			*prefix = buf[:0]
			if cerr := resp.CloseBodyStream(); cerr != nil {
				return cerr
			}
			resp.StreamBody = false
			resp.SetBody(buf)
			return nil
		}
		if err != nil {
			return err
		}
	}
	*prefix = buf
	return errStreaming
}

// bodyStream is a Job.Body: the prefix read so far, then the rest of the
// response from resp's body stream. Close returns the connection to its pool
// when the body was read to its end cleanly with nothing left over, and
// closes it otherwise.
type bodyStream struct {
	prefix []byte
	resp   *fasthttp.Response
	br     *bufio.Reader
	uc     *upConn
	finish func(reusable bool)
	eof    bool
	err    error
	closed bool
}

func (s *bodyStream) Read(p []byte) (int, error) {
	switch {
	case s.closed:
		return 0, ErrStreamClosed
	case len(s.prefix) > 0:
		n := copy(p, s.prefix)
		s.prefix = s.prefix[n:]
		return n, nil
	case s.eof:
		return 0, io.EOF
	case s.err != nil:
		return 0, s.err
	}
	n, err := s.resp.BodyStream().Read(p)
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil:
		if s.uc != nil && s.uc.stalled {
			err = &stallError{err}
		}
		s.err = err
	}
	return n, err
}

// Close ends the stream; see bodyStream.
func (s *bodyStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	_ = s.resp.CloseBodyStream()
	reusable := s.eof && s.err == nil && s.br.Buffered() == 0 && !s.resp.ConnectionClose()
	if s.uc != nil {
		s.uc.disarmIdle()
	}
	s.finish(reusable)
	return nil
}

// streamUntil is the deadline a streamed body's reads run under: none but the
// idle limit, since a large body relayed to a slow client may take longer
// than any one exchange.
var streamUntil = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
