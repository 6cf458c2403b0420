package server

// Metrics. The hit path pays for them with atomic adds on counters its own
// event loop owns (no lock, no allocation, no map): each loop keeps fixed
// arrays indexed by X-Cache outcome, method and status class (loopCounters),
// and a response is counted once, when its slot is completed (account),
// from the head bytes it will be sent with: the status line and the X-Cache
// field are the single place where what happened to a request is written
// down, whichever of the many paths (hit, stale, fill, pass, purge, error)
// produced it. Everything else (Stats, the sums of the loops' arrays) is
// read when /metrics is scraped.
//
// Why github.com/VictoriaMetrics/metrics: it is written for hot paths
// (Counter.Inc is one atomic add; there are no label maps, vectors or
// descriptor lookups per update, unlike prometheus/client_golang's
// CounterVec.WithLabelValues, which hashes labels and locks), it has no
// dependencies beyond two small valyala packages, its Set is an ordinary
// value (one per Server here, never the package's global set), and
// Set.RegisterMetricsWriter lets counters the server already keeps be
// written at scrape time with nothing registered per label combination.
// Its PrometheusHistogram takes a mutex per Update; it is used only for
// upstream exchange times, on the upstream workers, off the hit path, where
// one uncontended lock is nothing next to a network round trip.

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/mcpage/mcpage/server/cachepolicy"
	"github.com/mcpage/mcpage/server/upstream"
)

// outcome is a response's X-Cache label as an index.
type outcome uint8

const (
	outNone        outcome = iota // no X-Cache: a request the parser rejected
	outHit                        // HIT
	outMiss                       // MISS
	outStale                      // STALE
	outRevalidated                // REVALIDATED
	outBypass                     // BYPASS
	outPass                       // PASS
	outPurge                      // PURGE
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"none", labelHit, labelMiss, labelStale, labelRevalidated, labelBypass, labelPass, labelPurge}

// Method classes, the values of pending.method. 0 is every method not
// named (and a request rejected before its method was known).
const (
	mcOther uint8 = iota
	mcGET
	mcHEAD
	mcPOST
	mcPUT
	mcDELETE
	mcPATCH
	mcOPTIONS
	mcPURGE
	numMethods
)

var methodNames = [numMethods]string{"OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"}

// methodOf is the method class of a request method (case-sensitive, as
// methods are). It does not allocate.
func methodOf(m []byte) uint8 {
	switch string(m) {
	case "GET":
		return mcGET
	case "HEAD":
		return mcHEAD
	case "POST":
		return mcPOST
	case "PUT":
		return mcPUT
	case "DELETE":
		return mcDELETE
	case "PATCH":
		return mcPATCH
	case "OPTIONS":
		return mcOPTIONS
	case "PURGE":
		return mcPURGE
	}
	return mcOther
}

// Status classes: 1..5 for 1xx..5xx, 0 for a head without a readable status.
const numClasses = 6

var classNames = [numClasses]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Purge results, by the PURGE answer's status.
const (
	purgePurged    = iota // 200
	purgeNotFound         // 404
	purgeForbidden        // 403: not from -purge-allow
	purgeError            // anything else (the store failed)
	numPurgeResults
)

var purgeResultNames = [numPurgeResults]string{"purged", "not_found", "forbidden", "error"}

// notStoredReasons are the reasons a cacheable page was not stored, as
// X-Cache-Detail gives them ("not stored: <reason>"); index 0 is any
// other. reasonTooLarge is also counted for pages whose record came out
// larger than MaxItem after it was built (keep), which say no detail.
var notStoredReasons = [...]string{
	"other",
	cachepolicy.ReasonStatus,
	cachepolicy.ReasonTooManyFields,
	cachepolicy.ReasonSetCookie,
	cachepolicy.ReasonMalformed,
	cachepolicy.ReasonNoStore,
	cachepolicy.ReasonPrivate,
	cachepolicy.ReasonNoCache,
	cachepolicy.ReasonAuthorization,
	cachepolicy.ReasonVary,
	cachepolicy.ReasonNoFreshness,
	cachepolicy.ReasonStale,
	"content-encoding",
	"record",
	"decoded too large",
	"undecodable body",
	"too large",
}

