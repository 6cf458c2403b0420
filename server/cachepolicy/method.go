package cachepolicy

// Class says how the proxy treats a request method.
type Class uint8

const (
	ClassCacheable Class = iota // GET, HEAD: look up / fill the cache
	ClassPass                   // safe methods that are not cached (OPTIONS, TRACE): forwarded, nothing invalidated
	ClassUnsafe                 // POST, PUT, DELETE, PATCH and every unknown method: forwarded with body; a non-error answer invalidates (RFC 9111 §4.4)
)

// String names the class for logs: "cacheable", "pass" or "unsafe".
func (c Class) String() string {
	switch c {
	case ClassCacheable:
		return "cacheable"
	case ClassPass:
		return "pass"
	}
	return "unsafe"
}

// MethodClass classifies a request method. Methods are case-sensitive (RFC
// 9110 §9.1), so "get" is an unknown method and therefore ClassUnsafe: a
// method the proxy does not know might change state, so it must invalidate
// rather than be served from the cache. Any goroutine; no allocation.
func MethodClass(method []byte) Class {
	switch string(method) {
	case "GET", "HEAD":
		return ClassCacheable
	case "OPTIONS", "TRACE":
		return ClassPass
	}
	return ClassUnsafe
}
