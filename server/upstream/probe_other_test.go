//go:build !linux

package upstream

const connProbeSupported = false
