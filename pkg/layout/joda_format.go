package layout

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// jodaToken is one piece of a Joda-Time DateTimeFormat pattern: a run of one
// field letter, or literal text (letter 0).
type jodaToken struct {
	letter byte
	count  int
	text   string
	// maxDigits bounds how many digits ParseFolder reads for a numeric field
	// that the next field follows without a separator (Joda's rule); 0 means
	// read every digit there is.
	maxDigits int
}

// jodaFormat prints instants as Joda's DateTimeFormat.forPattern(p).withLocale(l) does.
type jodaFormat struct {
	tokens []jodaToken
	names  *jodaNames // nil when the pattern has no text field
}

// compileJodaPattern splits a pattern and checks every letter once, so that
// printing cannot fail later.
func compileJodaPattern(pattern, locale string) (*jodaFormat, error) {
	tokens, err := tokenizeJoda(pattern)
	if err != nil {
		return nil, err
	}
	f := &jodaFormat{tokens: tokens}
	for i := range tokens {
		tok := &tokens[i]
		if tok.letter == 0 {
			continue
		}
		if err := checkJodaLetter(*tok); err != nil {
			return nil, fmt.Errorf("path.format %q: %w: %w", pattern, err, ErrInvalidPartitioner)
		}
		if isJodaText(*tok) && f.names == nil {
			if f.names, err = jodaNamesFor(locale); err != nil {
				return nil, err
			}
		}
		if i+1 < len(tokens) && isJodaNumeric(tokens[i+1]) {
			tok.maxDigits = numericMaxDigits(*tok)
		}
	}
	return f, nil
}

// tokenizeJoda follows Joda's DateTimeFormat.parseToken: a run of one ASCII
// letter is a field; anything else up to the next unquoted letter is text, in
// which quotes enclose letters and a doubled quote stands for one. Joda takes an unterminated
// quote as text to the end of the pattern, which would put every record in one
// folder; that is refused here.
func tokenizeJoda(pattern string) ([]jodaToken, error) {
	var tokens []jodaToken
	for i := 0; i < len(pattern); {
		if c := pattern[i]; isJodaLetter(c) {
			j := i + 1
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			tokens = append(tokens, jodaToken{letter: c, count: j - i})
			i = j
			continue
		}
		var text strings.Builder
		quoted := false
		for ; i < len(pattern) && (quoted || !isJodaLetter(pattern[i])); i++ {
			switch {
			case pattern[i] != '\'':
				text.WriteByte(pattern[i])
			case i+1 < len(pattern) && pattern[i+1] == '\'':
				text.WriteByte('\'')
				i++
			default:
				quoted = !quoted
			}
		}
		if quoted {
			return nil, fmt.Errorf("path.format %q: unterminated quote; close literal text with ' "+
				"and write a quote as '': %w", pattern, ErrInvalidPartitioner)
		}
		tokens = append(tokens, jodaToken{text: text.String()})
	}
	return tokens, nil
}

func isJodaLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func checkJodaLetter(tok jodaToken) error {
	switch tok.letter {
	case 'G', 'C', 'Y', 'y', 'x', 'M', 'd', 'a', 'h', 'H', 'k', 'K', 'm', 's', 'e', 'E', 'D', 'w':
		return nil
	case 'S':
		if tok.count > 9 {
			return fmt.Errorf("%d S letters: at most 9 fraction-of-second digits", tok.count)
		}
		return nil
	case 'Z':
		if tok.count > 2 {
			return fmt.Errorf("ZZZ (zone id) is not supported: Joda prints its canonical id, " +
				"which differs from the setting for aliases; use Z or ZZ for the offset")
		}
		return nil
	case 'z':
		return fmt.Errorf("z (zone name) is not supported: Joda takes zone names from Java's locale data, " +
			"not the tz database; use Z or ZZ for the offset")
	}
	return fmt.Errorf("%q is not a Joda-Time pattern letter; quote literal text, as in 'year'=YYYY", tok.letter)
}

func isJodaText(tok jodaToken) bool {
	switch tok.letter {
	case 'G', 'a', 'E':
		return true
	case 'M':
		return tok.count >= 3
	}
	return false
}

// isJodaNumeric is Joda's test for a field that would eat the digits of the
// field before it.
func isJodaNumeric(tok jodaToken) bool {
	switch tok.letter {
	case 'C', 'x', 'y', 'Y', 'd', 'h', 'H', 'm', 's', 'S', 'e', 'D', 'w', 'k', 'K':
		return true
	case 'M':
		return tok.count <= 2
	}
	return false
}

// numericMaxDigits is the width Joda reads for a field followed by a number.
func numericMaxDigits(tok jodaToken) int {
	switch tok.letter {
	case 'x', 'y', 'Y':
		if tok.count == 2 {
			return 2
		}
		return tok.count
	case 'C', 'S':
		return tok.count
	case 'D':
		return 3
	case 'e':
		return 1
	}
	return 2
}

