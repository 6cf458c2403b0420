package cachepolicy

import "time"

// AcceptsEncoding reports whether an Accept-Encoding value accepts coding
// (RFC 9110 §12.5.3): a listed coding with q>0 ("x-gzip" is gzip), else "*"
// with q>0 unless the coding is listed with q=0. Empty → false. A malformed q
// counts as 0. No allocation.
func AcceptsEncoding(ae []byte, coding string) bool {
	star := -1.0
	for len(ae) > 0 {
		var item []byte
		item, ae = nextItem(ae)
		item = trimOWS(item)
		if len(item) == 0 {
			continue
		}
		name, params := item, []byte(nil)
		if i := indexByte(item, ';'); i >= 0 {
			name, params = trimOWS(item[:i]), item[i+1:]
		}
		q := qvalue(params)
		switch {
		case equalFoldStr(name, coding) || (coding == "gzip" && equalFoldStr(name, "x-gzip")):
			return q > 0
		case len(name) == 1 && name[0] == '*':
			star = q
		}
	}
	return star > 0
}

// qvalue parses the q parameter among params; absent → 1, malformed → 0.
func qvalue(params []byte) float64 {
	for len(params) > 0 {
		var p []byte
		if i := indexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		p = trimOWS(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		v := trimOWS(p[2:])
		if len(v) == 0 || v[0] < '0' || v[0] > '1' {
			return 0
		}
		q := float64(v[0] - '0')
		if len(v) > 1 {
			if v[1] != '.' || len(v) > 5 {
				return 0
			}
			scale := 0.1
			for _, c := range v[2:] {
				if c < '0' || c > '9' {
					return 0
				}
				q += float64(c-'0') * scale
				scale /= 10
			}
		}
		if q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// NotModified decides a conditional GET/HEAD against a stored response (RFC
// 9110 §13.2.2): If-None-Match (weak comparison) takes precedence over
// If-Modified-Since, which applies only with a Last-Modified ≤ the date.
func NotModified(ifNoneMatch, ifModifiedSince, etag, lastModified []byte) bool {
	ifNoneMatch = trimOWS(ifNoneMatch)
	if len(ifNoneMatch) > 0 {
		if len(etag) == 0 {
			return false
		}
		if len(ifNoneMatch) == 1 && ifNoneMatch[0] == '*' {
			return true
		}
		want := opaque(trimOWS(etag))
		for v := ifNoneMatch; len(v) > 0; {
			var item []byte
			item, v = nextItem(v)
			if o := opaque(trimOWS(item)); len(o) > 0 && string(o) == string(want) {
				return true
			}
		}
		return false
	}
	if len(ifModifiedSince) == 0 || len(lastModified) == 0 {
		return false
	}
	ims, ok1 := ParseHTTPDate(trimOWS(ifModifiedSince))
	lm, ok2 := ParseHTTPDate(trimOWS(lastModified))
	return ok1 && ok2 && !lm.After(ims)
}

// opaque strips a weak prefix for weak comparison.
func opaque(tag []byte) []byte {
	if len(tag) > 2 && tag[0] == 'W' && tag[1] == '/' {
		return tag[2:]
	}
	return tag
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// ParseHTTPDate parses an IMF-fixdate without allocating, and the obsolete
// RFC 850 and asctime forms through time.Parse.
func ParseHTTPDate(b []byte) (time.Time, bool) {
	// "Sun, 06 Nov 1994 08:49:37 GMT"
	if len(b) == 29 && b[3] == ',' && b[4] == ' ' && b[7] == ' ' && b[11] == ' ' &&
		b[16] == ' ' && b[19] == ':' && b[22] == ':' && string(b[25:]) == " GMT" {
		day, ok1 := num(b[5:7])
		year, ok2 := num(b[12:16])
		hh, ok3 := num(b[17:19])
		mm, ok4 := num(b[20:22])
		ss, ok5 := num(b[23:25])
		mon := -1
		for i, m := range months {
			if string(b[8:11]) == m {
				mon = i
			}
		}
		if !(ok1 && ok2 && ok3 && ok4 && ok5) || mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
			return time.Time{}, false
		}
		return time.Date(year, time.Month(mon+1), day, hh, mm, ss, 0, time.UTC), true
	}
	for _, layout := range [...]string{"Monday, 02-Jan-06 15:04:05 GMT", time.ANSIC} {
		if t, err := time.Parse(layout, string(b)); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// AppendHTTPDate appends t as an IMF-fixdate.
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
}
