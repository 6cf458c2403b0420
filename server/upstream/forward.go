package upstream

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/mcpage/mcpage/httpparse"
	"github.com/mcpage/mcpage/internal/httpbytes"
)

// Forward describes the proxy's additions to a request sent upstream. The zero
// value (or a nil *Forward) adds nothing.
type Forward struct {
	// ClientIP, when not empty, is appended to X-Forwarded-For: to the last
	// X-Forwarded-For field received ("existing, ip"), or as a new field.
	ClientIP []byte
	// Proto, when not empty, is sent as X-Forwarded-Proto, replacing every
	// received X-Forwarded-Proto field (a client must not choose it).
	Proto string
	// Via, when not empty, is appended to Via the way ClientIP is appended
	// to X-Forwarded-For; e.g. "1.1 mcpage".
	Via string
	// AcceptEncoding, when not nil, replaces every received Accept-Encoding
	// field (cache fills ask for "gzip" only). An empty non-nil value sends
	// an empty Accept-Encoding, which asks for no content coding at all.
	AcceptEncoding []byte
	// StripConditional drops If-None-Match, If-Modified-Since, If-Match,
	// If-Unmodified-Since and If-Range (cache fills: the cache answers
	// conditionals itself).
	StripConditional bool
	// StripRange drops Range (cache fills: the whole page is stored, and
	// the cache answers ranges from it).
	StripRange bool
	// ForceGET sends GET instead of HEAD (cache fill for a HEAD); other
	// methods are unchanged.
	ForceGET bool
	// ForwardedHost sends X-Forwarded-Host with BuildRequest's host
	// argument (the value sent as Host), replacing every received
	// X-Forwarded-Host field, so that an origin that prefers it to Host
	// renders the page for the host the cache key names. With an empty host
	// the received fields are still dropped and none is sent.
	ForwardedHost bool
}

// maxInlineTokens is how many Connection-listed names are tracked without
// allocating; more than that is legal but unheard of.
const maxInlineTokens = 16

var (
	methodGET         = []byte(fasthttp.MethodGet)
	nameHost          = []byte("Host")
	nameContentLength = []byte("Content-Length")
	nameXFF           = []byte("X-Forwarded-For")
	nameXFP           = []byte("X-Forwarded-Proto")
	nameXFH           = []byte("X-Forwarded-Host")
	nameVia           = []byte("Via")
	nameAE            = []byte("Accept-Encoding")
	listSep           = []byte(", ")
	rootTarget        = []byte("/")
	starTarget        = []byte("*")
)

// BuildRequest fills dst (reset first) with the request to send upstream for a
// parsed client request. It copies everything it keeps: method, target, host,
// headers and body are views into the connection buffer that may die when it
// returns.
//
// The request line is method (HEAD becomes GET when fw.ForceGET), target,
// HTTP/1.1. target should be the origin-form path and query (or "*"), i.e.
// httpparse.Request.Path: an absolute-form target ("http://a/p?q") is reduced
// to its origin-form part ("/p?q"; "/" when it has no path, "*" for OPTIONS),
// its authority being host's business.
//
// Host is always exactly one "Host: host" field, sent first: host is the
// host the request is served (and cached) for, which for an absolute-form
// request is the target's authority, not the Host field (RFC 9112 §3.2.2).
// Every received Host field is dropped, so the origin cannot render a page for
// another host than the one it is stored under. An empty host sends an empty
// Host, as RFC 9112 §3.2 prescribes for a target without authority.
//
// The other header fields go out in order, names in their original case,
// values unchanged, duplicates and unknown fields kept, except: hop-by-hop
// fields (httpbytes.IsHopByHop) and every field named in a Connection field
// are dropped, Expect is dropped (the proxy already holds the body), a field
// whose name contains '_' is dropped (as nginx does by default: CGI-style
// origins map '-' and '_' alike, so "Content_Length" or "X_Forwarded_For"
// would shadow the real fields), the received Content-Length is replaced, and
// fw's changes apply (see Forward); fields fw adds go last. The body, already
// de-chunked, is copied with Content-Length: len(body); a Content-Length is
// also sent for an empty body the client framed with Content-Length or
// Transfer-Encoding (an empty POST), and none otherwise.
//
// dst's header is left in fasthttp's raw mode (see Job). fw may be nil.
// BuildRequest allocates nothing once dst has grown to fit (except for an
// absolute-form target whose path starts with '?'). Safe from any goroutine
// that owns dst.
func BuildRequest(dst *fasthttp.Request, method, target, host []byte, headers []httpparse.Header, body []byte, fw *Forward) {
	if fw == nil {
		fw = &Forward{}
	}
	dst.Reset()
	h := &dst.Header
	// Raw mode: every field, Host included, lives in one ordered list and is
	// written exactly as added; no User-Agent, Content-Type or Cookie
	// handling of fasthttp's own.
	h.DisableSpecialHeader()
	h.DisableNormalizing()
	h.SetNoDefaultContentType(true)
	dst.UseHostHeader = true

	if fw.ForceGET && string(method) == fasthttp.MethodHead {
		method = methodGET
	}
	h.SetMethodBytes(method)
	h.SetRequestURIBytes(originForm(method, target))

	// First pass: what the second needs to know before it emits a field.
	var tokStack [maxInlineTokens][]byte
	tokens := tokStack[:0]
	framed := false
	lastXFF, lastVia := -1, -1
	for i := range headers {
		name := headers[i].Name
		switch {
		case httpbytes.EqualFold(name, "connection"):
			tokens = connTokens(tokens, headers[i].Value)
		case httpbytes.EqualFold(name, "content-length"), httpbytes.EqualFold(name, "transfer-encoding"):
			framed = true
		case httpbytes.EqualFold(name, "x-forwarded-for"):
			lastXFF = i
		case httpbytes.EqualFold(name, "via"):
			lastVia = i
		}
	}
	// A field the client listed in Connection is dropped however it is
	// spelled, so none of its instances can carry the appended value.
	if namedIn(tokens, nameXFF) {
		lastXFF = -1
	}
	if namedIn(tokens, nameVia) {
		lastVia = -1
	}

	h.AddBytesKV(nameHost, host)
	for i := range headers {
		name, value := headers[i].Name, headers[i].Value
		if dropRequestField(name, fw) || namedIn(tokens, name) {
			continue
		}
		switch {
		case i == lastXFF && len(fw.ClientIP) > 0:
			addListValue(h, name, value, fw.ClientIP)
		case i == lastVia && fw.Via != "":
			addListValue(h, name, value, []byte(fw.Via))
		default:
			h.AddBytesKV(name, value)
		}
	}

	if lastXFF < 0 && len(fw.ClientIP) > 0 {
		h.AddBytesKV(nameXFF, fw.ClientIP)
	}
	if lastVia < 0 && fw.Via != "" {
		h.AddBytesKV(nameVia, []byte(fw.Via))
	}
	if fw.Proto != "" {
		h.AddBytesKV(nameXFP, []byte(fw.Proto))
	}
	if fw.ForwardedHost && len(host) > 0 {
		h.AddBytesKV(nameXFH, host)
	}
	if fw.AcceptEncoding != nil {
		h.AddBytesKV(nameAE, fw.AcceptEncoding)
	}
	if len(body) > 0 || framed {
		var num [20]byte
		h.AddBytesKV(nameContentLength, fasthttp.AppendUint(num[:0], len(body)))
	}
	if len(body) > 0 {
		dst.SetBody(body)
	}
}

