//go:build !race

package pagerecord

// raceEnabled: see race_on_test.go.
const raceEnabled = false
