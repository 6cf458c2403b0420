//go:build !race

package server_test

// memSlack scales the memory bounds of the end-to-end attack tests (see the
// race build's twin).
const memSlack = 1
