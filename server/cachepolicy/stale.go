package cachepolicy

import "time"

// Stale is what a stored response lets a shared cache do with it once its
// freshness has ended.
type Stale struct {
	// Forbidden: the response said must-revalidate, proxy-revalidate or
	// s-maxage (which implies proxy-revalidate for a shared cache, RFC 9111
	// §5.2.2.10), so it is never served stale: not while it is being
	// revalidated, not when the origin fails (§4.2.4).
	Forbidden bool
	// WhileRevalidate is stale-while-revalidate's delta (RFC 5861 §3): how
	// long past freshness the page may be served while one request
	// revalidates it in the background. 0 when absent or invalid.
	WhileRevalidate time.Duration
	// IfError is stale-if-error's delta (RFC 5861 §4): how long past
	// freshness the page may be served when the origin fails or answers
	// 5xx. 0 when absent or invalid.
	IfError time.Duration
}

// Stale reads what r allows once stale, from the directives Decide obeys
// (CDN-Cache-Control when it governs, else Cache-Control). A malformed set
// forbids serving stale: a directive we cannot read might be must-revalidate.
// Same concurrency as Decide; no allocation.
// A stored 5xx is never served stale: an error page must not outlive the
// freshness its origin gave it.
func (r *Response) Stale() Stale {
	if r.status >= 500 {
		return Stale{Forbidden: true}
	}
	dir, _ := r.governingDirectives()
	return dir.stale()
}

func (d *directives) stale() Stale {
	if d.malformed || d.mustRevalidate || d.proxyRevalidate || d.sMaxAge.state != deltaAbsent {
		return Stale{Forbidden: true}
	}
	var s Stale
	if d.staleWhileRevalidate.state == deltaValid {
		s.WhileRevalidate = time.Duration(d.staleWhileRevalidate.secs) * time.Second
	}
	if d.staleIfError.state == deltaValid {
		s.IfError = time.Duration(d.staleIfError.secs) * time.Second
	}
	return s
}