// appendTo prints t, which must already be in the partitioner's zone.
func (f *jodaFormat) appendTo(b []byte, t time.Time) []byte {
	for _, tok := range f.tokens {
		b = f.appendToken(b, tok, t)
	}
	return b
}

func (f *jodaFormat) appendToken(b []byte, tok jodaToken, t time.Time) []byte {
	switch tok.letter {
	case 0:
		return append(b, tok.text...)
	case 'G':
		if t.Year() <= 0 {
			return append(b, f.names.eras[0]...)
		}
		return append(b, f.names.eras[1]...)
	case 'M':
		switch {
		case tok.count >= 4:
			return append(b, f.names.months[t.Month()-1]...)
		case tok.count == 3:
			return append(b, f.names.shortMonths[t.Month()-1]...)
		}
	case 'E':
		if tok.count >= 4 {
			return append(b, f.names.days[jodaDayOfWeek(t)-1]...)
		}
		return append(b, f.names.shortDays[jodaDayOfWeek(t)-1]...)
	case 'a':
		return append(b, f.names.halfdays[t.Hour()/12]...)
	case 'Z':
		return appendJodaOffset(b, t, tok.count == 2)
	case 'S':
		return appendJodaPadded(b, t.Nanosecond()/int(time.Millisecond)*jodaPow10(tok.count)/1000, tok.count)
	case 'y', 'Y', 'x':
		if tok.count == 2 {
			return appendJodaPadded(b, jodaAbs(jodaNumber(tok.letter, t))%100, 2)
		}
	}
	return appendJodaPadded(b, jodaNumber(tok.letter, t), tok.count)
}

// jodaNumber is the value of a numeric field of ISOChronology.
func jodaNumber(letter byte, t time.Time) int {
	switch letter {
	case 'y':
		return t.Year()
	case 'Y':
		return yearOfEra(t.Year())
	case 'C':
		return yearOfEra(t.Year()) / 100
	case 'x':
		year, _ := t.ISOWeek()
		return year
	case 'w':
		_, week := t.ISOWeek()
		return week
	case 'M':
		return int(t.Month())
	case 'd':
		return t.Day()
	case 'D':
		return t.YearDay()
	case 'e':
		return jodaDayOfWeek(t)
	case 'H':
		return t.Hour()
	case 'k':
		if t.Hour() == 0 {
			return 24
		}
		return t.Hour()
	case 'K':
		return t.Hour() % 12
	case 'h':
		if t.Hour()%12 == 0 {
			return 12
		}
		return t.Hour() % 12
	case 'm':
		return t.Minute()
	case 's':
		return t.Second()
	}
	panic("layout: unchecked Joda letter " + string(letter))
}

// yearOfEra counts 1 BC as year 0 of ISOChronology, 2 BC as -1.
func yearOfEra(year int) int {
	if year <= 0 {
		return 1 - year
	}
	return year
}

// jodaDayOfWeek numbers Monday 1 to Sunday 7.
func jodaDayOfWeek(t time.Time) int {
	return (int(t.Weekday())+6)%7 + 1
}

// appendJodaOffset prints the offset as Joda's Z (+hhmm) or ZZ (+hh:mm); seconds are dropped.
func appendJodaOffset(b []byte, t time.Time, colon bool) []byte {
	_, seconds := t.Zone()
	if seconds < 0 {
		b = append(b, '-')
		seconds = -seconds
	} else {
		b = append(b, '+')
	}
	b = appendJodaPadded(b, seconds/3600, 2)
	if colon {
		b = append(b, ':')
	}
	return appendJodaPadded(b, seconds/60%60, 2)
}

// appendJodaPadded is Joda's FormatUtils.appendPaddedInteger: a '-' for negative
// values, then at least width digits.
func appendJodaPadded(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(v), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func jodaPow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func jodaAbs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// resolution is the finest unit down to which the pattern names a local time
// without gaps (year and month and day, or year and day of year, or weekyear and
// week and day of week, then hour, minute, second, millisecond), or 0 when it
// does not name a day. A folder names a bucket's start exactly when the start's
// local time has nothing below this unit.
func (f *jodaFormat) resolution() time.Duration {
	has := func(letters string) bool {
		for _, tok := range f.tokens {
			if tok.letter != 0 && strings.IndexByte(letters, tok.letter) >= 0 &&
				(tok.letter != 'S' || tok.count >= 3) {
				return true
			}
		}
		return false
	}
	day := has("yY") && (has("M") && has("d") || has("D")) || has("x") && has("w") && has("eE")
	switch {
	case !day:
		return 0
	case !has("Hk") && (!has("hK") || !has("a")):
		return 24 * time.Hour
	case !has("m"):
		return time.Hour
	case !has("s"):
		return time.Minute
	case !has("S"):
		return time.Second
	}
	return time.Millisecond
}
