// Package cachepolicy holds mcpage's shared-cache decisions (RFC 9111): which
// requests are looked up, which responses are stored and for how long, the
// cache key, Accept-Encoding negotiation and conditional requests. It does no
// I/O and works on raw header values.
package cachepolicy

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"time"
)

// Class is how a request method is treated.
type Class uint8

const (
	ClassCacheable Class = iota // GET, HEAD: look up / fill the cache
	ClassPass                   // safe methods never cached (OPTIONS, TRACE): forwarded, nothing invalidated
	ClassUnsafe                 // everything else: forwarded with body; success invalidates (RFC 9111 §4.4)
)

// MethodClass classifies a method (case-sensitive, RFC 9110 §9.1).
func MethodClass(method []byte) Class {
	switch string(method) {
	case "GET", "HEAD":
		return ClassCacheable
	case "OPTIONS", "TRACE":
		return ClassPass
	}
	return ClassUnsafe
}

// RequestRules decides which requests skip the cache. Safe for concurrent use.
type RequestRules struct {
	BypassCookie *regexp.Regexp // cookie names matching it bypass; nil = any cookie bypasses
}

// CookieBypasses reports whether one Cookie field value holds a cookie-pair
// whose name matches (nil regexp: any non-empty cookie-pair).
func (r *RequestRules) CookieBypasses(field []byte) bool {
	for len(field) > 0 {
		var pair []byte
		if i := indexByte(field, ';'); i >= 0 {
			pair, field = field[:i], field[i+1:]
		} else {
			pair, field = field, nil
		}
		pair = trimOWS(pair)
		if len(pair) == 0 {
			continue
		}
		name := pair
		if i := indexByte(pair, '='); i >= 0 {
			name = trimOWS(pair[:i])
		}
		if r.BypassCookie == nil || r.BypassCookie.Match(name) {
			return true
		}
	}
	return false
}

// SameHostPath returns the path+query an unsafe request's Location or
// Content-Location names when it is on the same host.
func SameHostPath(host, uri []byte) ([]byte, bool) {
	uri = trimOWS(uri)
	if len(uri) > 0 && uri[0] == '/' {
		if len(uri) > 1 && uri[1] == '/' {
			return nil, false // network-path reference: another authority
		}
		return uri, true
	}
	var rest []byte
	switch {
	case hasPrefixFold(uri, "http://"):
		rest = uri[7:]
	case hasPrefixFold(uri, "https://"):
		rest = uri[8:]
	default:
		return nil, false
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	if !equalFold(rest[:end], host) {
		return nil, false
	}
	p := rest[end:]
	if len(p) == 0 || p[0] != '/' {
		return []byte("/"), true
	}
	return p, true
}

// MaxKeyLen is memcached's key limit.
const MaxKeyLen = 250

// AppendKey appends the cache key for host and target: prefix+host+target
// when that is a valid memcached text key (1..250 bytes 0x21..0x7E), else the
// fixed-length form prefix + "#" + base64url-nopad(SHA-256(host+target)).
func AppendKey(dst, prefix, host, target []byte) []byte {
	start := len(dst)
	dst = append(dst, prefix...)
	dst = append(dst, host...)
	dst = append(dst, target...)
	key := dst[start:]
	ok := len(key) > 0 && len(key) <= MaxKeyLen
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return dst
	}
	sum := sha256.Sum256(dst[start+len(prefix):])
	dst = dst[:start+len(prefix)]
	dst = append(dst, '#')
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return append(dst, enc[:]...)
}

// Rules decides what is stored. Safe for concurrent use.
type Rules struct {
	DefaultTTL time.Duration // freshness for a storable response with none; 0 = strict RFC 9111
	MaxTTL     time.Duration // cap on a stored lifetime; 0 = no cap
}

const maxFields = 8

// Response collects the fields a storage decision needs. Reset, then Observe
// every field; views are kept.
type Response struct {
	status    int
	cc        [maxFields][]byte
	ncc       int
	cdn       [maxFields][]byte
	ncdn      int
	vary      [maxFields][]byte
	nvary     int
	tooMany   bool
	expires   []byte
	hasExp    bool
	date      []byte
	age       []byte
	lastMod   []byte
	setCookie bool
}

// Reset prepares r for a response with status.
func (r *Response) Reset(status int) { *r = Response{status: status} }

// Observe records one response field (name case-insensitive).
func (r *Response) Observe(name, value []byte) {
	switch {
	case equalFoldStr(name, "cache-control"):
		r.ncc = addField(&r.cc, r.ncc, value, &r.tooMany)
	case equalFoldStr(name, "cdn-cache-control"):
		r.ncdn = addField(&r.cdn, r.ncdn, value, &r.tooMany)
	case equalFoldStr(name, "vary"):
		r.nvary = addField(&r.vary, r.nvary, value, &r.tooMany)
	case equalFoldStr(name, "expires"):
		if !r.hasExp {
			r.expires, r.hasExp = value, true
		}
	case equalFoldStr(name, "date"):
		r.date = value
	case equalFoldStr(name, "age"):
		r.age = value
	case equalFoldStr(name, "last-modified"):
		r.lastMod = value
	case equalFoldStr(name, "set-cookie"):
		r.setCookie = true
	}
}

func addField(arr *[maxFields][]byte, n int, v []byte, over *bool) int {
	if n == maxFields {
		*over = true
		return n
	}
	arr[n] = v
	return n + 1
}

