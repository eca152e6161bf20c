package message

import (
	"strconv"
	"strings"
	"time"
)

// ParseDate reads a Date header as Parse does for Info.Date (an embedded
// message's Envelope.Date, say); ok is false when it cannot be read.
func ParseDate(s string) (t time.Time, ok bool) { return parseDate(s) }

// parseDate reads a Date header leniently: RFC 5322 3.3 date-time, its
// obsolete forms (4.3: two- and three-digit years, zone names), and what
// mailers write instead: asctime, ISO 8601, "2-Jan-2006", "GMT+0200",
// missing seconds or zone, am/pm. Fields are recognised by their form, not
// their order. A missing zone is taken as UTC.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(stripComments(s))
	if len(s) >= 10 && isDigits(s[:4]) && s[4] == '-' {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil && t.Year() > 0 && t.Year() < 10000 {
				return t, true
			}
		}
	}
	var d dateFields
	d.day, d.month, d.year, d.hour = -1, -1, -1, -1
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		d.token(tok)
	}
	return d.time()
}

type dateFields struct {
	day, month, year  int
	hour, min, sec    int
	pm, am            bool
	offset            int // seconds east of UTC
	zoneSet, timeSeen bool
}

// zoneOffset knows the RFC 5322 4.3 obs-zone names and a few more that
// mailers use; it returns hours east of UTC.
func zoneOffset(name string) (int, bool) {
	switch strings.ToUpper(name) {
	case "UT", "UTC", "GMT", "Z", "WET":
		return 0, true
	case "EST":
		return -5, true
	case "EDT", "AST":
		return -4, true
	case "CST":
		return -6, true
	case "CDT":
		return -5, true
	case "MST":
		return -7, true
	case "MDT":
		return -6, true
	case "PST":
		return -8, true
	case "PDT":
		return -7, true
	case "BST", "CET", "MET", "WEST":
		return 1, true
	case "CEST", "MEST", "EET":
		return 2, true
	case "EEST", "MSK":
		return 3, true
	case "HKT", "SGT", "AWST":
		return 8, true
	case "JST", "KST":
		return 9, true
	case "AEST":
		return 10, true
	case "AEDT":
		return 11, true
	}
	return 0, false
}

func (d *dateFields) token(tok string) {
	switch {
	case tok == "":
	case strings.IndexByte(tok, ':') > 0 && isDigit(tok[0]) && !d.timeSeen:
		d.clock(tok)
	case tok[0] == '+' || tok[0] == '-':
		d.numericZone(tok)
	case isDigits(tok):
		n, _ := strconv.Atoi(tok)
		switch {
		case len(tok) > 4:
		case len(tok) >= 3 && d.year < 0:
			d.year = n
			if len(tok) == 3 {
				d.year += 1900 // RFC 5322 4.3
			}
		case len(tok) <= 2 && d.day < 0 && n >= 1 && n <= 31:
			d.day = n
		case len(tok) <= 2 && d.year < 0:
			// RFC 5322 4.3: 00-49 is 2000-2049, 50-99 is 1950-1999.
			if n < 50 {
				d.year = 2000 + n
			} else {
				d.year = 1900 + n
			}
		}
	case strings.IndexByte(tok, '-') > 0 || strings.IndexByte(tok, '.') > 0 || strings.IndexByte(tok, '/') > 0:
		// "2-Jan-2006", "02.01.2006": day, month, year.
		parts := strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '.' || r == '/' })
		if len(parts) == 3 && isDigits(parts[1]) && strings.IndexByte(tok, '.') > 0 && d.month < 0 {
			if m, err := strconv.Atoi(parts[1]); err == nil && m >= 1 && m <= 12 {
				d.month = m - 1
				parts[1] = ""
			}
		}
		for _, p := range parts {
			if p != "" && !isDigits(p) && strings.IndexAny(p, "-./") >= 0 {
				continue
			}
			d.token(p)
		}
	default:
		lower := strings.ToLower(tok)
		switch {
		case lower == "am" || lower == "a.m.":
			d.am = true
			return
		case lower == "pm" || lower == "p.m.":
			d.pm = true
			return
		}
		if len(lower) >= 3 && d.month < 0 {
			months := [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
			for i, m := range months {
				if strings.HasPrefix(lower, m) {
					d.month = i
					return
				}
			}
		}
		if d.zoneSet {
			return
		}
		// "GMT+0200", "UTC-5".
		for _, pre := range []string{"gmt", "utc", "ut"} {
			if strings.HasPrefix(lower, pre) && len(lower) > len(pre) && (lower[len(pre)] == '+' || lower[len(pre)] == '-') {
				d.numericZone(tok[len(pre):])
				return
			}
		}
		if h, ok := zoneOffset(tok); ok {
			d.offset, d.zoneSet = h*3600, true
		}
	}
}

// clock reads hh:mm[:ss], possibly followed by a zone ("15:04:05Z",
// "15:04:05+02:00").
func (d *dateFields) clock(tok string) {
	i := 0
	for i < len(tok) && (isDigit(tok[i]) || tok[i] == ':' || tok[i] == '.') {
		i++
	}
	t, rest := tok[:i], tok[i:]
	f := strings.Split(t, ":")
	if len(f) < 2 || len(f) > 3 {
		return
	}
	var v [3]int
	for k, s := range f {
		if k == 2 {
			s, _, _ = strings.Cut(s, ".") // fractional seconds
		}
		n, err := strconv.Atoi(s)
		if err != nil || len(s) > 2 {
			return
		}
		v[k] = n
	}
	d.hour, d.min, d.sec, d.timeSeen = v[0], v[1], v[2], true
	if rest != "" {
		d.token(rest)
	}
}

// numericZone reads +hhmm, -hhmm, +hh:mm or +h.
func (d *dateFields) numericZone(tok string) {
	if d.zoneSet || len(tok) < 2 {
		return
	}
	sign := 1
	if tok[0] == '-' {
		sign = -1
	}
	z := strings.ReplaceAll(tok[1:], ":", "")
	if !isDigits(z) {
		return
	}
	var h, m int
	switch len(z) {
	case 1, 2:
		h, _ = strconv.Atoi(z)
	case 4:
		h, _ = strconv.Atoi(z[:2])
		m, _ = strconv.Atoi(z[2:])
	default:
		return
	}
	if h > 23 || m > 59 {
		return
	}
	d.offset, d.zoneSet = sign*(h*3600+m*60), true
}

func (d *dateFields) time() (time.Time, bool) {
	if d.day < 0 || d.month < 0 || d.year < 0 || d.year > 9999 {
		return time.Time{}, false
	}
	if d.hour < 0 {
		d.hour = 0
	}
	if d.pm && d.hour < 12 {
		d.hour += 12
	} else if d.am && d.hour == 12 {
		d.hour = 0
	}
	if d.sec == 60 {
		d.sec = 59 // leap second
	}
	if d.hour > 23 || d.min > 59 || d.sec > 59 {
		return time.Time{}, false
	}
	loc := time.UTC
	if d.offset != 0 {
		loc = time.FixedZone("", d.offset)
	}
	t := time.Date(d.year, time.Month(d.month+1), d.day, d.hour, d.min, d.sec, 0, loc)
	if t.Day() != d.day {
		return time.Time{}, false // "31 Feb"
	}
	return t, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
