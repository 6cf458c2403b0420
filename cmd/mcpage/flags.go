package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
	"github.com/mcpage/mcpage/server"
	"github.com/mcpage/mcpage/server/admin"
	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/mcstore"
	"github.com/mcpage/mcpage/server/pagestore"
	"github.com/mcpage/mcpage/server/upstream"
)

var errHelp = errors.New("help requested")

// options holds the raw flag values; build turns them into server.Config.
type options struct {
	listen           string
	upstream         string
	memcached        string
	storeSize        size
	ttl              time.Duration
	maxTTL           time.Duration
	compressMin      size
	maxItem          size
	maxVariants      int
	requestCC        bool
	keyPrefix        string
	bypassCookie     string
	loops            int
	readTimeout      time.Duration
	upstreamTimeout  time.Duration
	upstreamMaxConns int
	maxHeaderBytes   size
	maxBodyBytes     size
	maxOutbound      size
	maxInbound       size
	maxHeld          size
	maxDecoded       size
	upstreamIdle     time.Duration
	mcConns          int
	mcTimeout        time.Duration
	mcConnectTimeout time.Duration
	mcFailures       int
	mcRetry          time.Duration
	grace            time.Duration
	staleIfError     time.Duration
	purgeAllow       string
	admin            string
	adminPprof       bool
	mcItemSize       size
	rawContentType   string
	rawGzipFlag      uint64
	accessLog        string
	logLevel         string
	level            slog.Level // -log-level, parsed
	opsOptions                  // -proxy-protocol, -drain-timeout, … (opsflags.go)

	cfg server.Config
	// src says where each flag's value came from (config.go).
	src *configSources
	// mcLoops collects each event loop's memcached client for the admin
	// endpoints' memcached state (admin.go); nil without -memcached.
	mcLoops *admin.LoopClients
	// What -memcached builds each event loop's store with (with cfg.NewStore).
	mcClient mcclient.Config
	mcStore  mcstore.Config
}

func (o *options) storeName() string {
	if o.memcached == "" {
		return "embedded"
	}
	return "memcached " + o.memcached
}

