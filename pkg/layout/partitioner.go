package layout

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// HourlyPathFormat and DailyPathFormat are Confluent's HourlyPartitioner and DailyPartitioner formats.
const (
	HourlyPathFormat = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"
	DailyPathFormat  = "'year'=YYYY/'month'=MM/'day'=dd"
)

// ErrInvalidPartitioner means partitioner settings that Confluent would refuse,
// or that kferry cannot reproduce exactly; the message names the setting.
var ErrInvalidPartitioner = errors.New("invalid partitioner settings")

// ErrFolderMismatch means a folder is not one the partitioner's path.format prints.
var ErrFolderMismatch = errors.New("folder does not match path.format")

// ErrFieldValue means a record field cannot name a FieldPartitioner folder:
// Confluent throws for its type (floats, objects, arrays).
var ErrFieldValue = errors.New("field value cannot name a partition folder")

// TimeConfig holds the settings of Confluent's TimeBasedPartitioner, under the
// names Confluent gives them.
type TimeConfig struct {
	PathFormat string        // Joda-Time DateTimeFormat pattern (path.format)
	Duration   time.Duration // partition.duration.ms; must be > 0
	Timezone   string        // Joda zone id (timezone): "UTC", "Europe/Berlin", "America/New_York"; required
	Locale     string        // locale, e.g. "en", "en_US", "de_DE"; required like Confluent; only text fields (MMM, EEE) use it
}

// TimePartitioner names folders as Confluent's TimeBasedPartitioner does, so
// kferry's objects land next to the connector's and its importer finds theirs.
// It is immutable and safe for concurrent use.
type TimePartitioner struct {
	pathFormat string
	duration   int64 // milliseconds
	zone       jodaZone
	format     *jodaFormat
	pivot      int // Joda's two-digit-year pivot: this year minus 30
}

// NewTimePartitioner checks c as Confluent's TimeBasedPartitioner.configure
// does, and also refuses what kferry cannot print exactly as Joda-Time does:
// zone names (z), zone ids (ZZZ), month and day names in locales other than en
// and de, and an unterminated quote (Joda takes the rest of the pattern as
// text). Errors name the setting and wrap ErrInvalidPartitioner.
func NewTimePartitioner(c TimeConfig) (*TimePartitioner, error) {
	if c.Duration <= 0 || c.Duration%time.Millisecond != 0 {
		return nil, fmt.Errorf("partition.duration.ms: want a positive whole number of milliseconds, got %v: %w",
			c.Duration, ErrInvalidPartitioner)
	}
	pathFormat := c.PathFormat
	if strings.TrimSpace(pathFormat) == "" || pathFormat == "/" {
		return nil, fmt.Errorf("path.format is empty; set a Joda-Time pattern such as %s: %w",
			HourlyPathFormat, ErrInvalidPartitioner)
	}
	// Confluent drops one trailing directory.delim.
	pathFormat = strings.TrimSuffix(pathFormat, "/")
	if err := checkJodaLocale(c.Locale); err != nil {
		return nil, err
	}
	loc, err := loadJodaZone(c.Timezone)
	if err != nil {
		return nil, err
	}
	format, err := compileJodaPattern(pathFormat, c.Locale)
	if err != nil {
		return nil, err
	}
	return &TimePartitioner{
		pathFormat: pathFormat,
		duration:   c.Duration.Milliseconds(),
		zone:       jodaZone{loc: loc},
		format:     format,
		pivot:      time.Now().Year() - 30,
	}, nil
}

// Bucket returns the start instant (UTC) of the bucket holding ts, exactly as
// Confluent's TimeBasedPartitioner.getPartition: the local time is cut down to a
// multiple of the duration counted from 1970-01-01T00:00 local, with Java's
// division, which truncates toward zero, so before 1970 the start is the later
// edge; the local start goes back to UTC as Joda does. Near a clock change the
// start can lie after ts (the cut lands in the skipped hour, or in the repeated
// hour of an eastern zone), as it does in Confluent.
func (p *TimePartitioner) Bucket(ts time.Time) time.Time {
	return time.UnixMilli(p.bucketMillis(ts.UnixMilli())).UTC()
}

func (p *TimePartitioner) bucketMillis(ms int64) int64 {
	local := p.zone.utcToLocal(ms)
	return p.zone.localToUTC(local / p.duration * p.duration)
}

