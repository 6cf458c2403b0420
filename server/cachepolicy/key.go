package cachepolicy

import (
	"crypto/sha256"
	"encoding/base64"
)

// MaxKeyLen is the longest key memcached's text and meta protocols accept.
const MaxKeyLen = 250

// DigestLen is the length of the digest form after the prefix: "#" and 43
// base64url characters (SHA-256 without padding).
const DigestLen = 1 + 43

// AppendKey appends the cache key for host and request-target to dst and
// returns the extended slice.
//
// The key is prefix+host+target when that is a valid memcached text key:
// 1..MaxKeyLen bytes, each 0x21..0x7E, and host+target not starting with "#".
// Otherwise it is the fixed-length digest form
//
//	prefix + "#" + base64url-without-padding(SHA-256(host + target))
//
// (len(prefix)+DigestLen bytes). The "#" rule keeps the two forms disjoint:
// a plain key never has "#" right after the prefix. host and target are used
// exactly as given (no case folding or normalisation), so an application
// computing keys itself must pass the same bytes the proxy sees. prefix must
// itself be valid key bytes no longer than MaxKeyLen-DigestLen, or no key
// built with it is valid. dst must not overlap prefix, host or target.
//
// Any goroutine; no allocation when dst has room.
func AppendKey(dst, prefix, host, target []byte) []byte {
	start := len(dst)
	dst = append(dst, prefix...)
	dst = append(dst, host...)
	dst = append(dst, target...)
	if validPlainKey(dst[start:], len(prefix)) {
		return dst
	}
	// host+target are already contiguous in dst: hash them in place.
	sum := sha256.Sum256(dst[start+len(prefix):])
	dst = append(dst[:start+len(prefix)], '#')
	var enc [DigestLen - 1]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return append(dst, enc[:]...)
}

func validPlainKey(key []byte, prefixLen int) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	if len(key) > prefixLen && key[prefixLen] == '#' {
		return false
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
