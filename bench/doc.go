// Package bench holds mcpage's load suites, run with `go test -bench` (`make
// bench`; README.md, section Benchmarks). Nothing here is imported by the
// product. The suites start the whole stack on loopback (memcached
// processes, a gnet origin, mcpage as its own process built from cmd/mcpage)
// and drive it with a gnet client of their own (loadgen_test.go), reporting
// req/s, p50/p99/p99.9 latency, the proxy's CPU µs and heap allocations per
// request (read from /proc and its -admin /metrics), RSS and errors with
// b.ReportMetric; at the end they print one table of every sub-benchmark
// and one per scale curve, and with -bench.out write them and a PNG per
// curve. mcclient_bench_test.go compares memcached clients.
package bench