// Folder returns the encoded partition of ts, e.g. "year=2026/month=11/day=30/hour=18":
// the bucket's start printed in the zone. It has no leading or trailing '/'
// unless path.format has one inside its text.
func (p *TimePartitioner) Folder(ts time.Time) string {
	start := time.UnixMilli(p.bucketMillis(ts.UnixMilli())).In(p.zone.loc)
	return string(p.format.appendTo(make([]byte, 0, 48), start))
}

// ParseFolder returns the instant a folder names, for import discovery: its
// local time, with the fields path.format leaves out at their minimum, converted
// to UTC as bucket starts are. When the format prints the time down to the
// duration, as the Hourly and Daily formats do for 1 h and 24 h, this is the
// bucket's start: ParseFolder(Folder(ts)) == Bucket(ts). It fails with
// ErrFolderMismatch unless Folder prints exactly folder for that instant. A
// year of era (YYYY) without an era (G) is read as AD; a two-digit year is
// placed as Joda parses it, within 80 years before and 20 after now.
func (p *TimePartitioner) ParseFolder(folder string) (time.Time, error) {
	if vals, ok := p.format.parse(folder); ok {
		if t, ok := p.instantOf(vals, folder); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("folder %q, path.format %q: %w", folder, p.pathFormat, ErrFolderMismatch)
}

// instantOf finds the instant that vals name and that prints as folder. A
// printed offset (Z, ZZ) picks the instant in a repeated hour, unless it lost
// seconds of an old local mean time offset.
func (p *TimePartitioner) instantOf(vals *jodaValues, folder string) (time.Time, bool) {
	local, ok := vals.localMillis(p.pivot)
	if !ok {
		return time.Time{}, false
	}
	candidates := []int64{p.zone.localToUTC(local)}
	if vals.set['Z'] {
		candidates = append([]int64{local - int64(vals.v['Z'])*1000}, candidates...)
	}
	buf := make([]byte, 0, len(folder))
	for _, utc := range candidates {
		t := time.UnixMilli(utc)
		if string(p.format.appendTo(buf, t.In(p.zone.loc))) == folder {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// FieldFolder returns the encoded partition of Confluent's FieldPartitioner:
// "name=value" per name, joined by "/". Values are those encoding/json decodes
// with UseNumber, plus Go integers: integers print as Java's Long.toString,
// booleans as true/false, strings as they are (no escaping: a '/' adds a level,
// as in Confluent), nil as "null" (Confluent's null STRING). Floats, objects and
// arrays fail with ErrFieldValue, as Confluent throws for other types.
func FieldFolder(names []string, values []any) (string, error) {
	if len(names) == 0 {
		return "", fmt.Errorf("partition.field.name is empty; name at least one field: %w", ErrInvalidPartitioner)
	}
	if len(names) != len(values) {
		return "", fmt.Errorf("%d partition fields but %d values: %w", len(names), len(values), ErrFieldValue)
	}
	var b strings.Builder
	for i, name := range names {
		if name == "" {
			return "", fmt.Errorf("partition.field.name has an empty name: %w", ErrInvalidPartitioner)
		}
		text, err := fieldText(values[i])
		if err != nil {
			return "", fmt.Errorf("partition field %q: %w", name, err)
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(text)
	}
	return b.String(), nil
}

// fieldText prints a value as Confluent's FieldPartitioner prints INT8-64,
// BOOLEAN and STRING fields.
func fieldText(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			return "", fmt.Errorf("number %s is not a 64-bit integer; Confluent partitions by INT8-INT64 only: %w",
				x, ErrFieldValue)
		}
		return strconv.FormatInt(n, 10), nil
	case int, int8, int16, int32, int64:
		return strconv.FormatInt(reflect.ValueOf(x).Int(), 10), nil
	case uint, uint8, uint16, uint32, uint64:
		n := reflect.ValueOf(x).Uint()
		if n > math.MaxInt64 {
			return "", fmt.Errorf("%d does not fit Java's long: %w", n, ErrFieldValue)
		}
		return strconv.FormatUint(n, 10), nil
	}
	return "", fmt.Errorf("%s values cannot name a folder; Confluent partitions by integers, booleans and strings: %w",
		fieldKindName(v), ErrFieldValue)
}

func fieldKindName(v any) string {
	switch reflect.TypeOf(v).Kind() {
	case reflect.Float32, reflect.Float64:
		return "floating-point"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}