// Decision is the outcome of Rules.Decide.
type Decision struct {
	Store              bool
	Reason             string        // why not stored; "" when stored
	TTL                time.Duration // freshness remaining at receipt
	Age                time.Duration // age at receipt (the Age header)
	FromDefault        bool          // lifetime came from DefaultTTL
	Heuristic          bool          // lifetime came from Last-Modified
	VaryAcceptEncoding bool
}

// directives is a parsed Cache-Control set.
type directives struct {
	noStore, noCache, private bool
	maxAge, sMaxAge           int64 // -1 absent, -2 invalid
	any                       bool
}

func parseDirectives(fields [][]byte) directives {
	d := directives{maxAge: -1, sMaxAge: -1}
	for _, f := range fields {
		for len(f) > 0 {
			var item []byte
			item, f = nextItem(f)
			item = trimOWS(item)
			if len(item) == 0 {
				continue
			}
			d.any = true
			name, val := item, []byte(nil)
			if i := indexByte(item, '='); i >= 0 {
				name, val = trimOWS(item[:i]), trimOWS(item[i+1:])
			}
			switch {
			case equalFoldStr(name, "no-store"):
				d.noStore = true
			case equalFoldStr(name, "no-cache"):
				d.noCache = true
			case equalFoldStr(name, "private"):
				d.private = true
			case equalFoldStr(name, "max-age"):
				d.maxAge = mergeSeconds(d.maxAge, val)
			case equalFoldStr(name, "s-maxage"):
				d.sMaxAge = mergeSeconds(d.sMaxAge, val)
			}
		}
	}
	return d
}

// nextItem splits a comma list, honouring quoted strings.
func nextItem(b []byte) (item, rest []byte) {
	inQ := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inQ = !inQ
		case c == '\\' && inQ:
			i++
		case c == ',' && !inQ:
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// mergeSeconds parses a delta-seconds directive value; a repeated or invalid
// one makes the response stale (RFC 9111 §4.2.1: invalid → not fresh).
func mergeSeconds(prev int64, v []byte) int64 {
	if prev != -1 {
		return -2
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	n, ok := parseDelta(v)
	if !ok {
		return -2
	}
	return n
}

const maxDelta = 1 << 31 // RFC 9111 §1.2.2: clamp to 2^31

func parseDelta(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxDelta {
		n = maxDelta
	}
	return n, true
}

// storableWithoutFreshness: statuses stored with DefaultTTL/heuristics.
func statusStorable(status int) bool {
	return status >= 200 && status < 500 && status != 206 && status != 304
}

// dateOr is the response's Date, or now when it has none that parses.
func (r *Response) dateOr(now time.Time) time.Time {
	if t, ok := ParseHTTPDate(trimOWS(r.date)); ok {
		return t
	}
	return now
}

// Decide applies the policy to r at time now.
func (rl *Rules) Decide(r *Response, now time.Time) Decision {
	var d Decision
	if !statusStorable(r.status) {
		d.Reason = "status"
		return d
	}
	if r.setCookie {
		d.Reason = "set-cookie"
		return d
	}
	if r.tooMany {
		d.Reason = "headers"
		return d
	}
	var dir directives
	if r.ncdn > 0 {
		dir = parseDirectives(r.cdn[:r.ncdn])
	}
	if !dir.any {
		dir = parseDirectives(r.cc[:r.ncc])
	}
	switch {
	case dir.noStore:
		d.Reason = "no-store"
		return d
	case dir.private:
		d.Reason = "private"
		return d
	case dir.noCache:
		d.Reason = "no-cache"
		return d
	}
	for _, v := range r.vary[:r.nvary] {
		for len(v) > 0 {
			var item []byte
			item, v = nextItem(v)
			item = trimOWS(item)
			switch {
			case len(item) == 0:
			case equalFoldStr(item, "accept-encoding"):
				d.VaryAcceptEncoding = true
			default:
				d.Reason = "vary"
				return d
			}
		}
	}
	if a, ok := parseDelta(trimOWS(r.age)); ok {
		d.Age = time.Duration(a) * time.Second
	}
	var life time.Duration
	explicit := true
	switch {
	case dir.sMaxAge == -2 || (dir.sMaxAge == -1 && dir.maxAge == -2):
		d.Reason = "stale"
		return d
	case dir.sMaxAge >= 0:
		life = time.Duration(dir.sMaxAge) * time.Second
	case dir.maxAge >= 0:
		life = time.Duration(dir.maxAge) * time.Second
	case r.hasExp:
		exp, ok := ParseHTTPDate(trimOWS(r.expires))
		if !ok {
			d.Reason = "stale"
			return d
		}
		life = exp.Sub(r.dateOr(now))
	default:
		explicit = false
	}
	if !explicit {
		if r.status != 200 {
			d.Reason = "status"
			return d
		}
		switch {
		case rl.DefaultTTL > 0:
			life, d.FromDefault = rl.DefaultTTL, true
		default:
			lm, ok := ParseHTTPDate(trimOWS(r.lastMod))
			if !ok {
				d.Reason = "no-freshness"
				return d
			}
			life, d.Heuristic = r.dateOr(now).Sub(lm)/10, true
		}
	}
	if rl.MaxTTL > 0 && life > rl.MaxTTL {
		life = rl.MaxTTL
	}
	d.TTL = life - d.Age
	if d.TTL < time.Second {
		d.TTL = 0
		d.Reason = "stale"
		return d
	}
	d.Store = true
	return d
}
