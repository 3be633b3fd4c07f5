package layout

import (
	"fmt"
	"math"
	"strings"
	"time"
	// The zone database inside the binary: kferry's image is FROM scratch and
	// minimal hosts have no /usr/share/zoneinfo, where --timezone would fail.
	_ "time/tzdata"
)

// loadJodaZone resolves a timezone setting the way Joda's DateTimeZone.forID
// does: "UTC", a tz database id, "UT", "GMT" or "Z", or a fixed offset such as
// "+05:30", "-08", "UTC+01:00" or "GMT-0330". Go's own extras ("Local",
// "localtime", "posix/...") are refused because Joda does not know them.
func loadJodaZone(id string) (*time.Location, error) {
	if strings.TrimSpace(id) == "" {
		return nil, fmt.Errorf("timezone is required, as in Confluent (e.g. UTC or Europe/Berlin): %w",
			ErrInvalidPartitioner)
	}
	if id == "UTC" {
		return time.UTC, nil
	}
	if goOnlyZone(id) {
		return nil, unknownJodaZone(id)
	}
	if loc, err := time.LoadLocation(id); err == nil {
		return loc, nil
	}
	if id == "UT" || id == "GMT" || id == "Z" {
		return time.UTC, nil
	}
	rest := id
	for _, prefix := range []string{"UTC", "GMT", "UT"} {
		if after, ok := strings.CutPrefix(id, prefix); ok && (strings.HasPrefix(after, "+") || strings.HasPrefix(after, "-")) {
			rest = after
			break
		}
	}
	if !strings.HasPrefix(rest, "+") && !strings.HasPrefix(rest, "-") {
		return nil, unknownJodaZone(id)
	}
	seconds, ok := parseZoneOffset(rest)
	if !ok {
		return nil, fmt.Errorf("timezone %q: want an offset such as +05:30 or -08: %w", id, ErrInvalidPartitioner)
	}
	if seconds == 0 {
		return time.UTC, nil
	}
	return time.FixedZone(jodaOffsetName(seconds), seconds), nil
}

func unknownJodaZone(id string) error {
	return fmt.Errorf("timezone %q is not a zone id Joda-Time knows; use one from the tz database "+
		"(UTC, Europe/Berlin, America/New_York) or an offset such as +05:30: %w", id, ErrInvalidPartitioner)
}

// goOnlyZone reports names time.LoadLocation accepts that are not tz database ids.
func goOnlyZone(id string) bool {
	switch id {
	case "Local", "localtime", "posixrules", "Factory":
		return true
	}
	return strings.HasPrefix(id, "posix/") || strings.HasPrefix(id, "right/")
}

// parseZoneOffset reads ±hh, ±hhmm, ±hhmmss, ±hh:mm and ±hh:mm:ss into
// seconds (a ".000" tail is allowed; Go zones have no finer offsets).
func parseZoneOffset(s string) (int, bool) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	digits := strings.TrimSuffix(s[1:], ".000")
	if strings.Contains(digits, ":") {
		if (len(digits) != 5 && len(digits) != 8) || digits[2] != ':' || (len(digits) == 8 && digits[5] != ':') {
			return 0, false
		}
		digits = strings.ReplaceAll(digits, ":", "")
	}
	if len(digits) != 2 && len(digits) != 4 && len(digits) != 6 {
		return 0, false
	}
	seconds := 0
	for i, limit := range []int{23, 59, 59} {
		n := 0
		if 2*i < len(digits) {
			hi, lo := digits[2*i], digits[2*i+1]
			if hi < '0' || hi > '9' || lo < '0' || lo > '9' {
				return 0, false
			}
			n = int(hi-'0')*10 + int(lo-'0')
		}
		if n > limit {
			return 0, false
		}
		seconds = seconds*60 + n
	}
	return sign * seconds, true
}

// jodaOffsetName is Joda's name for a fixed-offset zone: +hh:mm[:ss].
func jodaOffsetName(seconds int) string {
	b := []byte{'+'}
	if seconds < 0 {
		b[0] = '-'
		seconds = -seconds
	}
	b = appendJodaPadded(b, seconds/3600, 2)
	b = append(b, ':')
	b = appendJodaPadded(b, seconds/60%60, 2)
	if seconds%60 != 0 {
		b = append(b, ':')
		b = appendJodaPadded(b, seconds%60, 2)
	}
	return string(b)
}

// jodaZone does Joda's DateTimeZone arithmetic on millisecond instants with Go's
// zone data: "local" instants are the wall clock read as if it were UTC.
type jodaZone struct{ loc *time.Location }

// offset is Joda's getOffset: milliseconds to add to UTC at instant ms.
func (z jodaZone) offset(ms int64) int64 {
	_, seconds := time.UnixMilli(ms).In(z.loc).Zone()
	return int64(seconds) * 1000
}

// nextTransition is Joda's nextTransition: the next change of offset or name
// after ms, or ms itself when the zone has no more.
func (z jodaZone) nextTransition(ms int64) int64 {
	_, end := time.UnixMilli(ms).In(z.loc).ZoneBounds()
	if end.IsZero() {
		return ms
	}
	return end.UnixMilli()
}

func (z jodaZone) utcToLocal(ms int64) int64 {
	return ms + z.offset(ms)
}

// localToUTC ports Joda's convertLocalToUTC(instantLocal, false). Near a
// transition the first guess of the offset may be wrong; the second guess is
// kept, except that in a western-hemisphere zone (negative offset) a local time
// in the spring-forward gap keeps the first guess, which lands it after the gap
// as eastern zones do by construction. In the autumn overlap the result is the
// later instant in eastern zones and the earlier one in western zones.
func (z jodaZone) localToUTC(local int64) int64 {
	offsetLocal := z.offset(local)
	offset := z.offset(local - offsetLocal)
	if offsetLocal != offset && offsetLocal < 0 {
		nextLocal := z.nextTransition(local - offsetLocal)
		if nextLocal == local-offsetLocal {
			nextLocal = math.MaxInt64
		}
		nextAdjusted := z.nextTransition(local - offset)
		if nextAdjusted == local-offset {
			nextAdjusted = math.MaxInt64
		}
		if nextLocal != nextAdjusted {
			offset = offsetLocal
		}
	}
	return local - offset
}