// originForm returns target reduced to origin-form when it is absolute-form
// ("http://authority/p?q" gives "/p?q"), and target itself otherwise.
func originForm(method, target []byte) []byte {
	var rest []byte
	switch {
	case len(target) == 0 || target[0] == '/':
		return target
	case httpbytes.HasPrefixFold(target, "http://"):
		rest = target[7:]
	case httpbytes.HasPrefixFold(target, "https://"):
		rest = target[8:]
	default:
		return target // "*", or nothing this function knows how to reduce
	}
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		switch rest[i] {
		case '/':
			return rest[i:]
		case '?':
			// "http://a?q" means "/?q" (RFC 9112 §3.2.1); rare enough to
			// allocate.
			return append([]byte{'/'}, rest[i:]...)
		}
	}
	if string(method) == fasthttp.MethodOptions {
		return starTarget // RFC 9112 §3.2.4
	}
	return rootTarget
}

// dropRequestField reports whether a received field is not forwarded as is.
func dropRequestField(name []byte, fw *Forward) bool {
	if httpbytes.IsHopByHop(name) || bytes.IndexByte(name, '_') >= 0 {
		return true
	}
	switch len(name) {
	case 4:
		return httpbytes.EqualFold(name, "host")
	case 5:
		return fw.StripRange && httpbytes.EqualFold(name, "range")
	case 6:
		return httpbytes.EqualFold(name, "expect")
	case 8:
		return fw.StripConditional && (httpbytes.EqualFold(name, "if-match") || httpbytes.EqualFold(name, "if-range"))
	case 13:
		return fw.StripConditional && httpbytes.EqualFold(name, "if-none-match")
	case 14:
		return httpbytes.EqualFold(name, "content-length")
	case 15:
		return fw.AcceptEncoding != nil && httpbytes.EqualFold(name, "accept-encoding")
	case 16:
		return fw.ForwardedHost && httpbytes.EqualFold(name, "x-forwarded-host")
	case 17:
		return (fw.Proto != "" && httpbytes.EqualFold(name, "x-forwarded-proto")) ||
			(fw.StripConditional && httpbytes.EqualFold(name, "if-modified-since"))
	case 19:
		return fw.StripConditional && httpbytes.EqualFold(name, "if-unmodified-since")
	}
	return false
}

// addListValue adds "name: value, item" (or "name: item" when value is empty)
// to h.
func addListValue(h *fasthttp.RequestHeader, name, value, item []byte) {
	// Values this short fit on the stack; AddBytesKV copies them, so only
	// a longer one costs an allocation.
	var buf [256]byte
	v := buf[:0]
	if len(value) > 0 {
		v = append(v, value...)
		v = append(v, listSep...)
	}
	v = append(v, item...)
	h.AddBytesKV(name, v)
}
