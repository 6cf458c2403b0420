//go:build !linux

package upstream

import "net"

// connAlive cannot look at a socket without reading from it on this platform;
// it trusts the pool. An idle connection the upstream has closed then fails
// the first request sent on it (with ErrUpstreamClosed).
func connAlive(net.Conn) bool { return true }

// peekOnce is unused on this platform.
func (c *upConn) peekOnce(uintptr) bool { return true }
