package cachepolicy

import (
	"strings"
	"time"
)

// now is the fixed receipt time of every test response.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// httpDate formats t with the standard library, independently of
// AppendHTTPDate.
func httpDate(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }

// response builds a Response from "Name: value" lines.
func response(status int, authorized bool, fields ...string) *Response {
	var r Response
	r.Reset(status)
	if authorized {
		r.MarkAuthorized()
	}
	for _, f := range fields {
		name, val, ok := strings.Cut(f, ":")
		if !ok {
			panic("field without colon: " + f)
		}
		r.Observe([]byte(name), []byte(val))
	}
	return &r
}

// repeat returns n copies of field.
func repeat(field string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = field
	}
	return out
}
