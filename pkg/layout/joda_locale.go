package layout

import (
	"fmt"
	"strings"
)

// jodaNames are the words Joda-Time prints for text fields. Joda takes them from
// java.text.DateFormatSymbols, so they are Java's (CLDR data as of Java 17), not
// Go's or the operating system's.
type jodaNames struct {
	months, shortMonths [12]string // January first
	days, shortDays     [7]string  // Monday first, as Joda's dayOfWeek 1..7
	halfdays            [2]string  // AM, PM
	eras                [2]string  // BC, AD
}

var englishNames = jodaNames{
	months: [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"},
	shortMonths: [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	days:        [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
	shortDays:   [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
	halfdays:    [2]string{"AM", "PM"},
	eras:        [2]string{"BC", "AD"},
}

var germanNames = jodaNames{
	months: [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
		"August", "September", "Oktober", "November", "Dezember"},
	shortMonths: [12]string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
	days:        [7]string{"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"},
	shortDays:   [7]string{"Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."},
	halfdays:    [2]string{"AM", "PM"},
	eras:        [2]string{"v. Chr.", "n. Chr."},
}

// rootNames are what Java prints for a language it does not know. Confluent
// builds its locale with new Locale(locale), which takes the whole setting as
// the language: "en_US" becomes the unknown language "en_us", so MMMM prints
// "Jan", not "January", and G prints "CE", not "AD".
var rootNames = jodaNames{
	months:      [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	shortMonths: [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	days:        [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
	shortDays:   [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
	halfdays:    [2]string{"AM", "PM"},
	eras:        [2]string{"BCE", "CE"},
}

// checkJodaLocale refuses what is not a locale at all, so that a value meant for
// another setting (a zone, a path) is caught even when no text field needs it.
func checkJodaLocale(locale string) error {
	if strings.TrimSpace(locale) == "" {
		return fmt.Errorf("locale is required, as in Confluent (e.g. en): %w", ErrInvalidPartitioner)
	}
	for i, r := range locale {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		other := r >= '0' && r <= '9' || r == '_' || r == '-'
		if !letter && (i == 0 || !other) {
			return fmt.Errorf("locale %q: want a language code with an optional region, such as en or de_DE: %w",
				locale, ErrInvalidPartitioner)
		}
	}
	return nil
}

// jodaNamesFor returns the words Java prints for Confluent's new Locale(locale). A
// bare two- or three-letter language other than en and de may have words in
// Java that kferry does not carry, so it is refused rather than guessed.
func jodaNamesFor(locale string) (*jodaNames, error) {
	lang := strings.ToLower(locale)
	switch {
	case lang == "en":
		return &englishNames, nil
	case lang == "de":
		return &germanNames, nil
	case isLanguageCode(lang):
		return nil, fmt.Errorf("locale %q: text fields (MMM, EEE, a, G) are known for en and de only; "+
			"use numeric fields (MM instead of MMM) or locale en or de: %w", locale, ErrInvalidPartitioner)
	}
	return &rootNames, nil
}

func isLanguageCode(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}
