package upstream

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// do runs j's exchange, moving on to another address only when connecting
// failed, and sets j.Resp or j.Err, j.Cause and j.Addr.
func (p *Pool) do(w *worker, j *Job, deadline time.Time) {
	req, resp := &j.req, &j.Resp.r
	body := req.Body()
	if !framingOK(&req.Header, len(body)) {
		clearResponse(resp)
		j.Err, j.Cause = ErrBadRequest, ErrBadRequest
		return
	}
	// Serialized once: a connect failover sends the same bytes elsewhere.
	w.head = req.Header.AppendBytes(w.head[:0])
	isHead := req.Header.IsHead()
	tried := w.tried[:0]
	for {
		u := p.pick(tried)
		if u == nil {
			break
		}
		tried = append(tried, u)
		j.Addr = u.addr
		u.inflight.Add(1)
		w.streamAbove = j.StreamAbove
		err := p.exchange(w, u, body, resp, isHead, deadline)
		u.inflight.Add(-1)
		if err == nil {
			j.Err, j.Cause = nil, nil
			if w.body != nil {
				j.Body, w.body = w.body, nil
				j.BodyLen = int64(max(resp.Header.ContentLength(), -1))
			}
			return
		}
		j.Err, j.Cause = classify(err, deadline), err
		var de *dialError
		if !errors.As(err, &de) || len(tried) == maxConnectAttempts || !time.Now().Before(deadline) {
			break
		}
	}
	clearResponse(resp)
}

// clearResponse empties resp and sets it up the way responses are read: header
// names as received, and no Content-Type invented when the upstream sent none.
func clearResponse(resp *fasthttp.Response) {
	resp.Reset()
	resp.Header.DisableNormalizing()
	resp.Header.SetNoDefaultContentType(true)
}

// framingOK reports whether the request header's framing matches a body of n
// bytes: a Content-Length equal to n, or no framing and no body.
func framingOK(h *fasthttp.RequestHeader, n int) bool {
	switch cl := h.ContentLength(); {
	case cl >= 0:
		return cl == n
	case cl == -1: // Transfer-Encoding: chunked; the body is never chunked here
		return false
	default:
		return n == 0
	}
}

// exchange sends the serialized request w.head plus body to u and reads the
// response into resp (see readResponse), all before deadline. The connection
// goes back to u's pool only after a complete, well-framed response that left
// nothing unread and did not ask for the connection to be closed.
func (p *Pool) exchange(w *worker, u *upstream, body []byte, resp *fasthttp.Response, isHead bool, deadline time.Time) error {
	if !time.Now().Before(deadline) {
		return fasthttp.ErrTimeout
	}
	cc, err := u.hc.AcquireConn(time.Until(deadline), false)
	for {
		if err != nil {
			return err
		}
		// The deadline goes on first: an idle connection still carries the
		// previous exchange's, which would fail the probe.
		conn := cc.Conn()
		if conn.SetDeadline(deadline) == nil && (cc.LastUseTime().IsZero() || connAlive(conn)) {
			break
		}
		// A connection from the idle pool (LastUseTime set) that the upstream
		// has closed meanwhile: nothing has been sent on it, so it is simply
		// replaced.
		u.hc.CloseConn(cc)
		if !time.Now().Before(deadline) {
			return fasthttp.ErrTimeout
		}
		cc, err = u.hc.AcquireConn(time.Until(deadline), false)
	}
	conn := cc.Conn()

	// Head and body in one writev, without copying the body.
	w.vec[0], w.vec[1] = w.head, body
	w.bufs = w.vec[:1]
	if len(body) > 0 {
		w.bufs = w.vec[:2]
	}
	dst := conn
	if uc, ok := conn.(*upConn); ok {
		dst = uc.TCPConn // net.Buffers only uses writev on net's own types
	}
	_, err = w.bufs.WriteTo(dst)
	w.vec[1] = nil // do not keep the caller's body alive
	if err != nil {
		u.hc.CloseConn(cc)
		return &writeError{err}
	}

	clearResponse(resp)
	resp.SkipBody = isHead
	br := u.hc.AcquireReader(conn)
	uc, _ := conn.(*upConn)
	if uc != nil {
		uc.stalled, uc.until = false, deadline
	}
	err = p.readResponse(w, br, uc, resp, deadline)
	if err == errStreaming {
		// The body is relayed by the job's Done (Job.Body): the connection
		// stays out of the pool until the stream is closed.
		if uc != nil {
			uc.armIdle(p.cfg.ResponseIdleTimeout, streamUntil)
			_ = uc.TCPConn.SetWriteDeadline(time.Time{})
		}
		w.body = &bodyStream{prefix: w.prefix, resp: resp, br: br, uc: uc, finish: func(reusable bool) {
			u.hc.ReleaseReader(br)
			if reusable {
				u.hc.ReleaseConn(cc)
			} else {
				u.hc.CloseConn(cc)
			}
		}}
		w.prefix = nil // the stream owns it now
		return nil
	}
	if uc != nil {
		if err != nil && uc.stalled {
			err = &stallError{err}
		}
		uc.disarmIdle()
	}
	// Bytes past the response mean the upstream and this side disagree on
	// framing: the next response on this connection could not be trusted.
	reusable := err == nil && br.Buffered() == 0 && !resp.ConnectionClose()
	u.hc.ReleaseReader(br)
	if reusable {
		u.hc.ReleaseConn(cc)
	} else {
		u.hc.CloseConn(cc)
	}
	return err
}