// parseFlags parses and validates args; every error is one line that names
// the flag.
func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{
		storeSize:      server.DefaultStoreSize,
		compressMin:    server.DefaultCompressMin,
		maxItem:        server.DefaultMaxItem,
		maxHeaderBytes: httpparse.DefaultMaxHeaderBytes,
		maxBodyBytes:   httpparse.DefaultMaxBodyBytes,
		maxOutbound:    server.DefaultMaxOutbound,
		maxInbound:     server.DefaultMaxInbound,
		maxHeld:        server.DefaultMaxHeld,
		maxDecoded:     server.DefaultMaxDecoded,
		mcItemSize:     1 << 20,
	}
	fs := flag.NewFlagSet("mcpage", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.src = addConfigFlags(fs) // -config, -print-config
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to accept clients on (host:port)")
	fs.StringVar(&o.upstream, "upstream", "127.0.0.1:9000", "origin servers, comma-separated host:port or http://host:port; several are load-balanced")
	fs.StringVar(&o.memcached, "memcached", "", "memcached servers (host:port[:weight],...; libmemcached ketama placement); empty = embedded in-process store")
	fs.IntVar(&o.mcConns, "mc-conns", 1, "connections to each memcached server per event loop")
	fs.DurationVar(&o.mcTimeout, "mc-timeout", 100*time.Millisecond, "a memcached operation slower than this fails: a lookup becomes a miss served from the origin")
	fs.DurationVar(&o.mcConnectTimeout, "mc-connect-timeout", time.Second, "limit on connecting to a memcached server")
	fs.IntVar(&o.mcFailures, "mc-failures", 3, "failures in a row (timeouts, lost connections) that eject a memcached server; its keys move to the next server")
	fs.StringVar(&o.purgeAllow, "purge-allow", "127.0.0.0/8,::1/128", "client networks (comma-separated CIDRs) whose PURGE requests are obeyed; others get 403")
	fs.Var(&o.mcItemSize, "mc-item-size", "memcached's item size limit (its -I; suffixes K, M, G): a page record larger than this, less 512 bytes of item overhead, is stored as several items (chunks) and a manifest; -max-item bounds the whole page. Set it to the servers' -I")
	fs.StringVar(&o.rawContentType, "raw-content-type", mcstore.DefaultRawContentType, "Content-Type of a value an application wrote under a page's key without an mcpage record header; such a value is served as the body of a 200 response")
	fs.Uint64Var(&o.rawGzipFlag, "raw-gzip-flag", 0, "memcached client flags bit(s) marking an application-written value as gzip-compressed (served with Content-Encoding: gzip, or decoded for clients without gzip), as nginx's memcached_gzip_flag; 0 = such values are identity")
	fs.DurationVar(&o.mcRetry, "mc-retry", 2*time.Second, "how long an ejected memcached server is left alone before it is probed back")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "how long past freshness a page may still be served stale: at once while one request refreshes it, and instead of an origin failure (a response's stale-while-revalidate / stale-if-error may allow longer; must-revalidate forbids); 0 = only what responses allow")
	fs.DurationVar(&o.staleIfError, "stale-if-error", 0, "how long past freshness a page may be served instead of an origin error, timeout or 5xx (nginx's proxy_cache_use_stale), beyond -grace; a response's stale-if-error may allow longer, must-revalidate forbids")
	fs.Var(&o.storeSize, "store-size", "byte bound of the embedded store (suffixes K, M, G; binary)")
	fs.DurationVar(&o.ttl, "ttl", 2*time.Minute, "freshness for a storable response that carries none; 0 = strict RFC 9111 (explicit or Last-Modified heuristic only)")
	fs.DurationVar(&o.maxTTL, "max-ttl", 24*time.Hour, "cap on any stored page's freshness; 0 = no cap")
	fs.Var(&o.compressMin, "compress-min", "pages of at least this many bytes are stored gzip-compressed; 0 = never")
	fs.Var(&o.maxItem, "max-item", "largest page record stored, after compression")
	fs.BoolVar(&o.requestCC, "request-cache-control", false, "obey the request's Cache-Control (max-age, min-fresh, max-stale, no-cache, no-store, only-if-cached) and Pragma: no-cache; off by default because browsers' reload buttons would make every visitor refetch pages from the origin (part of the RFC 9111 strict set)")
	fs.IntVar(&o.maxVariants, "max-variants", server.DefaultMaxVariants, "most variants stored per URL for responses that Vary on request fields besides Accept-Encoding; one more drops the oldest (1..255)")
	fs.StringVar(&o.keyPrefix, "key-prefix", "", "prefix of every cache key")
	fs.StringVar(&o.bypassCookie, "bypass-cookie", "", "regexp on cookie names: a request carrying a matching cookie skips the cache; empty = any cookie")
	fs.IntVar(&o.loops, "loops", 0, "event loops; 0 = GOMAXPROCS")
	fs.DurationVar(&o.readTimeout, "read-timeout", server.DefaultReadTimeout, "close connections idle, or sending a request, for this long")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", upstream.DefaultTimeout, "limit on one upstream exchange (502/504 after it)")
	fs.IntVar(&o.upstreamMaxConns, "upstream-max-conns", upstream.DefaultMaxConnsPerAddr, "connections per upstream server")
	fs.Var(&o.maxHeaderBytes, "max-header-bytes", "limit on a request line plus headers (431 past it)")
	fs.Var(&o.maxBodyBytes, "max-body-bytes", "limit on a request body (413 past it)")
	fs.Var(&o.maxOutbound, "max-outbound", "per connection: response bytes buffered for a client that has not read them; past it the proxy stops producing responses for it")
	fs.Var(&o.maxHeld, "max-held", "per connection: answered response bytes queued behind one the client has not taken yet; past it the proxy stops reading requests and starting lookups for it")
	fs.Var(&o.maxInbound, "max-inbound", "per connection: unparsed request bytes buffered while the proxy is not reading it (pipeline full, output blocked); past it the connection is closed")
	fs.Var(&o.maxDecoded, "max-decoded", "largest body mcpage inflates (a stored gzip page for a client without gzip); pages decoding larger are not stored")
	fs.DurationVar(&o.upstreamIdle, "upstream-idle-timeout", upstream.DefaultMaxResponseIdleTimeout, "longest silence of the origin inside a response (after its first byte) before a 502; capped by -upstream-timeout")
	fs.StringVar(&o.admin, "admin", "", "address (host:port) of the operations listener: /metrics, /healthz, /readyz; empty = off")
	fs.BoolVar(&o.adminPprof, "admin-pprof", false, "also serve /debug/pprof/ on the -admin listener")
	fs.StringVar(&o.accessLog, "access-log", "", "file to append one line per request to (combined log format, then X-Cache outcome, upstream and total seconds); - = stdout; SIGHUP reopens it; empty = off")
	fs.StringVar(&o.logLevel, "log-level", "info", "diagnostics on stderr from this level up: debug, info, warn, error")
	o.opsOptions.register(fs)
	if err := o.src.parse(args, os.Environ()); err != nil { // flag > MCPAGE_* > -config file > default
		if err == flag.ErrHelp {
			usage(fs, out)
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if err := o.build(); err != nil {
		return nil, o.src.annotate(err)
	}
	if o.src.print {
		o.src.write(stdout)
		return nil, errHelp // exit 0 without serving
	}
	return o, nil
}

func usage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, "usage: mcpage [flags]\n\nAn edge caching reverse proxy. Every flag may also be set by the environment\n(MCPAGE_ + name in upper case, '-' as '_': MCPAGE_MC_CONNS) or in the -config file\n(name = value); flags win over the environment, which wins over the file. Flags:\n")
	fs.SetOutput(out)
	fs.PrintDefaults()
}

