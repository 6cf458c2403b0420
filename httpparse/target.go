package httpparse

import (
	"bytes"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// rootPath and starPath back Path when the target has no path of its own.
var (
	rootPath = []byte("/")
	starPath = []byte("*")
)

// parseTarget classifies the request-target (RFC 9112 §3.2) and sets
// req.Path, and req.Host for absolute-form. The method must already be set.
func parseTarget(req *Request, target []byte) error {
	for _, c := range target {
		if class[c]&cTarget == 0 {
			return ErrTarget
		}
	}
	switch {
	case target[0] == '/':
		if !validPctPath(target) {
			return ErrTarget
		}
		req.Path = target
		return nil
	case len(target) == 1 && target[0] == '*':
		// asterisk-form exists only for a server-wide OPTIONS (§3.2.4).
		if string(req.Method) != "OPTIONS" {
			return ErrTarget
		}
		req.Path = target
		return nil
	}
	// absolute-form: only http and https are ours to serve. authority-form
	// (CONNECT host:port) falls through to here too and is refused: this is
	// a reverse proxy, it does not tunnel.
	var rest []byte
	switch {
	case len(target) > 7 && httpbytes.HasPrefixFold(target, "http://"):
		rest = target[7:]
	case len(target) > 8 && httpbytes.HasPrefixFold(target, "https://"):
		rest = target[8:]
	default:
		return ErrTarget
	}
	end := len(rest)
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		end = i
	}
	auth, path := rest[:end], rest[end:]
	// userinfo ('@') is refused by validHost, as RFC 9110 §4.2.4 asks; a '?'
	// right after the authority would need a "/" inserted to make an
	// origin-form Path, which a view cannot do, so it is refused too.
	if len(auth) == 0 || !validHost(auth) || !validPctPath(path) {
		return ErrTarget
	}
	req.Host = auth
	switch {
	case len(path) > 0:
		req.Path = path
	case string(req.Method) == "OPTIONS":
		req.Path = starPath // §3.2.4: an empty path with OPTIONS means "*"
	default:
		req.Path = rootPath
	}
	return nil
}

// validPctPath reports whether every '%' before the query is followed by two
// hex digits. The query is left alone, as origins differ on what it means.
func validPctPath(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return true
		}
		if q := bytes.IndexByte(b[:i], '?'); q >= 0 {
			return true
		}
		if i+2 >= len(b) || class[b[i+1]]&cHex == 0 || class[b[i+2]]&cHex == 0 {
			return false
		}
		b = b[i+3:]
	}
}
