//go:build race

package pagerecord

// raceEnabled: the race detector makes sync.Pool drop entries at random, so
// allocation pins that rely on pooled decoders are skipped under it.
const raceEnabled = true
