//go:build race

package proxyproto

// raceEnabled: the race detector's instrumentation can allocate, so the
// allocation pins run only without it (make test runs them separately).
const raceEnabled = true
