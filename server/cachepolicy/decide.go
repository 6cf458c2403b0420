package cachepolicy

import (
	"bytes"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Reasons a response is not stored (Decision.Reason). They are short static
// phrases, fit for a log field or an X-Cache detail.
const (
	ReasonStatus        = "status"          // status never stored (1xx, 206, 304, outside 200..599), one must-understand does not cover, or not heuristically cacheable and without explicit freshness
	ReasonTooManyFields = "too-many-fields" // more than MaxRepeatedFields lines of Cache-Control, CDN-Cache-Control or Vary
	ReasonSetCookie     = "set-cookie"      // Set-Cookie (or Set-Cookie2): the page carries per-user state
	ReasonMalformed     = "cache-control"   // a Cache-Control element we can't read
	ReasonNoStore       = "no-store"        // no-store in the governing directives
	ReasonPrivate       = "private"         // private, also private="field"
	ReasonNoCache       = "no-cache"        // no-cache, also no-cache="field"
	ReasonAuthorization = "authorization"   // request had Authorization and the response lacks public, must-revalidate and s-maxage
	ReasonVary          = "vary"            // Vary: *, a member that is not a field name, or more than MaxVaryNames names
	ReasonNoFreshness   = "no-freshness"    // strict mode (DefaultTTL 0), no explicit freshness, no usable Last-Modified
	ReasonStale         = "stale"           // freshness remaining at receipt under one second, or invalid freshness information
)

// Decision is the outcome of Rules.Decide. When Store is false only Reason
// is set.
type Decision struct {
	Store  bool
	Reason string // why not stored (one of the Reason constants); "" when stored
	// TTL is the freshness remaining at receipt, whole seconds: the lifetime
	// minus Age, capped by Rules.MaxTTL. At least one second when Store.
	TTL time.Duration
	// Age is the response's age at receipt: the Age field's value, whole
	// seconds, 0 when absent or invalid. This simplifies RFC 9111 §4.2.3's
	// corrected_initial_age by leaving out apparent_age (now − Date) and
	// the request's round trip: a reverse proxy sits next to its origin, and
	// an origin clock that runs behind would otherwise age every page.
	Age time.Duration
	// FromDefault: the lifetime is Rules.DefaultTTL. Hits then add
	// Cache-Control: max-age=<remaining> and Expires.
	FromDefault bool
	// Heuristic: the lifetime is 10% of Date − Last-Modified.
	Heuristic bool
	// VaryAcceptEncoding: the response had Vary: Accept-Encoding, the only
	// Vary that is stored (the page store handles the encodings itself).
	VaryAcceptEncoding bool
	// Vary: the response varies on request fields besides Accept-Encoding
	// (Response.VaryNames lists them); it is stored as a variant.
	Vary bool
	// Stale is what the response allows once stale (Response.Stale).
	Stale Stale
}

// Decide applies the storage policy (see the package documentation) to r as
// received at now. rl and r are only read: any goroutine, concurrently with
// other Decide calls, but not with Observe or Reset on the same r. No
// allocation.
func (rl *Rules) Decide(r *Response, now time.Time) Decision {
	if !storableStatus(r.status) {
		return refuse(ReasonStatus)
	}
	if r.overflow {
		return refuse(ReasonTooManyFields)
	}
	if r.setCookie {
		return refuse(ReasonSetCookie)
	}
	dir, reason := r.governingDirectives()
	if dir.mustUnderstand && !dir.malformed {
		if !understoodStatus(r.status) {
			return refuse(ReasonStatus)
		}
		if reason == ReasonNoStore {
			dir.noStore = false
			reason = restrictive(&dir)
		}
	}
	if reason != "" {
		return refuse(reason)
	}
	if r.authorized && !dir.public && !dir.mustRevalidate && dir.sMaxAge.state == deltaAbsent {
		return refuse(ReasonAuthorization)
	}
	varyAE, varyOther, ok := varyAllowed(r.vary.lines())
	if !ok {
		return refuse(ReasonVary)
	}

	d := Decision{Age: parseAge(r.age), VaryAcceptEncoding: varyAE, Vary: varyOther}
	life, reason := rl.lifetime(r, &dir, now, &d)
	if reason != "" {
		return refuse(reason)
	}
	if life < time.Second {
		return refuse(ReasonStale) // also keeps the subtraction below from wrapping
	}
	ttl := min(life, maxDelta*time.Second) - d.Age
	if rl.MaxTTL > 0 && ttl > rl.MaxTTL {
		ttl = rl.MaxTTL
	}
	// Stores keep whole seconds; a fraction would round to "expired".
	ttl = ttl.Truncate(time.Second)
	if ttl < time.Second {
		return refuse(ReasonStale)
	}
	d.Store, d.TTL, d.Stale = true, ttl, dir.stale()
	if r.status >= 500 {
		d.Stale = Stale{Forbidden: true} // as Response.Stale
	}
	return d
}

func refuse(reason string) Decision { return Decision{Reason: reason} }

// storableStatus: final statuses but 206 (a part is not the page) and 304
// (no body). 5xx are stored too, when their freshness is explicit (RFC 9111
// §3: any status may be, given explicit freshness), and never served stale.
func storableStatus(status int) bool {
	return status >= 200 && status <= 599 && status != 206 && status != 304
}

// heuristicStatus: the statuses RFC 9110 §15.1 makes heuristically
// cacheable; only they get a lifetime without explicit freshness (the
// Last-Modified heuristic, or Rules.DefaultTTL).
func heuristicStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus: the final statuses RFC 9110 defines, whose caching
// rules this cache follows (must-understand, RFC 9111 §5.2.2.3).
func understoodStatus(status int) bool {
	switch {
	case status >= 200 && status <= 206, status >= 300 && status <= 308 && status != 306,
		status >= 400 && status <= 417, status == 421, status == 422, status == 426,
		status >= 500 && status <= 505:
		return true
	}
	return false
}

// governingDirectives picks the directives this cache obeys. A
// CDN-Cache-Control that parses with at least one directive replaces
// Cache-Control entirely (RFC 9213 §2.1). One that doesn't parse is ignored as
// RFC 9213 asks, except that no-store, private or no-cache readable in it
// still refuse storage: the origin plainly meant them for us.
func (r *Response) governingDirectives() (directives, string) {
	if r.cdn.n > 0 {
		cdn, ok := parseCDNCacheControl(r.cdn.lines())
		if ok && cdn.count > 0 {
			return cdn, restrictive(&cdn)
		}
		if !ok {
			loose := parseCacheControl(r.cdn.lines())
			if reason := restrictive(&loose); reason != "" {
				return directives{}, reason
			}
		}
	}
	cc := parseCacheControl(r.cc.lines())
	if cc.malformed {
		return cc, ReasonMalformed
	}
	return cc, restrictive(&cc)
}

func restrictive(d *directives) string {
	switch {
	case d.noStore:
		return ReasonNoStore
	case d.private:
		return ReasonPrivate
	case d.noCache:
		return ReasonNoCache
	}
	return ""
}

// varyAllowed reports whether the Vary lines may be stored (no "*", only
// field names, at most MaxVaryNames besides Accept-Encoding), whether they
// name Accept-Encoding, and whether they name anything else.
func varyAllowed(lines [][]byte) (acceptEncoding, other, ok bool) {
	var scratch [MaxVaryNames * 32]byte
	names, ok := AppendVaryNames(scratch[:0], lines)
	if !ok {
		return false, false, false
	}
	for _, line := range lines {
		if httpbytes.HasElementFold(line, "accept-encoding") {
			acceptEncoding = true
		}
	}
	return acceptEncoding, len(names) > 0, true
}

// parseAge reads the Age field: the first member of a list is used and an
// invalid value ignored (RFC 9111 §5.1); clamped like any delta-seconds.
func parseAge(v []byte) time.Duration {
	item, _, _ := cutList(v, ',')
	if i := bytes.IndexByte(item, ';'); i >= 0 {
		item = item[:i] // "7200;foo=bar": the number is still the age
	}
	item = httpbytes.TrimOWS(item)
	if len(item) > 0 && item[0] == '"' {
		return 0 // quoting is for directives, not for Age
	}
	secs, ok := parseDeltaSeconds(item, true)
	if !ok {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// lifetime finds the freshness lifetime (RFC 9111 §4.2.1): s-maxage, then
// max-age, then Expires − Date; without any of those, only a heuristically
// cacheable status gets DefaultTTL or, in strict mode, the Last-Modified
// heuristic.
func (rl *Rules) lifetime(r *Response, dir *directives, now time.Time, d *Decision) (time.Duration, string) {
	switch {
	case dir.sMaxAge.state == deltaValid:
		return time.Duration(dir.sMaxAge.secs) * time.Second, ""
	case dir.sMaxAge.state == deltaInvalid:
		return 0, ReasonStale
	case dir.maxAge.state == deltaValid:
		return time.Duration(dir.maxAge.secs) * time.Second, ""
	case dir.maxAge.state == deltaInvalid:
		return 0, ReasonStale
	case r.nExpires > 1:
		return 0, ReasonStale // RFC 9111 §4.2.1: may be considered stale
	case r.nExpires == 1:
		exp, ok := ParseHTTPDate(r.expires)
		if !ok {
			return 0, ReasonStale // "0", "-1" and other invalid dates mean "already expired" (§5.3)
		}
		return exp.Sub(r.dateOr(now)), ""
	}
	if !heuristicStatus(r.status) {
		return 0, ReasonStatus
	}
	if rl.DefaultTTL > 0 {
		d.FromDefault = true
		return rl.DefaultTTL, ""
	}
	lm, ok := ParseHTTPDate(r.lastMod)
	if !ok {
		return 0, ReasonNoFreshness
	}
	d.Heuristic = true
	return r.dateOr(now).Sub(lm) / 10, ""
}

// dateOr is the response's Date, or now when it has none that parses.
func (r *Response) dateOr(now time.Time) time.Time {
	if t, ok := ParseHTTPDate(r.date); ok {
		return t
	}
	return now
}
