package cachepolicy

import (
	"bytes"
	"time"

	"github.com/mcpage/mcpage/internal/httpbytes"
)

// HTTP-date (RFC 9110 §5.6.7) parsing and formatting, by hand so that no
// form allocates: "Expires: 0" and other garbage arrive on every response of
// some origins, and time.Parse builds an error for each.

var (
	shortDays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays  = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months    = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// ParseHTTPDate parses an HTTP-date: the IMF-fixdate
// "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
// forms recipients must accept. Names are case-sensitive, as the grammar
// says; surrounding whitespace is not accepted (trim it first); the day name
// must exist but is not checked against the date; the date must exist
// (no 31 Feb); second 60 is allowed and rolls over. An RFC 850 two-digit year
// 70..99 means 19xx and 00..69 means 20xx (RFC 9110's "not more than 50 years
// in the future" rule, evaluated for years up to 2019+50). The result is UTC.
// Any goroutine; no allocation.
func ParseHTTPDate(b []byte) (time.Time, bool) {
	switch {
	case len(b) == len("Sun, 06 Nov 1994 08:49:37 GMT") && b[3] == ',':
		return parseIMFFixdate(b)
	case len(b) == len("Sun Nov  6 08:49:37 1994"):
		return parseASCTime(b)
	default:
		return parseRFC850(b)
	}
}

// parseIMFFixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT".
func parseIMFFixdate(b []byte) (time.Time, bool) {
	if !isName(b[:3], shortDays[:]) || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || !httpbytes.EqualFold(b[25:], " GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(b[5:7])
	year, ok2 := digits(b[12:16])
	return build(year, monthIndex(b[8:11]), day, b[17:25], ok1 && ok2)
}

// parseASCTime: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time SP 4DIGIT.
func parseASCTime(b []byte) (time.Time, bool) {
	if !isName(b[:3], shortDays[:]) || b[3] != ' ' || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
		return time.Time{}, false
	}
	dd := b[8:10]
	if dd[0] == ' ' {
		dd = dd[1:]
	}
	day, ok1 := digits(dd)
	year, ok2 := digits(b[20:24])
	return build(year, monthIndex(b[4:7]), day, b[11:19], ok1 && ok2)
}

// parseRFC850: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time SP "GMT".
func parseRFC850(b []byte) (time.Time, bool) {
	comma := bytes.IndexByte(b, ',')
	if comma < 0 || !isName(b[:comma], longDays[:]) {
		return time.Time{}, false
	}
	b = b[comma:]
	if len(b) != len(", 06-Nov-94 08:49:37 GMT") || b[1] != ' ' || b[4] != '-' || b[8] != '-' ||
		b[11] != ' ' || !httpbytes.EqualFold(b[20:], " GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(b[2:4])
	yy, ok2 := digits(b[9:11])
	year := 2000 + yy
	if yy >= 70 {
		year = 1900 + yy
	}
	return build(year, monthIndex(b[5:8]), day, b[12:20], ok1 && ok2)
}

// build validates and assembles the parts; hms is "HH:MM:SS".
func build(year, month, day int, hms []byte, ok bool) (time.Time, bool) {
	if !ok || month < 0 || hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hh, ok1 := digits(hms[0:2])
	mm, ok2 := digits(hms[3:5])
	ss, ok3 := digits(hms[6:8])
	m := time.Month(month + 1)
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 || day < 1 || day > daysIn(m, year) {
		return time.Time{}, false
	}
	return time.Date(year, m, day, hh, mm, ss, 0, time.UTC), true
}

// daysIn is the number of days in month m of year.
func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Names compare case-insensitively: RFC 9110 §5.6.7 spells them
// case-sensitively, but origins send "MON" or "jan" and the best caches read
// them (being lenient here can only make a page fresh that its origin meant
// to be).
func isName(b []byte, names []string) bool {
	for _, n := range names {
		if httpbytes.EqualFold(b, n) {
			return true
		}
	}
	return false
}

func monthIndex(b []byte) int {
	for i, m := range months {
		if httpbytes.EqualFold(b, m) {
			return i
		}
	}
	return -1
}

// digits parses a short, all-digit field.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// AppendHTTPDate appends t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT") in UTC and returns the extended slice. Times outside years
// 0000..9999 are clamped to that range, which the format can express.
// Any goroutine; no allocation when dst has room (29 bytes).
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	switch {
	case t.Year() < 0:
		t = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	case t.Year() > 9999:
		t = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	year, month, day := t.Date()
	hh, mm, ss := t.Clock()
	dst = append(dst, shortDays[t.Weekday()]...)
	dst = append(dst, ", "...)
	dst = append2(dst, day)
	dst = append(dst, ' ')
	dst = append(dst, months[month-1]...)
	dst = append(dst, ' ')
	dst = append2(dst, year/100)
	dst = append2(dst, year%100)
	dst = append(dst, ' ')
	dst = append2(dst, hh)
	dst = append(dst, ':')
	dst = append2(dst, mm)
	dst = append(dst, ':')
	dst = append2(dst, ss)
	return append(dst, " GMT"...)
}

func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
