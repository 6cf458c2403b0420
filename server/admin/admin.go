// Package admin serves mcpage's operations endpoints on a listener of their
// own, apart from client traffic:
//
//   - /metrics: the Prometheus text exposition of the proxy's metrics
//     (server.Server.WritePrometheus), the memcached servers' state, and the
//     Go runtime's and the process's;
//   - /healthz: 200 while the process runs;
//   - /readyz: 200 when the proxy should get traffic, 503 otherwise, with a
//     plain-text body saying why (see Admin.Readiness);
//   - /debug/pprof/: net/http/pprof, only with Config.Pprof (404 without).
//
// It is plain net/http: nothing here is on the request path, and nothing
// it does touches the event loops except through the proxy's atomic
// counters and, for memcached state, one task per loop per scrape.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof" // its init also registers on http.DefaultServeMux, which mcpage never serves
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/mcpage/mcpage/mcclient"
)

// Proxy is what the admin endpoints read from the proxy; *server.Server
// implements it.
type Proxy interface {
	// Serving reports whether the proxy accepts clients (listener bound,
	// event loops running, not shutting down).
	Serving() bool
	// UpstreamAddrs lists the origin addresses, "host:port".
	UpstreamAddrs() []string
	// WritePrometheus writes the proxy's metrics in the text exposition
	// format.
	WritePrometheus(w io.Writer)
}

// MemcachedServer is one memcached server's state, summed over the event
// loops that have a client (a loop gets one when it serves its first
// client connection).
type MemcachedServer struct {
	Addr         string
	Loops        int // loops that reported it
	EjectedLoops int // loops on which it is ejected (its keys go to the next server)
	ConnsUp      int // connections open, all loops together
	Conns        int // connections kept to it, all loops together
	Pending      int // operations waiting for a reply

	// Counters summed over the loops (mcclient.ServerState says what each
	// counts); they never decrease.
	Ops          uint64
	Replies      uint64
	Errors       [mcclient.NumErrorKinds]uint64 // by mcclient.ErrorKind
	Ejections    uint64
	ConnFailures uint64
	Writes       uint64
}

// add adds st's counters to m's.
func (m *MemcachedServer) add(st *mcclient.ServerState) {
	m.Ops += st.Ops
	m.Replies += st.Replies
	for k, n := range st.Errors {
		m.Errors[k] += n
	}
	m.Ejections += st.Ejections
	m.ConnFailures += st.ConnFailures
	m.Writes += st.Writes
}

// Up reports whether the server is in use: some connection to it is open
// and no loop has ejected it.
func (m *MemcachedServer) Up() bool { return m.ConnsUp > 0 && m.EjectedLoops == 0 }

// Defaults of Config's zero fields.
const (
	DefaultDialTimeout  = 250 * time.Millisecond
	DefaultProbeEvery   = time.Second
	DefaultStateTimeout = 250 * time.Millisecond
)

