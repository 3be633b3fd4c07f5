package layout

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func hourlyConfig() TimeConfig {
	return TimeConfig{PathFormat: HourlyPathFormat, Duration: time.Hour, Timezone: "UTC", Locale: "en"}
}

func TestNewTimePartitionerErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*TimeConfig)
		mention string // the setting the message must name
	}{
		{"missing timezone", func(c *TimeConfig) { c.Timezone = "" }, "timezone"},
		{"blank timezone", func(c *TimeConfig) { c.Timezone = "  " }, "timezone"},
		{"unknown zone", func(c *TimeConfig) { c.Timezone = "Europe/Atlantis" }, `timezone "Europe/Atlantis"`},
		{"lower-case utc", func(c *TimeConfig) { c.Timezone = "utc" }, "timezone"},
		{"Go's Local", func(c *TimeConfig) { c.Timezone = "Local" }, "timezone"},
		{"Go's localtime", func(c *TimeConfig) { c.Timezone = "localtime" }, "timezone"},
		{"offset hours out of range", func(c *TimeConfig) { c.Timezone = "+24:00" }, "timezone"},
		{"offset minutes out of range", func(c *TimeConfig) { c.Timezone = "+05:60" }, "timezone"},
		{"offset one digit", func(c *TimeConfig) { c.Timezone = "+5" }, "timezone"},
		{"offset sub-second", func(c *TimeConfig) { c.Timezone = "+05:30:00.500" }, "timezone"},
		{"zero duration", func(c *TimeConfig) { c.Duration = 0 }, "partition.duration.ms"},
		{"negative duration", func(c *TimeConfig) { c.Duration = -time.Hour }, "partition.duration.ms"},
		{"sub-millisecond duration", func(c *TimeConfig) { c.Duration = 1500 * time.Microsecond }, "partition.duration.ms"},
		{"empty format", func(c *TimeConfig) { c.PathFormat = "" }, "path.format"},
		{"blank format", func(c *TimeConfig) { c.PathFormat = " \t" }, "path.format"},
		{"format is the delimiter", func(c *TimeConfig) { c.PathFormat = "/" }, "path.format"},
		{"unsupported letter F", func(c *TimeConfig) { c.PathFormat = "YYYY/F" }, "path.format"},
		{"unquoted word", func(c *TimeConfig) { c.PathFormat = "year=YYYY" }, "path.format"},
		{"zone name z", func(c *TimeConfig) { c.PathFormat = "YYYY-MM-dd z" }, "path.format"},
		{"zone id ZZZ", func(c *TimeConfig) { c.PathFormat = "YYYY-MM-dd ZZZ" }, "path.format"},
		{"ten fraction digits", func(c *TimeConfig) { c.PathFormat = "ss.SSSSSSSSSS" }, "path.format"},
		{"unterminated quote", func(c *TimeConfig) { c.PathFormat = "'year=YYYY" }, "path.format"},
		{"unterminated quote after a doubled one", func(c *TimeConfig) { c.PathFormat = "'it''s YYYY" }, "path.format"},
		{"missing locale", func(c *TimeConfig) { c.Locale = "" }, "locale"},
		{"blank locale", func(c *TimeConfig) { c.Locale = " " }, "locale"},
		{"locale with a space", func(c *TimeConfig) { c.Locale = "en US" }, "locale"},
		{"locale starting with a digit", func(c *TimeConfig) { c.Locale = "1en" }, "locale"},
		{"month name in fr", func(c *TimeConfig) { c.PathFormat = "YYYY/MMM"; c.Locale = "fr" }, `locale "fr"`},
		{"day name in ja", func(c *TimeConfig) { c.PathFormat = "YYYY/EEE"; c.Locale = "ja" }, `locale "ja"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := hourlyConfig()
			tc.edit(&c)
			p, err := NewTimePartitioner(c)
			if err == nil {
				t.Fatalf("NewTimePartitioner(%+v) = %v, want an error", c, p)
			}
			if !errors.Is(err, ErrInvalidPartitioner) {
				t.Errorf("error %q does not wrap ErrInvalidPartitioner", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not name %s", err, tc.mention)
			}
		})
	}
}

func TestNewTimePartitionerAccepts(t *testing.T) {
	ts := time.Date(2026, 11, 30, 18, 20, 0, 0, time.UTC)
	tests := []struct {
		name string
		edit func(*TimeConfig)
		want string
	}{
		{"hourly", func(*TimeConfig) {}, "year=2026/month=11/day=30/hour=18"},
		{"daily", func(c *TimeConfig) { c.PathFormat = DailyPathFormat; c.Duration = 24 * time.Hour }, "year=2026/month=11/day=30"},
		{"trailing delimiter dropped", func(c *TimeConfig) { c.PathFormat = HourlyPathFormat + "/" }, "year=2026/month=11/day=30/hour=18"},
		{"only one trailing delimiter dropped", func(c *TimeConfig) { c.PathFormat = "YYYY//" }, "2026/"},
		{"numeric pattern, any locale", func(c *TimeConfig) { c.Locale = "xx_YY" }, "year=2026/month=11/day=30/hour=18"},
		{"offset zone", func(c *TimeConfig) { c.Timezone = "+05:30" }, "year=2026/month=11/day=30/hour=23"},
		{"offset zone without colon", func(c *TimeConfig) { c.Timezone = "-0330" }, "year=2026/month=11/day=30/hour=14"},
		{"prefixed offset zone", func(c *TimeConfig) { c.Timezone = "GMT+01" }, "year=2026/month=11/day=30/hour=19"},
		{"zero offset", func(c *TimeConfig) { c.Timezone = "UTC+00:00" }, "year=2026/month=11/day=30/hour=18"},
		{"Z", func(c *TimeConfig) { c.Timezone = "Z" }, "year=2026/month=11/day=30/hour=18"},
		{"English month", func(c *TimeConfig) { c.PathFormat = "YYYY/MMMM/EEEE" }, "2026/November/Monday"},
		{"German month", func(c *TimeConfig) { c.PathFormat = "YYYY/MMMM/EEE"; c.Locale = "de" }, "2026/November/Mo."},
		{"upper-case language", func(c *TimeConfig) { c.PathFormat = "MMM"; c.Locale = "DE" }, "Nov."},
		// new Locale("de_DE") is the unknown language "de_de": Java's root names.
		{"language with region", func(c *TimeConfig) { c.PathFormat = "MMMM EEEE G"; c.Locale = "de_DE" }, "Nov Mon CE"},
		{"quoted letters and quotes", func(c *TimeConfig) { c.PathFormat = "'it''s' ''HH''" }, "it's '18'"},
		{"non-ASCII letters are text", func(c *TimeConfig) { c.PathFormat = "'jähr'=YYYY/ä" }, "jähr=2026/ä"},
		{"15 minutes", func(c *TimeConfig) { c.PathFormat = "HH:mm"; c.Duration = 15 * time.Minute }, "18:15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := hourlyConfig()
			tc.edit(&c)
			p, err := NewTimePartitioner(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Folder(ts); got != tc.want {
				t.Errorf("Folder(%v) = %q, want %q", ts, got, tc.want)
			}
		})
	}
}

func TestParseFolderRejects(t *testing.T) {
	hourly := mustPartitioner(t, hourlyConfig())
	berlin := hourlyConfig()
	berlin.Timezone = "Europe/Berlin"
	words := TimeConfig{PathFormat: "EEE yyyy-MMM-dd", Duration: 24 * time.Hour, Timezone: "UTC", Locale: "en"}
	tests := []struct {
		name   string
		p      *TimePartitioner
		folder string
	}{
		{"empty", hourly, ""},
		{"garbage", hourly, "not-a-folder"},
		{"daily folder", hourly, "year=2026/month=11/day=30"},
		{"default partitioner folder", hourly, "partition=3"},
		{"extra level", hourly, "year=2026/month=11/day=30/hour=18/minute=00"},
		{"trailing slash", hourly, "year=2026/month=11/day=30/hour=18/"},
		{"leading slash", hourly, "/year=2026/month=11/day=30/hour=18"},
		{"trailing junk", hourly, "year=2026/month=11/day=30/hour=18x"},
		{"unpadded month", hourly, "year=2026/month=1/day=30/hour=18"},
		{"hour 24", hourly, "year=2026/month=11/day=30/hour=24"},
		{"month 13", hourly, "year=2026/month=13/day=01/hour=00"},
		{"February 30", hourly, "year=2026/month=02/day=30/hour=00"},
		{"other key names", hourly, "y=2026/m=11/d=30/h=18"},
		{"signed year", hourly, "year=-2026/month=11/day=30/hour=18"},
		{"skipped hour in Berlin", mustPartitioner(t, berlin), "year=2026/month=03/day=29/hour=02"},
		{"wrong weekday", mustPartitioner(t, words), "Tue 2026-Nov-30"},
		{"lower-case month", mustPartitioner(t, words), "Mon 2026-nov-30"},
		{"German month in en", mustPartitioner(t, words), "Mon 2026-Dez-30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.ParseFolder(tc.folder)
			if !errors.Is(err, ErrFolderMismatch) {
				t.Fatalf("ParseFolder(%q) = %v, %v; want ErrFolderMismatch", tc.folder, got, err)
			}
			if !strings.Contains(err.Error(), tc.folder) {
				t.Errorf("error %q does not name the folder", err)
			}
		})
	}
	if got, err := mustPartitioner(t, words).ParseFolder("Mon 2026-Nov-30"); err != nil ||
		!got.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseFolder(Mon 2026-Nov-30) = %v, %v", got, err)
	}
}

func mustPartitioner(t *testing.T, c TimeConfig) *TimePartitioner {
	t.Helper()
	p, err := NewTimePartitioner(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFieldFolder(t *testing.T) {
	tests := []struct {
		name   string
		names  []string
		values []any
		want   string
	}{
		{"json integer", []string{"id"}, []any{json.Number("42")}, "id=42"},
		{"negative json integer", []string{"id"}, []any{json.Number("-7")}, "id=-7"},
		{"json minus zero as Java prints it", []string{"id"}, []any{json.Number("-0")}, "id=0"},
		{"largest long", []string{"id"}, []any{json.Number("9223372036854775807")}, "id=9223372036854775807"},
		{"bool true", []string{"ok"}, []any{true}, "ok=true"},
		{"bool false", []string{"ok"}, []any{false}, "ok=false"},
		{"string as is", []string{"region"}, []any{"eu west=1"}, "region=eu west=1"},
		{"slash adds a level", []string{"path"}, []any{"a/b"}, "path=a/b"},
		{"empty string", []string{"s"}, []any{""}, "s="},
		{"nil", []string{"customer"}, []any{nil}, "customer=null"},
		{"go int", []string{"n"}, []any{-3}, "n=-3"},
		{"go int8", []string{"n"}, []any{int8(-128)}, "n=-128"},
		{"go int64", []string{"n"}, []any{int64(math.MinInt64)}, "n=-9223372036854775808"},
		{"go uint32", []string{"n"}, []any{uint32(4294967295)}, "n=4294967295"},
		{"go uint64 within long", []string{"n"}, []any{uint64(math.MaxInt64)}, "n=9223372036854775807"},
		{"several fields", []string{"country", "vip", "id"}, []any{"DE", true, json.Number("5")}, "country=DE/vip=true/id=5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FieldFolder(tc.names, tc.values)
			if err != nil || got != tc.want {
				t.Errorf("FieldFolder(%v, %v) = %q, %v; want %q", tc.names, tc.values, got, err, tc.want)
			}
		})
	}
}

func TestFieldFolderErrors(t *testing.T) {
	tests := []struct {
		name   string
		names  []string
		values []any
		want   error
	}{
		{"json float", []string{"price"}, []any{json.Number("1.5")}, ErrFieldValue},
		{"json exponent", []string{"price"}, []any{json.Number("1e3")}, ErrFieldValue},
		{"json integer beyond long", []string{"id"}, []any{json.Number("9223372036854775808")}, ErrFieldValue},
		{"go float64", []string{"price"}, []any{2.0}, ErrFieldValue},
		{"go float32", []string{"price"}, []any{float32(2)}, ErrFieldValue},
		{"object", []string{"o"}, []any{map[string]any{"a": 1}}, ErrFieldValue},
		{"array", []string{"a"}, []any{[]any{1, 2}}, ErrFieldValue},
		{"uint64 beyond long", []string{"n"}, []any{uint64(math.MaxUint64)}, ErrFieldValue},
		{"bytes", []string{"b"}, []any{[]byte("x")}, ErrFieldValue},
		{"more names than values", []string{"a", "b"}, []any{"x"}, ErrFieldValue},
		{"no names", nil, nil, ErrInvalidPartitioner},
		{"empty name", []string{""}, []any{"x"}, ErrInvalidPartitioner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FieldFolder(tc.names, tc.values)
			if !errors.Is(err, tc.want) {
				t.Fatalf("FieldFolder(%v, %v) = %q, %v; want %v", tc.names, tc.values, got, err, tc.want)
			}
			if len(tc.names) == 1 && tc.names[0] != "" && !strings.Contains(err.Error(), tc.names[0]) {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

func TestParseZoneOffset(t *testing.T) {
	for in, want := range map[string]int{
		"+05": 5 * 3600, "-08": -8 * 3600, "+0530": 5*3600 + 30*60, "+05:30": 5*3600 + 30*60,
		"-03:30:15": -(3*3600 + 30*60 + 15), "+053015": 5*3600 + 30*60 + 15, "+05:30:00.000": 5*3600 + 30*60,
	} {
		if got, ok := parseZoneOffset(in); !ok || got != want {
			t.Errorf("parseZoneOffset(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"+", "+5", "+053", "+05:3", "+0530:00", "+05:30:", "+24", "+05:60", "+ab", "+05-30"} {
		if got, ok := parseZoneOffset(in); ok {
			t.Errorf("parseZoneOffset(%q) = %d, want a failure", in, got)
		}
	}
}

// FuzzParseFolder: ParseFolder never panics, and a folder it accepts is the one
// Folder prints for the instant it returns, for patterns with text, offsets and
// adjacent numbers.
func FuzzParseFolder(f *testing.F) {
	patterns := []string{HourlyPathFormat, "EEE yyyy-MMM-dd hh:mm a ZZ", "yyyyMMddHHmm", "xx-'W'ww-e/D/G C"}
	for _, folder := range []string{
		"year=2026/month=11/day=30/hour=18", "Mon 2026-Nov-30 06:15 PM +01:00", "202611301815",
		"26-W49-1/334/AD 20", "year=0000/month=00/day=00/hour=99", "",
	} {
		for i := range patterns {
			f.Add(i, folder)
		}
	}
	f.Fuzz(func(t *testing.T, i int, folder string) {
		pattern := patterns[(i%len(patterns)+len(patterns))%len(patterns)]
		p, err := NewTimePartitioner(TimeConfig{PathFormat: pattern, Duration: time.Minute,
			Timezone: "Europe/Berlin", Locale: "en"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.ParseFolder(folder)
		if err != nil {
			return
		}
		if back := string(p.format.appendTo(nil, got.In(p.zone.loc))); back != folder {
			t.Fatalf("ParseFolder(%q) = %v, which prints as %q", folder, got, back)
		}
	})
}
