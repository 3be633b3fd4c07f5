package layout

import (
	"strings"
	"time"
)

// Keys of jodaValues besides the pattern letters themselves.
const (
	keyTwoDigitYear     = '2' // yy or YY
	keyTwoDigitWeekyear = '3' // xx
)

// maxParsedYear keeps parsed years where millisecond instants do not overflow.
const maxParsedYear = 200_000_000

// jodaValues holds the fields ParseFolder reads from a folder, by pattern letter
// (text fields as numbers: month 1-12, day of week 1-7, halfday and era 0-1).
type jodaValues struct {
	v   [128]int
	set [128]bool
}

func (v *jodaValues) put(key byte, n int) { v.v[key], v.set[key] = n, true }

func (v *jodaValues) get(key byte, def int) int {
	if v.set[key] {
		return v.v[key]
	}
	return def
}

// parse reads s as the pattern prints it. It only has to find a candidate:
// ParseFolder prints the result again and compares, which catches values out
// of range and fields that disagree with each other.
func (f *jodaFormat) parse(s string) (*jodaValues, bool) {
	vals := &jodaValues{}
	for _, tok := range f.tokens {
		if tok.letter == 0 {
			rest, ok := strings.CutPrefix(s, tok.text)
			if !ok {
				return nil, false
			}
			s = rest
			continue
		}
		var n int
		var ok bool
		if words := f.wordsFor(tok); words != nil {
			n, s, ok = parseJodaWord(s, words)
		} else if tok.letter == 'Z' {
			n, s, ok = parseJodaOffset(s, tok.count == 2)
		} else {
			n, s, ok = parseJodaDigits(s, tok)
		}
		if !ok {
			return nil, false
		}
		vals.put(jodaValueKey(tok), n)
	}
	return vals, s == ""
}

func (f *jodaFormat) wordsFor(tok jodaToken) []string {
	switch {
	case tok.letter == 'G':
		return f.names.eras[:]
	case tok.letter == 'a':
		return f.names.halfdays[:]
	case tok.letter == 'E' && tok.count >= 4:
		return f.names.days[:]
	case tok.letter == 'E':
		return f.names.shortDays[:]
	case tok.letter == 'M' && tok.count >= 4:
		return f.names.months[:]
	case tok.letter == 'M' && tok.count == 3:
		return f.names.shortMonths[:]
	}
	return nil
}

func jodaValueKey(tok jodaToken) byte {
	switch {
	case tok.count == 2 && (tok.letter == 'y' || tok.letter == 'Y'):
		return keyTwoDigitYear
	case tok.count == 2 && tok.letter == 'x':
		return keyTwoDigitWeekyear
	case tok.letter == 'E':
		return 'e'
	}
	return tok.letter
}

// parseJodaWord matches the longest word at the start of s; the value is its index,
// plus one for months and days of week, which count from 1.
func parseJodaWord(s string, words []string) (int, string, bool) {
	best := -1
	for i, w := range words {
		if strings.HasPrefix(s, w) && (best < 0 || len(w) > len(words[best])) {
			best = i
		}
	}
	if best < 0 {
		return 0, s, false
	}
	n := best
	if len(words) > 2 {
		n++
	}
	return n, s[len(words[best]):], true
}

// parseJodaDigits reads a number: at most tok.maxDigits digits when a number
// follows, else all of them (at most 10); years and weekyears may be negative.
// S is scaled to milliseconds.
func parseJodaDigits(s string, tok jodaToken) (int, string, bool) {
	neg := false
	if signed := tok.count != 2 && (tok.letter == 'y' || tok.letter == 'x'); signed && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	limit := tok.maxDigits
	if limit == 0 {
		limit = 10
	}
	n, i := 0, 0
	for ; i < len(s) && i < limit && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if i == 0 {
		return 0, s, false
	}
	if tok.letter == 'S' {
		n = n * 1000 / jodaPow10(i)
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

// parseJodaOffset reads Z (+hhmm) or ZZ (+hh:mm) into seconds.
func parseJodaOffset(s string, colon bool) (int, string, bool) {
	width := 5
	if colon {
		width = 6
	}
	if len(s) < width || (s[0] != '+' && s[0] != '-') || (colon && s[3] != ':') {
		return 0, s, false
	}
	seconds, ok := parseZoneOffset(s[:width])
	return seconds, s[width:], ok
}

// localMillis is the wall-clock time the values name, in milliseconds since
// 1970-01-01T00:00 local; fields the pattern lacks take their minimum, and the
// year 2000 when there is none (Joda's parse default).
func (v *jodaValues) localMillis(pivot int) (int64, bool) {
	date, ok := v.date(pivot)
	if !ok {
		return 0, false
	}
	hour := v.get('a', 0) * 12
	switch {
	case v.set['H']:
		hour = v.v['H']
	case v.set['k']:
		hour = v.v['k'] % 24
	case v.set['h']:
		hour += v.v['h'] % 12
	case v.set['K']:
		hour += v.v['K']
	}
	clock := ((int64(hour)*60+int64(v.get('m', 0)))*60+int64(v.get('s', 0)))*1000 + int64(v.get('S', 0))
	return date.UnixMilli() + clock, true
}

func (v *jodaValues) date(pivot int) (time.Time, bool) {
	year, hasYear := v.year(pivot)
	weekyear, hasWeekyear := v.weekyear(pivot)
	if !hasYear && hasWeekyear {
		if jodaAbs(weekyear) > maxParsedYear {
			return time.Time{}, false
		}
		jan4 := time.Date(weekyear, 1, 4, 0, 0, 0, 0, time.UTC)
		monday := jan4.AddDate(0, 0, 1-jodaDayOfWeek(jan4))
		return monday.AddDate(0, 0, 7*(v.get('w', 1)-1)+v.get('e', 1)-1), true
	}
	if !hasYear {
		year = 2000
	}
	if jodaAbs(year) > maxParsedYear {
		return time.Time{}, false
	}
	if v.set['D'] {
		return time.Date(year, 1, v.v['D'], 0, 0, 0, 0, time.UTC), true
	}
	return time.Date(year, time.Month(v.get('M', 1)), v.get('d', 1), 0, 0, 0, 0, time.UTC), true
}

func (v *jodaValues) year(pivot int) (int, bool) {
	switch {
	case v.set['y']:
		return v.v['y'], true
	case v.set['Y'] && v.get('G', 1) == 0:
		return 1 - v.v['Y'], true
	case v.set['Y']:
		return v.v['Y'], true
	case v.set['C'] && v.set[keyTwoDigitYear]:
		return v.v['C']*100 + v.v[keyTwoDigitYear], true
	case v.set[keyTwoDigitYear]:
		return twoDigitYear(v.v[keyTwoDigitYear], pivot), true
	case v.set['C']:
		return v.v['C'] * 100, true
	}
	return 0, false
}

func (v *jodaValues) weekyear(pivot int) (int, bool) {
	switch {
	case v.set['x']:
		return v.v['x'], true
	case v.set[keyTwoDigitWeekyear]:
		return twoDigitYear(v.v[keyTwoDigitWeekyear], pivot), true
	}
	return 0, false
}

// twoDigitYear places yy in the hundred years from pivot-50, as Joda's parser does.
func twoDigitYear(yy, pivot int) int {
	low := pivot - 50
	year := low - (low%100+100)%100 + yy
	if year < low {
		year += 100
	}
	return year
}
