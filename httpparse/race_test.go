//go:build race

package httpparse

// raceEnabled: the race detector's instrumentation can allocate, so the
// allocation pins run only without it (make test runs them separately).
const raceEnabled = true