// build validates the options and fills o.cfg.
func (o *options) build() error {
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return fmt.Errorf("-listen %q: want host:port", o.listen)
	}
	addrs, err := splitUpstreams(o.upstream)
	if err != nil {
		return err
	}
	var ring *ketama.Ring
	if o.memcached != "" {
		servers, err := ketama.Parse(o.memcached)
		if err == nil {
			ring, err = ketama.New(servers)
		}
		if err != nil {
			return fmt.Errorf("-memcached %q: %v", o.memcached, err)
		}
	}
	switch {
	case o.mcConns < 1 || o.mcConns > 64:
		return fmt.Errorf("-mc-conns %d: want 1 to 64", o.mcConns)
	case o.mcTimeout <= 0:
		return fmt.Errorf("-mc-timeout %v: must be positive", o.mcTimeout)
	case o.mcConnectTimeout <= 0:
		return fmt.Errorf("-mc-connect-timeout %v: must be positive", o.mcConnectTimeout)
	case o.mcRetry <= 0:
		return fmt.Errorf("-mc-retry %v: must be positive", o.mcRetry)
	case o.storeSize < 1<<20:
		return fmt.Errorf("-store-size %d: must be at least 1M", o.storeSize)
	case o.ttl < 0:
		return fmt.Errorf("-ttl %v: must not be negative", o.ttl)
	case o.grace < 0 || o.grace > server.MaxStaleKeep:
		return fmt.Errorf("-grace %v: must be between 0 and %v", o.grace, server.MaxStaleKeep)
	case o.staleIfError < 0 || o.staleIfError > server.MaxStaleKeep:
		return fmt.Errorf("-stale-if-error %v: must be between 0 and %v", o.staleIfError, server.MaxStaleKeep)
	case o.maxTTL < 0:
		return fmt.Errorf("-max-ttl %v: must not be negative", o.maxTTL)
	case o.maxVariants < 1 || o.maxVariants > 255:
		return fmt.Errorf("-max-variants %d: must be between 1 and 255", o.maxVariants)
	case o.maxItem < 1024:
		return fmt.Errorf("-max-item %d: must be at least 1K", o.maxItem)
	case int64(o.maxItem) > int64(o.storeSize):
		return fmt.Errorf("-max-item %d: larger than -store-size %d", o.maxItem, o.storeSize)
	case len(o.keyPrefix) > 64:
		return fmt.Errorf("-key-prefix: at most 64 bytes")
	case strings.IndexFunc(o.keyPrefix, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0:
		return fmt.Errorf("-key-prefix %q: only visible ASCII, no spaces", o.keyPrefix)
	case o.loops < 0 || o.loops > 1024:
		return fmt.Errorf("-loops %d: want 0 (GOMAXPROCS) to 1024", o.loops)
	case o.readTimeout <= 0:
		return fmt.Errorf("-read-timeout %v: must be positive", o.readTimeout)
	case o.upstreamTimeout <= 0:
		return fmt.Errorf("-upstream-timeout %v: must be positive", o.upstreamTimeout)
	case o.upstreamMaxConns < 1 || o.upstreamMaxConns > 1<<20:
		return fmt.Errorf("-upstream-max-conns %d: want 1 to 1048576", o.upstreamMaxConns)
	case o.maxHeaderBytes < 1024 || o.maxHeaderBytes > 1<<20:
		return fmt.Errorf("-max-header-bytes %d: want 1K to 1M", o.maxHeaderBytes)
	case o.maxBodyBytes < 0:
		return fmt.Errorf("-max-body-bytes %d: must not be negative", o.maxBodyBytes)
	case o.maxOutbound < 64<<10:
		return fmt.Errorf("-max-outbound %d: must be at least 64K", o.maxOutbound)
	case o.maxHeld < 64<<10:
		return fmt.Errorf("-max-held %d: must be at least 64K", o.maxHeld)
	case o.maxInbound < 2*o.maxHeaderBytes:
		return fmt.Errorf("-max-inbound %d: must be at least twice -max-header-bytes", o.maxInbound)
	case o.maxDecoded < 64<<10:
		return fmt.Errorf("-max-decoded %d: must be at least 64K", o.maxDecoded)
	case o.upstreamIdle <= 0:
		return fmt.Errorf("-upstream-idle-timeout %v: must be positive", o.upstreamIdle)
	case o.mcItemSize < 64<<10 || o.mcItemSize > 1<<30:
		return fmt.Errorf("-mc-item-size %d: want 64K to 1G (memcached's -I)", o.mcItemSize)
	case o.memcached != "" && (int64(o.maxItem)-1)/int64(o.mcItemSize-mcstore.ItemOverhead)+1 > mcstore.MaxChunks:
		return fmt.Errorf("-max-item %d: a page would take more than %d items of -mc-item-size %d", o.maxItem, mcstore.MaxChunks, o.mcItemSize)
	case o.rawContentType == "":
		return fmt.Errorf("-raw-content-type: want a media type, such as %q", mcstore.DefaultRawContentType)
	case mcstore.CheckRawContentType(o.rawContentType) != nil:
		return fmt.Errorf("-raw-content-type %q: control characters cannot go in a header field", o.rawContentType)
	case o.rawGzipFlag > 1<<32-1:
		return fmt.Errorf("-raw-gzip-flag %d: memcached client flags are 32 bits", o.rawGzipFlag)
	case o.adminPprof && o.admin == "":
		return fmt.Errorf("-admin-pprof: needs -admin")
	}
	if o.level, err = parseLevel(o.logLevel); err != nil {
		return err
	}
	if o.admin != "" {
		if _, _, err := net.SplitHostPort(o.admin); err != nil {
			return fmt.Errorf("-admin %q: want host:port", o.admin)
		}
	}
	var bypass *regexp.Regexp
	if o.bypassCookie != "" {
		if bypass, err = regexp.Compile(o.bypassCookie); err != nil {
			return fmt.Errorf("-bypass-cookie: %v", err)
		}
	}
	compressMin := int(o.compressMin)
	if compressMin == 0 {
		compressMin = -1 // the flag's 0 means never; the Config's 0 means default
	}
	maxBody := int64(o.maxBodyBytes)
	if maxBody == 0 {
		maxBody = 1 // 0 means "no bodies": one byte is the smallest bound httpparse takes literally
	}
	o.cfg = server.Config{
		Listen: o.listen,
		Loops:  o.loops,
		Upstream: upstream.Config{
			Addrs:               addrs,
			Timeout:             o.upstreamTimeout,
			ResponseIdleTimeout: min(o.upstreamIdle, o.upstreamTimeout),
			MaxConnsPerAddr:     o.upstreamMaxConns,
		},
		StoreSize:           int64(o.storeSize),
		Policy:              cachepolicy.Rules{DefaultTTL: o.ttl, MaxTTL: o.maxTTL},
		BypassCookie:        bypass,
		KeyPrefix:           o.keyPrefix,
		CompressMin:         compressMin,
		MaxItem:             int(o.maxItem),
		MaxVariants:         o.maxVariants,
		RequestCacheControl: o.requestCC,
		ReadTimeout:         o.readTimeout,
		MaxOutbound:         int(o.maxOutbound),
		MaxInbound:          int(o.maxInbound),
		MaxHeld:             int(o.maxHeld),
		MaxDecoded:          int(o.maxDecoded),
		Grace:               o.grace,
		StaleIfError:        o.staleIfError,
		Limits: httpparse.Limits{
			MaxHeaderBytes: int(o.maxHeaderBytes),
			MaxBodyBytes:   maxBody,
		},
	}
	for _, c := range strings.Split(o.purgeAllow, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("-purge-allow %q: want CIDRs such as 127.0.0.0/8", c)
		}
		o.cfg.PurgeAllow = append(o.cfg.PurgeAllow, pfx.Masked())
	}
	if o.cfg.PurgeAllow == nil {
		o.cfg.PurgeAllow = []netip.Prefix{} // empty: nobody may purge
	}
	if err := o.opsOptions.build(&o.cfg); err != nil {
		return err
	}
	if ring != nil {
		o.mcLoops = &admin.LoopClients{}
		o.mcClient = mcclient.Config{
			ConnectTimeout: o.mcConnectTimeout,
			OpTimeout:      o.mcTimeout,
			ConnsPerServer: o.mcConns,
			FailureLimit:   o.mcFailures,
			RetryInterval:  o.mcRetry,
			// Sent: nothing larger than the store's ItemSize (larger pages
			// go in chunks). Received: nothing larger than the servers'
			// real -I; a reply past this bound costs the connection, so a
			// server started with a larger -I than -mc-item-size says may
			// still hand back an application's raw value up to -max-item,
			// as it could before chunking.
			MaxValueSize: max(int(o.mcItemSize), int(o.maxItem)),
		}
		o.mcStore = mcstore.Config{
			SweepEvery: max(o.mcTimeout/10, 5*time.Millisecond),
			FillTTL:    10,
			FillWait:   time.Second,
			// Every process on the cluster keeps pages MaxStaleKeep past
			// freshness, so that mg R elects one refresher when freshness
			// ends.
			Keep:        server.MaxStaleKeep,
			ItemSize:    int(o.mcItemSize) - mcstore.ItemOverhead,
			MaxPage:     int(o.maxItem),
			ChunkMemory: max(mcstore.DefaultChunkMemory, 2*int(o.maxItem)),
			// Raw values: with -ttl 0, mcstore's DefaultRawTTL.
			RawContentType: o.rawContentType,
			RawGzipFlag:    uint32(o.rawGzipFlag),
			RawTTL:         o.ttl,
		}
		o.cfg.NewStore = memcachedStore(ring, o.mcLoops, o.mcClient, o.mcStore)
	}
	return nil
}

