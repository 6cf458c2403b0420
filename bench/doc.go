// Package bench holds mcpage's load suites, run with `go test -bench` (see
// `make bench`). Nothing here is imported by the product; the benchmarks start
// real servers on loopback (an origin, mcpage, memcached where needed) and
// report req/s and latency percentiles with b.ReportMetric, so results can be
// compared with benchstat.
package bench