// Config configures the admin endpoints. Addr and Proxy are required; the
// zero value of every other field is a documented default.
type Config struct {
	// Addr is the TCP address to listen on, "host:port" (port 0: the
	// system picks; Admin.Addr says which). Ignored when Listener is set.
	Addr string

	// Listener, when set, is served instead of listening on Addr (a caller
	// that binds the address before it builds the proxy); Close closes it.
	Listener net.Listener

	// Proxy is the proxy served.
	Proxy Proxy

	// Pprof serves net/http/pprof under /debug/pprof/. false → 404 there.
	Pprof bool

	// Memcached returns the memcached servers' state (LoopClients.States
	// does, for memcached page stores); it must return within ctx. nil → no
	// memcached store: nothing is reported.
	Memcached func(ctx context.Context) []MemcachedServer

	// DialTimeout bounds /readyz's connect to each upstream address. 0 →
	// DefaultDialTimeout.
	DialTimeout time.Duration

	// ProbeEvery is how long the result of a readiness probe of the
	// upstreams is reused, so that frequent /readyz requests do not each
	// connect to the origin. 0 → DefaultProbeEvery.
	ProbeEvery time.Duration

	// StateTimeout bounds gathering the memcached state for one request. 0
	// → DefaultStateTimeout.
	StateTimeout time.Duration

	// Dial opens the readiness probe's connections. nil → net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Logger receives the admin server's errors. nil → slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ProbeEvery <= 0 {
		c.ProbeEvery = DefaultProbeEvery
	}
	if c.StateTimeout <= 0 {
		c.StateTimeout = DefaultStateTimeout
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Admin is a running admin server. Start it with Start, stop it with Close.
type Admin struct {
	cfg  Config
	set  *metrics.Set // this instance's own; never the package's global set
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	probeMu sync.Mutex // held while probing: concurrent /readyz wait for one probe
	probeAt time.Time  // when the last probe ended; zero before the first
	probeOK bool
	probe   []string // one line per upstream address
}

// ErrConfig is returned by Start for a Config without Proxy, or without
// both Addr and Listener.
var ErrConfig = errors.New("admin: Proxy and an Addr or Listener are required")

// Start listens on cfg.Addr (or takes cfg.Listener) and serves the
// endpoints until Close.
func Start(cfg Config) (*Admin, error) {
	if (cfg.Addr == "" && cfg.Listener == nil) || cfg.Proxy == nil {
		return nil, ErrConfig
	}
	a := &Admin{cfg: cfg.withDefaults(), set: metrics.NewSet(), done: make(chan struct{})}
	a.set.RegisterMetricsWriter(a.cfg.Proxy.WritePrometheus)
	if a.cfg.Memcached != nil {
		a.set.RegisterMetricsWriter(a.writeMemcached)
	}
	a.set.RegisterMetricsWriter(metrics.WriteProcessMetrics)
	// Open and allowed descriptors: lists /proc/self/fd per scrape, which
	// an edge proxy's operator wants to see approach its limit.
	a.set.RegisterMetricsWriter(metrics.WriteFDMetrics)

	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", a.serveMetrics)
	mux.HandleFunc("/healthz", serveHealthz)
	mux.HandleFunc("/readyz", a.serveReadyz)
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, err
		}
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cfg.Logger.Error("admin server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return a, nil
}

// Addr is the address the admin server listens on.
func (a *Admin) Addr() net.Addr { return a.ln.Addr() }

// Close stops the admin server: requests in progress may finish until ctx
// ends, then the rest are cut off.
func (a *Admin) Close(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, a.srv.Close())
	}
	<-a.done
	return err
}

// WritePrometheus writes every metric /metrics serves to w.
func (a *Admin) WritePrometheus(w io.Writer) { a.set.WritePrometheus(w) }

func (a *Admin) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	a.set.WritePrometheus(w)
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

func (a *Admin) serveReadyz(w http.ResponseWriter, r *http.Request) {
	ready, body := a.Readiness(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, body)
}

// Readiness decides /readyz: ready when the proxy is serving (Proxy.Serving)
// and at least one upstream address accepts a TCP connection (a probe with
// Config.DialTimeout, its result reused for Config.ProbeEvery). Memcached
// is reported but never makes the proxy unready, not even with every
// server down: pages are then answered from the origin (lookups fail fast
// into misses), which is degraded but correct service, and taking every
// proxy of a fleet out of a load balancer because a shared cache is down
// would turn a slow site into no site. body is plain text, first line
// "ready" or "not ready", then one "what: state" line per check.
func (a *Admin) Readiness(ctx context.Context) (ready bool, body string) {
	var b strings.Builder
	ready = true
	if a.cfg.Proxy.Serving() {
		b.WriteString("listener: up\n")
		ok, lines := a.probeUpstreams(ctx)
		ready = ok
		for _, l := range lines {
			b.WriteString(l)
		}
	} else {
		ready = false
		b.WriteString("listener: down (starting or shutting down)\n")
	}
	if a.cfg.Memcached != nil {
		writeMemcachedSummary(&b, a.memcachedState(ctx))
	}
	head := "ready\n"
	if !ready {
		head = "not ready\n"
	}
	return ready, head + b.String()
}

