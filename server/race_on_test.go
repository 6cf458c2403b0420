//go:build race

package server

// raceEnabled: the race detector makes sync.Pool and friends allocate, so
// allocation pins are checked by the non-race run (`make test` does both).
const raceEnabled = true