// memcachedStore returns the Config.NewStore that gives each event loop its
// own memcached client on that loop, recorded in loops. Every loop shares
// the ring (read-only).
func memcachedStore(ring *ketama.Ring, loops *admin.LoopClients, cfg mcclient.Config, scfg mcstore.Config) func(int, gnet.EventLoop) pagestore.Store {
	return func(_ int, el gnet.EventLoop) pagestore.Store {
		lc, err := mcclient.NewLoopClient(el, ring, cfg)
		if err != nil {
			// Only a nil loop or an empty ring fail, and build checked both.
			panic(fmt.Sprintf("mcpage: memcached client: %v", err))
		}
		loops.Add(el, lc)
		return mcstore.New(lc, scfg)
	}
}

func newServer(o *options) (*server.Server, error) { return server.New(o.cfg) }

// splitUpstreams parses -upstream: comma-separated addresses in any form
// upstream.ParseAddr takes.
func splitUpstreams(v string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if len(a) >= len("https://") && strings.EqualFold(a[:len("https://")], "https://") {
			return nil, fmt.Errorf("-upstream %q: https origins are not supported; use http://", a)
		}
		hp, err := upstream.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("-upstream %q: want host:port, host or http://host[:port]", a)
		}
		out = append(out, hp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-upstream: at least one host:port is required")
	}
	return out, nil
}

// size is a byte count flag that takes K, M, G suffixes (binary: 1K = 1024),
// optionally followed by "B" or "iB".
type size int64

func (s *size) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *size) Set(v string) error {
	t := strings.TrimSpace(strings.ToUpper(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a byte size (e.g. 1048576, 512K, 256M, 1G)", v)
	}
	*s = size(n * mult)
	return nil
}