const reasonTooLarge = len(notStoredReasons) - 1

// loopCounters are one event loop's response counters. Only that loop
// adds to them; a scrape sums every loop's (atomic loads), so no two cores
// ever write one counter.
type loopCounters struct {
	resp      [numOutcomes][numMethods][numClasses]atomic.Uint64
	purges    [2][numPurgeResults]atomic.Uint64 // [hard][result]
	notStored [len(notStoredReasons)]atomic.Uint64
	bytesIn   atomic.Uint64 // request bytes read from clients
	bytesOut  atomic.Uint64 // response bytes handed to client sockets
	held      atomic.Int64  // response bytes the loop's connections hold in their queues (held.go)
}

var (
	xcacheField = []byte("\r\nX-Cache: ")
	notStoredAt = []byte("X-Cache-Detail: not stored: ")
)

// account counts slot p's response once, from out, the bytes its response
// starts with (its head, and possibly its body): the status class from the
// status line, the outcome from X-Cache (every response mcpage renders
// carries one, in its head, and a stored or relayed origin field of that
// name never reaches a client), for a PURGE its kind and result, for a
// MISS or REVALIDATED its X-Cache-Detail reason. A call for a slot already
// counted, or with no response head, does nothing. On the loop only.
func (l *loop) account(p *pending, out []byte) {
	if p.counted || len(out) < len("HTTP/1.1 200 ") {
		return
	}
	p.counted = true
	status := statusOf(out)
	o, rest := outcomeOf(out)
	m := &l.m
	m.resp[o][p.method][classOf(status)].Add(1)
	if l.alog != nil {
		p.logAccount(status, o, out) // accesslog.go
	}
	switch o {
	case outPurge:
		r := purgeError
		switch status {
		case 200:
			r = purgePurged
		case 404:
			r = purgeNotFound
		case 403:
			r = purgeForbidden
		}
		hard := 0
		if p.purgeHard {
			hard = 1
		}
		m.purges[hard][r].Add(1)
	case outMiss, outRevalidated:
		if bytes.HasPrefix(rest, notStoredAt) {
			m.notStored[reasonIndex(rest[len(notStoredAt):])].Add(1)
		}
	}
}

// statusOf reads the status code of a response head ("HTTP/1.1 200 …"),
// 0 when it has none.
func statusOf(out []byte) int {
	if out[0] != 'H' || out[8] != ' ' {
		return 0
	}
	n := 0
	for _, b := range out[9:12] {
		if b < '0' || b > '9' {
			return 0
		}
		n = n*10 + int(b-'0')
	}
	return n
}

