//go:build linux

package upstream

import (
	"net"
	"syscall"
)

// connAlive reports whether an idle keep-alive connection can carry another
// request: the upstream has not closed or reset it, and has sent nothing
// unasked (which would put every later response out of step). It costs one
// non-blocking recv(MSG_PEEK) and reads nothing off the connection.
//
// Without it, the first request after the upstream's keep-alive timeout would
// fail: a request that may have been sent is never retried.
func connAlive(c net.Conn) bool {
	uc, ok := c.(*upConn)
	if !ok {
		return true
	}
	uc.probeN, uc.probeErr = 0, nil
	if err := uc.rc.Read(uc.probe); err != nil {
		return false
	}
	// n == 0 without an error is the upstream's FIN; n > 0 is unasked data;
	// EAGAIN is the only answer of a healthy idle connection.
	return uc.probeErr == syscall.EAGAIN || uc.probeErr == syscall.EWOULDBLOCK
}

// peekOnce is the RawConn.Read callback: one non-blocking peek, never a wait
// for readiness.
func (c *upConn) peekOnce(fd uintptr) bool {
	c.probeN, _, c.probeErr = syscall.Recvfrom(int(fd), c.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return true
}
