//go:build race

package upstream

// raceEnabled: the race detector makes sync.Pool drop objects at random, so
// allocation counts of pooled paths mean nothing under it.
const raceEnabled = true
