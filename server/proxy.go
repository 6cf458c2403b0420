package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/server/proxyproto"
)

// The client's address, and the PROXY protocol.
//
// Every connection keeps its client's address as a netip.AddrPort
// (conn.remote, IPv4-mapped addresses unmapped), read once when it opens:
// X-Forwarded-For, the access log and the purge check read it from there
// without allocating. With Config.ProxyProtocol, a load balancer or TLS
// terminator in front (HAProxy's send-proxy / send-proxy-v2, nginx's
// proxy_protocol, AWS NLB, …) says in a header before the connection's first
// request whom it is relaying, and that address replaces the peer's.
//
// Who must send a header is decided by the peer's address when the
// connection opens:
//
//   - a peer in Config.ProxyAllow must: the first bytes must be a valid
//     header, or the connection is closed without an answer (as the
//     specification requires: a receiver must not guess). A header with no
//     address (v1 UNKNOWN, v2 LOCAL: a health check; v2 UNSPEC or UNIX)
//     leaves the peer's own address;
//   - any other peer must not: a connection that starts with a header,
//     valid or not, is closed (it would be an attempt to choose the address
//     mcpage believes, to pass the purge check or forge X-Forwarded-For),
//     and one that starts with anything else is served as usual with the
//     peer's own address.
//
// The header and the first request head must arrive within ReadTimeout of
// the connection opening, as the first request alone would: the timeout
// sweep (loop.Run) closes a connection still waiting for them. Rejected
// connections are counted in Stats.ProxyRejected.

// defaultProxyAllow is who may send PROXY protocol headers when
// Config.ProxyAllow is nil: a proxy on this host.
var defaultProxyAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// What a connection's first bytes must be (conn.proxy).
const (
	proxyRead    uint8 = iota // nothing: the header was read, or none is expected
	proxyMust                 // a PROXY protocol header (the peer is in ProxyAllow)
	proxyMustNot              // anything but a PROXY protocol header
)

// initRemote records the peer's address and decides whether a PROXY
// protocol header must come first. On c's loop, from newConn.
func (c *conn) initRemote() {
	c.remote = addrPortOf(c.gc.RemoteAddr())
	if !c.l.s.cfg.ProxyProtocol {
		return
	}
	if c.remote.IsValid() && allowedBy(c.l.s.cfg.ProxyAllow, c.remote.Addr()) {
		c.proxy = proxyMust
	} else {
		c.proxy = proxyMustNot
	}
}

// readProxyHeader looks at the connection's first bytes while c.proxy says
// what they must be: it consumes a header (taking the client's address from
// it) and reports true when the bytes left are to be parsed as HTTP; it
// reports false with what OnTraffic must return when they are not there yet
// (None) or the connection is to be closed (Close). On c's loop, from
// onTraffic, before anything else reads the buffer.
func (c *conn) readProxyHeader() (gnet.Action, bool) {
	buf, _ := c.gc.Peek(-1)
	var h proxyproto.Header
	n, err := proxyproto.Parse(buf, &h)
	switch {
	case err == proxyproto.ErrNeedMore:
		return gnet.None, false
	case c.proxy == proxyMustNot && err == proxyproto.ErrNoHeader:
		c.proxy = proxyRead
		return gnet.None, true
	case c.proxy == proxyMustNot:
		err = errProxyNotAllowed
		fallthrough
	case err != nil:
		c.l.s.stats.ProxyRejected.Add(1)
		if lg := c.l.s.cfg.Logger; lg.Enabled(context.Background(), slog.LevelDebug) {
			lg.Debug("PROXY protocol: closing connection", "peer", c.remote.String(), "err", err)
		}
		return gnet.Close, false
	}
	if h.Source.IsValid() {
		c.remote = netip.AddrPortFrom(h.Source.Addr().Unmap(), h.Source.Port())
	}
	c.proxy = proxyRead
	c.l.m.bytesIn.Add(uint64(n))
	_, _ = c.gc.Discard(n) // n > 0
	return gnet.None, true
}

// errProxyNotAllowed is what a header from a peer outside ProxyAllow is
// logged as.
var errProxyNotAllowed = errors.New("server: PROXY protocol header from a peer outside the allowed networks")

// addrPortOf converts a gnet connection's peer address; the zero AddrPort
// when it is not TCP (or absent).
func addrPortOf(a net.Addr) netip.AddrPort {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(t.Port))
}

// allowedBy reports whether ip is in one of nets.
func allowedBy(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