// classOf is the index in classNames of a status code.
func classOf(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// outcomeOf finds the X-Cache label of a response head and returns it with
// the bytes after its line.
func outcomeOf(out []byte) (outcome, []byte) {
	// Look for the field name's rare first byte ('X', which IndexByte
	// finds with SIMD), then check the whole "\r\nX-Cache: ": a scan for
	// the CRLF would stop at every line.
	var v []byte
	for i := 0; ; {
		j := bytes.IndexByte(out[i:], 'X')
		if j < 0 {
			return outNone, nil
		}
		i += j
		if i >= 2 && bytes.HasPrefix(out[i-2:], xcacheField) {
			v = out[i-2+len(xcacheField):]
			break
		}
		i++
	}
	end := bytes.IndexByte(v, '\r')
	if end < 0 {
		return outNone, nil
	}
	rest := v[min(end+2, len(v)):]
	switch string(v[:end]) {
	case labelHit:
		return outHit, rest
	case labelMiss:
		return outMiss, rest
	case labelStale:
		return outStale, rest
	case labelRevalidated:
		return outRevalidated, rest
	case labelBypass:
		return outBypass, rest
	case labelPass:
		return outPass, rest
	case labelPurge:
		return outPurge, rest
	}
	return outNone, rest
}

// reasonIndex is the notStoredReasons index of the reason that starts v
// (up to its line's end).
func reasonIndex(v []byte) int {
	if end := bytes.IndexByte(v, '\r'); end >= 0 {
		v = v[:end]
	}
	for i, r := range notStoredReasons {
		if string(v) == r {
			return i
		}
	}
	return 0
}

// upstreamErrorNames names upstream.Job.Err values for
// mcpage_upstream_errors_total.
var upstreamErrorNames = [...]struct {
	err  error
	name string
}{
	{upstream.ErrTimeout, "timeout"},
	{upstream.ErrConnect, "connect"},
	{upstream.ErrUpstreamClosed, "closed"},
	{upstream.ErrBadResponse, "bad_response"},
	{upstream.ErrStalled, "stalled"},
	{upstream.ErrBodyTooLarge, "body_too_large"},
	{upstream.ErrBadRequest, "bad_request"},
	{upstream.ErrClosed, "shutdown"},
}

// upstreamBuckets are the upper bounds, in seconds, of
// mcpage_upstream_duration_seconds.
var upstreamBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// serverMetrics is a Server's metrics.Set: the upstream histogram and error
// counters, which the upstream workers update, and a writer that reads
// everything else at scrape time.
type serverMetrics struct {
	set          *metrics.Set
	upstreamTime *metrics.PrometheusHistogram
	upstreamErrs [len(upstreamErrorNames) + 1]*metrics.Counter // last: any other
	// recordTooLarge counts pages answered to a client but not stored
	// because their record came out larger than MaxItem (fill.go keep):
	// their response carries no X-Cache-Detail. Workers add to it.
	recordTooLarge atomic.Uint64
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{set: metrics.NewSet()}
	m.upstreamTime = m.set.NewPrometheusHistogramExt("mcpage_upstream_duration_seconds", upstreamBuckets)
	for i, e := range upstreamErrorNames {
		m.upstreamErrs[i] = m.set.NewCounter(`mcpage_upstream_errors_total{error="` + e.name + `"}`)
	}
	m.upstreamErrs[len(upstreamErrorNames)] = m.set.NewCounter(`mcpage_upstream_errors_total{error="other"}`)
	return m
}

// countTooLarge counts, when tooLarge, a page answered to a client but not
// stored because its record came out larger than MaxItem. Any goroutine.
func (m *serverMetrics) countTooLarge(tooLarge bool) {
	if tooLarge {
		m.recordTooLarge.Add(1)
	}
}

// observeUpstream is upstream.Config.Observe: on a worker, after each
// exchange.
func (m *serverMetrics) observeUpstream(j *upstream.Job, took time.Duration) {
	m.upstreamTime.Update(took.Seconds())
	if j.Err == nil {
		return
	}
	i := len(upstreamErrorNames)
	for k, e := range upstreamErrorNames {
		if j.Err == e.err {
			i = k
			break
		}
	}
	m.upstreamErrs[i].Inc()
}

// WritePrometheus writes the server's metrics to w in the Prometheus text
// exposition format. Safe from any goroutine; it costs the event loops
// nothing (atomic loads of counters they keep).
func (s *Server) WritePrometheus(w io.Writer) { s.metrics.set.WritePrometheus(w) }

// writeCounters is the server's metrics writer: Stats and the sums of the
// loops' counters, read now.
func (s *Server) writeCounters(w io.Writer) {
	st := &s.stats
	for _, c := range [...]struct {
		name string
		v    *atomic.Int64
	}{
		{"mcpage_connections_total", &st.Conns},
		{"mcpage_cache_hits_total", &st.Hits},
		{"mcpage_cache_stale_hits_total", &st.StaleHits},
		{"mcpage_cache_misses_total", &st.Misses},
		{"mcpage_cache_passes_total", &st.Passes},
		{"mcpage_coalesced_total", &st.Coalesced},
		{"mcpage_stale_refreshes_total", &st.Refreshes},
		{"mcpage_store_lookup_errors_total", &st.StoreErrors},
		{"mcpage_errors_total", &st.Errors},
		{"mcpage_upstream_requests_total", &st.Upstream},
		{"mcpage_access_log_dropped_total", &st.AccessLogDropped},
		{"mcpage_proxy_protocol_rejected_total", &st.ProxyRejected},
	} {
		metrics.WriteCounterUint64(w, c.name, uint64(max(c.v.Load(), 0)))
	}
	metrics.WriteGaugeUint64(w, "mcpage_requests_in_flight", uint64(max(s.inflight.Load(), 0)))

	var sum loopSums
	if view := s.loopView.Load(); view != nil {
		for _, l := range *view {
			sum.add(&l.m)
		}
	}
	for o := range numOutcomes {
		for m := range numMethods {
			var n uint64
			for c := range numClasses {
				n += sum.resp[o][m][c]
			}
			if n > 0 {
				metrics.WriteCounterUint64(w, fmt.Sprintf(`mcpage_requests_total{cache=%q,method=%q}`, outcomeNames[o], methodNames[m]), n)
			}
		}
	}
	for c := range numClasses {
		var n uint64
		for o := range numOutcomes {
			for m := range numMethods {
				n += sum.resp[o][m][c]
			}
		}
		if n > 0 || c > 0 {
			metrics.WriteCounterUint64(w, fmt.Sprintf(`mcpage_responses_total{class=%q}`, classNames[c]), n)
		}
	}
	for hard, kind := range [2]string{"soft", "hard"} {
		for r := range numPurgeResults {
			metrics.WriteCounterUint64(w, fmt.Sprintf(`mcpage_purges_total{kind=%q,result=%q}`, kind, purgeResultNames[r]), sum.purges[hard][r])
		}
	}
	metrics.WriteCounterUint64(w, `mcpage_store_results_total{result="stored"}`, uint64(max(st.Stores.Load(), 0)))
	sum.notStored[reasonTooLarge] += s.metrics.recordTooLarge.Load()
	for i, r := range notStoredReasons {
		if n := sum.notStored[i]; n > 0 {
			metrics.WriteCounterUint64(w, fmt.Sprintf(`mcpage_store_results_total{result="not_stored",reason=%q}`, r), n)
		}
	}
	metrics.WriteCounterUint64(w, "mcpage_client_received_bytes_total", sum.bytesIn)
	metrics.WriteCounterUint64(w, "mcpage_client_sent_bytes_total", sum.bytesOut)
	metrics.WriteGaugeUint64(w, "mcpage_response_bytes_held", uint64(max(sum.held, 0)))
}

// loopSums is loopCounters summed over the loops, at one scrape.
type loopSums struct {
	resp              [numOutcomes][numMethods][numClasses]uint64
	purges            [2][numPurgeResults]uint64
	notStored         [len(notStoredReasons)]uint64
	bytesIn, bytesOut uint64
	held              int64
}

func (s *loopSums) add(m *loopCounters) {
	for o := range m.resp {
		for k := range m.resp[o] {
			for c := range m.resp[o][k] {
				s.resp[o][k][c] += m.resp[o][k][c].Load()
			}
		}
	}
	for h := range m.purges {
		for r := range m.purges[h] {
			s.purges[h][r] += m.purges[h][r].Load()
		}
	}
	for i := range m.notStored {
		s.notStored[i] += m.notStored[i].Load()
	}
	s.bytesIn += m.bytesIn.Load()
	s.bytesOut += m.bytesOut.Load()
	s.held += m.held.Load()
}

// Serving reports whether the server is accepting clients: its listener is
// bound and open, its event loops run, and Shutdown has not been called.
// Safe from any goroutine.
func (s *Server) Serving() bool {
	if !s.bootedNow() || s.stopped.Load() || s.lnClosed.Load() {
		return false
	}
	select {
	case <-s.engineDone:
		return false
	default:
		return true
	}
}

// UpstreamAddrs returns the origin addresses, "host:port", as the upstream
// pool dials them.
func (s *Server) UpstreamAddrs() []string { return append([]string(nil), s.upstreams...) }
