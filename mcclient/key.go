package mcclient

import "encoding/base64"

// MaxKeyLength is the longest key memcached 1.6.18 accepts on the command
// line (KEY_MAX_LENGTH). The limit applies to the key as sent, so a key sent
// base64-encoded may hold at most MaxBinaryKeyLength raw bytes.
const MaxKeyLength = 250

// MaxBinaryKeyLength is the longest key that can be sent base64-encoded:
// 186 bytes encode to 248 characters, 187 to 252.
const MaxBinaryKeyLength = 186

// CheckKey reports whether key can be sent, and whether it goes base64-encoded
// (with the b flag): only printable ASCII without space is sent as is. The
// server splits the command line on spaces and ends it at CR/LF; high bytes
// are encoded too so nothing between client and server sees non-ASCII keys.
// Either way memcached stores the raw bytes, so a key always names one item.
// err is nil, ErrKeyEmpty or ErrKeyTooLong. Any goroutine may call it.
func CheckKey(key []byte) (base64Encoded bool, err error) {
	if len(key) == 0 {
		return false, ErrKeyEmpty
	}
	for _, c := range key {
		if c <= ' ' || c >= 0x7f {
			if len(key) > MaxBinaryKeyLength {
				return true, ErrKeyTooLong
			}
			return true, nil
		}
	}
	if len(key) > MaxKeyLength {
		return false, ErrKeyTooLong
	}
	return false, nil
}

// appendKey appends key as it goes on the wire and reports whether it was
// base64-encoded. On error dst is returned unchanged.
func appendKey(dst, key []byte) ([]byte, bool, error) {
	b64, err := CheckKey(key)
	if err != nil {
		return dst, b64, err
	}
	if b64 {
		return base64.StdEncoding.AppendEncode(dst, key), true, nil
	}
	return append(dst, key...), false, nil
}
