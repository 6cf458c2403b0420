//go:build race

package server_test

// memSlack scales the memory bounds of the end-to-end attack tests: the race
// detector's shadow memory multiplies what every live byte costs in RSS.
const memSlack = 4
