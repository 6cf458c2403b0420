package cachepolicy

import "github.com/mcpage/mcpage/internal/httpbytes"

// ForcesPass reports whether a request field with this name makes a
// cacheable request pass: forwarded, never answered from the cache and never
// stored. Each of these fields changes what many origin frameworks render for
// a URL while the cache key cannot see it, so a stored answer would be
// served to visitors who never sent it:
//
//   - X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override: frameworks
//     (Rails, Laravel, Express's method-override, Symfony) run "GET /x" with
//     this header as "DELETE /x", or render another method's answer.
//   - X-Original-URL, X-Rewrite-URL: IIS, Symfony and Zend route by these
//     instead of the request target, so "/" could be rendered as "/admin".
//
// Names compare without regard to ASCII case. Any goroutine; no allocation.
func ForcesPass(name []byte) bool {
	switch len(name) {
	case 13:
		return httpbytes.EqualFold(name, "x-http-method") || httpbytes.EqualFold(name, "x-rewrite-url")
	case 14:
		return httpbytes.EqualFold(name, "x-original-url")
	case 17:
		return httpbytes.EqualFold(name, "x-method-override")
	case 22:
		return httpbytes.EqualFold(name, "x-http-method-override")
	}
	return false
}