// probeUpstreams reports whether some upstream address accepts connections,
// with one line per address. A result is reused for ProbeEvery; callers
// that arrive while a probe runs wait for it.
func (a *Admin) probeUpstreams(ctx context.Context) (bool, []string) {
	a.probeMu.Lock()
	defer a.probeMu.Unlock()
	if !a.probeAt.IsZero() && time.Since(a.probeAt) < a.cfg.ProbeEvery {
		return a.probeOK, a.probe
	}
	addrs := a.cfg.Proxy.UpstreamAddrs()
	lines := make([]string, len(addrs))
	ok := make([]bool, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, a.cfg.DialTimeout)
			defer cancel()
			nc, err := a.cfg.Dial(dctx, "tcp", addr)
			if err != nil {
				lines[i] = fmt.Sprintf("upstream %s: unreachable: %v\n", addr, err)
				return
			}
			nc.Close()
			ok[i] = true
			lines[i] = fmt.Sprintf("upstream %s: reachable\n", addr)
		}()
	}
	wg.Wait()
	anyOK := false
	for _, o := range ok {
		anyOK = anyOK || o
	}
	if ctx.Err() != nil {
		return anyOK, lines // the asker gave up: not a result to keep
	}
	a.probeAt, a.probeOK, a.probe = time.Now(), anyOK, lines
	return anyOK, lines
}

func (a *Admin) memcachedState(ctx context.Context) []MemcachedServer {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StateTimeout)
	defer cancel()
	return a.cfg.Memcached(ctx)
}

// writeMemcachedSummary appends /readyz's memcached lines.
func writeMemcachedSummary(b *strings.Builder, servers []MemcachedServer) {
	if len(servers) == 0 {
		b.WriteString("memcached: no state yet (no event loop has served a client)\n")
		return
	}
	up := 0
	for i := range servers {
		if servers[i].Up() {
			up++
		}
	}
	fmt.Fprintf(b, "memcached: %d/%d servers up", up, len(servers))
	if up == 0 {
		b.WriteString(" (pages are answered from the origin)")
	}
	b.WriteString("\n")
	for i := range servers {
		s := &servers[i]
		state := "up"
		switch {
		case s.EjectedLoops > 0:
			state = "ejected"
		case !s.Up():
			state = "down"
		}
		fmt.Fprintf(b, "memcached %s: %s (ejected on %d/%d loops, %d/%d connections open, %d pending)\n",
			s.Addr, state, s.EjectedLoops, s.Loops, s.ConnsUp, s.Conns, s.Pending)
	}
}

// writeMemcached is the metrics writer for the memcached servers' state:
// one family after another, each with a series per server.
func (a *Admin) writeMemcached(w io.Writer) {
	servers := a.memcachedState(context.Background())
	gauge := func(name string, v func(*MemcachedServer) uint64) {
		for i := range servers {
			s := &servers[i]
			metrics.WriteGaugeUint64(w, fmt.Sprintf(`%s{server=%q}`, name, s.Addr), v(s))
		}
	}
	counter := func(name string, v func(*MemcachedServer) uint64) {
		for i := range servers {
			s := &servers[i]
			metrics.WriteCounterUint64(w, fmt.Sprintf(`%s{server=%q}`, name, s.Addr), v(s))
		}
	}
	gauge("mcpage_memcached_server_up", func(s *MemcachedServer) uint64 {
		if s.Up() {
			return 1
		}
		return 0
	})
	gauge("mcpage_memcached_server_ejected_loops", func(s *MemcachedServer) uint64 { return uint64(s.EjectedLoops) })
	gauge("mcpage_memcached_server_connections", func(s *MemcachedServer) uint64 { return uint64(s.ConnsUp) })
	gauge("mcpage_memcached_server_pending_ops", func(s *MemcachedServer) uint64 { return uint64(s.Pending) })
	counter("mcpage_memcached_server_operations_total", func(s *MemcachedServer) uint64 { return s.Ops })
	counter("mcpage_memcached_server_replies_total", func(s *MemcachedServer) uint64 { return s.Replies })
	for i := range servers {
		s := &servers[i]
		for k, n := range s.Errors {
			metrics.WriteCounterUint64(w, fmt.Sprintf(`mcpage_memcached_server_errors_total{server=%q,kind=%q}`, s.Addr, mcclient.ErrorKind(k)), n)
		}
	}
	counter("mcpage_memcached_server_ejections_total", func(s *MemcachedServer) uint64 { return s.Ejections })
	counter("mcpage_memcached_server_connection_failures_total", func(s *MemcachedServer) uint64 { return s.ConnFailures })
	counter("mcpage_memcached_server_writes_total", func(s *MemcachedServer) uint64 { return s.Writes })
}
