package server

import (
	"github.com/panjf2000/gnet/v2"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"time"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

// Config is everything a Server needs. cmd/mcpage builds it from flags; the
// zero value of every field except Listen and Upstream.Addrs is a documented,
// usable default.
type Config struct {
	// Listen is the TCP address to accept clients on, "host:port". Required.
	Listen string
	// Listener, when set, is what Serve accepts clients on instead of
	// binding Listen: a listening socket inherited from the process this
	// one replaces (drain.go). The server closes it when it stops.
	Listener net.Listener

	// Loops is the number of gnet event loops. 0 → GOMAXPROCS.
	Loops int

	// Upstream configures the origin pools (addresses, timeouts, connection caps).
	Upstream upstream.Config

	// NewStore returns the page store handle for one event loop; it is called once
	// per loop, on that loop (el), before the loop serves its first request. The
	// store may enroll connections of its own on el (mcclient.LoopClient): their
	// events reach them through the server's handler. It may implement the
	// optional pagestore hooks (Corker, Sweeper, Pender, Closer). nil → one
	// embedded in-process store of StoreSize bytes shared by all loops.
	NewStore func(loop int, el gnet.EventLoop) pagestore.Store

	// StoreSize bounds the embedded store in bytes. 0 → 256 MiB.
	StoreSize int64

	// Policy is the response storage policy (-ttl, -max-ttl).
	Policy cachepolicy.Rules

	// BypassCookie matches cookie names whose presence makes a request skip the
	// cache. nil → any cookie bypasses.
	BypassCookie *regexp.Regexp

	// KeyPrefix is prepended to every cache key.
	KeyPrefix string

	// CompressMin: pages of at least this many bytes that arrive uncompressed are
	// stored gzip-compressed. 0 → 2048; negative → never compress.
	CompressMin int

	// MaxItem is the largest stored record in bytes (after compression); larger
	// pages are served but not stored. 0 → 8 MiB.
	MaxItem int

	// MaxVariants bounds the variants stored per URL for responses that
	// vary on request fields besides Accept-Encoding (vary.go); storing one
	// more drops the oldest. 0 → DefaultMaxVariants; at most 255.
	MaxVariants int

	// MaxDecoded is the largest body, in bytes, mcpage ever produces by
	// inflating a compressed one (for a client that cannot take the stored or
	// the origin's encoding). A page that decodes to more is not stored
	// (X-Cache-Detail: not stored: decoded too large); a stored record that
	// decodes to more (written by someone else) is answered 502 and deleted;
	// an origin body that inflates past it for a client that cannot take
	// gzip is answered 502. 0 (or negative) → 8 MiB.
	MaxDecoded int

	// MaxDecodeMemory bounds, for the whole server, the bytes held by
	// decoded bodies other than the small ones (up to 256 KiB) an event loop
	// inflates itself and keeps in its memo: inflating one reserves its
	// exact size before the buffer is allocated and keeps it until the
	// response has been handed to the client's socket. A decode that cannot
	// get its reservation within 5 s is answered 503. 0 (or negative) →
	// 64 MiB; raised to 2 × MaxDecoded when below.
	MaxDecodeMemory int64

	// ReadTimeout closes a connection that is idle, or has sent part of a request,
	// for this long. Connections waiting on the upstream are governed by
	// Upstream.Timeout instead. 0 → 30s.
	ReadTimeout time.Duration

	// Limits bounds request heads and bodies (-max-header-bytes, -max-body-bytes).
	Limits httpparse.Limits

	// MaxOutbound bounds one connection's response bytes handed to gnet but
	// not yet taken by the socket. Past it the connection stops producing
	// responses and reading requests until half of it has drained; a client
	// that reads nothing for ReadTimeout is closed. Large stored bodies are
	// sent in slices from the record, never copied whole. 0 → 1 MiB.
	MaxOutbound int

	// MaxHeld bounds one connection's response bytes queued in its response
	// slots (answered, not yet handed to gnet): pages a network store
	// answered while an earlier response was still being written, which
	// have to be copied out of the store's reply, and origin responses
	// waiting their turn. Stored pages a connection reads slowly are thus
	// held at most once over the bound, not once per pipelined request:
	//   - past it the connection reads no further requests (as at
	//     MaxPipeline) until its slots drain below it;
	//   - a network store's lookup is not started while the connection's
	//     held bytes plus its lookups in flight, each reckoned at the size
	//     of its last page, would pass it (the slot waits, its lookup
	//     starts once the queue drains);
	//   - a fresh page answered for a slot that is not at the head of the
	//     queue is dropped and looked up again later, rather than copied,
	//     when its copy would pass it.
	// The head slot is always answered, so a connection holds at most
	// MaxHeld plus one response, plus the origin responses of requests
	// already dispatched when it passed the bound (everything parsed from
	// one read). The embedded store's pages are views of its records and
	// count only their heads. 0 (or negative) → 4 MiB.
	MaxHeld int

	// MaxInbound bounds the request bytes buffered for a connection whose
	// parsing has stopped (MaxPipeline reached, or output blocked); past it the
	// connection is closed. 0 → 256 KiB, and at least twice
	// Limits.MaxHeaderBytes.
	MaxInbound int

	// MaxPipeline bounds the requests one connection may have outstanding; past it
	// the server stops reading that connection until responses drain. 0 → 64.
	MaxPipeline int

	// ShutdownTimeout bounds how long Shutdown waits for responses in flight. 0 → 10s.
	ShutdownTimeout time.Duration

	// AcceptPause is how long the server stops accepting new connections after
	// accept fails for lack of resources (file descriptors, kernel memory);
	// connections already open keep being served meanwhile. 0 → 500ms.
	AcceptPause time.Duration

	// Grace is how long past its freshness a page may still be served
	// stale (stale.go): at once while one request refreshes it in the
	// background, and instead of an origin failure. A response's own
	// stale-while-revalidate or stale-if-error may make it longer (up to
	// MaxStaleKeep); must-revalidate, proxy-revalidate and s-maxage forbid
	// it. 0 → none beyond what responses allow; more than MaxStaleKeep is an
	// error.
	Grace time.Duration
	// StaleIfError is how long past its freshness a page may be served
	// instead of an origin failure (error, timeout, 5xx), beyond Grace: what
	// nginx calls proxy_cache_use_stale, and RFC 9111 §4.2.4 allows a cache
	// cut off from its origin. A response's stale-if-error may make it
	// longer; must-revalidate, proxy-revalidate and s-maxage forbid it. 0 →
	// Grace; more than MaxStaleKeep is an error.
	StaleIfError time.Duration

	// RequestCacheControl makes the cache obey the request's Cache-Control
	// (and Pragma: no-cache): max-age, min-fresh, max-stale, no-cache,
	// no-store and only-if-cached (RFC 9111 §5.2.1; reqdirectives.go). Off
	// by default, as in Varnish and nginx: every browser's reload button
	// sends max-age=0 or no-cache, and obeying it lets any visitor make
	// the origin serve every page again.
	RequestCacheControl bool

	// PurgeAllow lists the client networks whose PURGE requests are obeyed
	// (purge.go); others get 403. nil → loopback only (127.0.0.0/8, ::1).
	PurgeAllow []netip.Prefix

	// ProxyProtocol makes the server read a PROXY protocol header (v1 or
	// v2, see server/proxyproto) at the start of every connection from a
	// peer in ProxyAllow and take the client's address from it: for
	// X-Forwarded-For, the access log and PurgeAllow (proxy.go). Such a peer
	// must send one: a connection from it whose first bytes are not a valid
	// header is closed. A connection from any other peer must not: one that
	// starts with a header (valid or not) is closed, the others are served
	// with their own address. false → no header is read; a connection that
	// sends one gets 400, as for any malformed request.
	ProxyProtocol bool
	// ProxyAllow lists the networks of the proxies in front that send
	// PROXY protocol headers (with ProxyProtocol). nil → loopback only
	// (127.0.0.0/8, ::1).
	ProxyAllow []netip.Prefix

	// Clock is the time the server reads: when a page was stored, whether it
	// is still fresh, when a connection went idle. nil → time.Now. Tests set
	// it to move time without sleeping; timers (the sweeps) still run on the
	// real clock and read Clock when they fire.
	Clock func() time.Time

	// Logger receives operational messages. nil → slog.Default().
	Logger *slog.Logger

	// AccessLog, when set, receives one line per request (accesslog.go):
	// the combined log format plus the X-Cache label, upstream and total
	// times. It is written by one goroutine of the server's, never by an
	// event loop; lines the writer cannot keep up with are dropped and
	// counted (Stats.AccessLogDropped). The server does not close it.
	// nil → no access log, at no cost.
	AccessLog io.Writer
	// Access log sizes, for tests: bytes per loop buffer, buffers queued
	// for the writer, longest wait of a partial buffer. 0 → the defaults.
	accessLogBuf, accessLogQueue int
	accessLogEvery               time.Duration

	// decodeMem is the server's decode budget (MaxDecodeMemory), created by
	// withDefaults so that every Server built from a Config has its own.
	decodeMem *decodeBudget
}

// The defaults of Config's fields: withDefaults and cmd/mcpage's flags both
// take them from here.
const (
	DefaultStoreSize       = 256 << 20
	DefaultCompressMin     = 2048
	DefaultMaxItem         = 8 << 20
	DefaultMaxDecoded      = 8 << 20
	DefaultMaxDecodeMemory = 64 << 20
	DefaultReadTimeout     = 30 * time.Second
	DefaultMaxOutbound     = 1 << 20
	DefaultMaxInbound      = 256 << 10
	DefaultMaxHeld         = 4 << 20
	DefaultMaxPipeline     = 64
	DefaultShutdownTimeout = 10 * time.Second
	DefaultAcceptPause     = 500 * time.Millisecond
)

func (c *Config) withDefaults() Config {
	d := *c
	if d.StoreSize == 0 {
		d.StoreSize = DefaultStoreSize
	}
	if d.CompressMin == 0 {
		d.CompressMin = DefaultCompressMin
	}
	if d.MaxItem == 0 {
		d.MaxItem = DefaultMaxItem
	}
	if d.MaxVariants <= 0 {
		d.MaxVariants = DefaultMaxVariants
	}
	d.MaxVariants = min(d.MaxVariants, maxVariantsCap)
	if d.MaxDecoded <= 0 {
		d.MaxDecoded = DefaultMaxDecoded
	}
	if d.MaxDecodeMemory <= 0 {
		d.MaxDecodeMemory = DefaultMaxDecodeMemory
	}
	if d.MaxDecodeMemory < 2*int64(d.MaxDecoded) {
		d.MaxDecodeMemory = 2 * int64(d.MaxDecoded)
	}
	d.decodeMem = newDecodeBudget(d.MaxDecodeMemory)
	if d.ReadTimeout == 0 {
		d.ReadTimeout = DefaultReadTimeout
	}
	if d.MaxOutbound <= 0 {
		d.MaxOutbound = DefaultMaxOutbound
	}
	if d.MaxHeld <= 0 {
		d.MaxHeld = DefaultMaxHeld
	}
	if d.MaxInbound <= 0 {
		d.MaxInbound = DefaultMaxInbound
	}
	if hb := d.Limits.MaxHeaderBytes; d.MaxInbound < 2*hb {
		d.MaxInbound = 2 * hb
	}
	if d.MaxPipeline == 0 {
		d.MaxPipeline = DefaultMaxPipeline
	}
	if d.ShutdownTimeout == 0 {
		d.ShutdownTimeout = DefaultShutdownTimeout
	}
	if d.AcceptPause <= 0 {
		d.AcceptPause = DefaultAcceptPause
	}
	if d.PurgeAllow == nil {
		d.PurgeAllow = defaultPurgeAllow
	}
	if d.ProxyAllow == nil {
		d.ProxyAllow = defaultProxyAllow
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return d
}
