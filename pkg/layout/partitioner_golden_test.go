package layout

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	// The golden rows name tz database zones; this makes the test pass on a
	// machine without /usr/share/zoneinfo (it is only a fallback).
	_ "time/tzdata"
)

// jodaRow is one line of testdata/joda/golden.tsv, printed by Gen.java with real Joda-Time.
type jodaRow struct {
	line     int
	ts       int64
	config   TimeConfig
	bucketMs int64
	folder   string
}

func readJodaGolden(t *testing.T) []jodaRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "joda", "golden.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only
	var rows []jodaRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 7 {
			t.Fatalf("golden.tsv:%d: %d columns, want 7", n, len(cols))
		}
		ts, err1 := strconv.ParseInt(cols[0], 10, 64)
		duration, err2 := strconv.ParseInt(cols[1], 10, 64)
		bucket, err3 := strconv.ParseInt(cols[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("golden.tsv:%d: bad number in %q", n, sc.Text())
		}
		rows = append(rows, jodaRow{
			line: n, ts: ts, bucketMs: bucket, folder: cols[6],
			config: TimeConfig{PathFormat: cols[4], Duration: time.Duration(duration) * time.Millisecond,
				Timezone: cols[2], Locale: cols[3]},
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestJodaGolden checks Bucket and Folder against Joda-Time on every golden
// row, and that ParseFolder inverts Folder: always up to the folder, and to
// the bucket's start when the folder names that start's local time exactly.
func TestJodaGolden(t *testing.T) {
	rows := readJodaGolden(t)
	if len(rows) < 4000 {
		t.Fatalf("golden.tsv has %d rows; regenerate it (testdata/joda/README.md)", len(rows))
	}
	partitioners := map[TimeConfig]*TimePartitioner{}
	exact := 0
	for _, r := range rows {
		p := partitioners[r.config]
		if p == nil {
			var err error
			if p, err = NewTimePartitioner(r.config); err != nil {
				t.Fatalf("golden.tsv:%d: NewTimePartitioner(%+v): %v", r.line, r.config, err)
			}
			partitioners[r.config] = p
		}
		ts := time.UnixMilli(r.ts)
		where := "golden.tsv:" + strconv.Itoa(r.line)
		bucket := p.Bucket(ts)
		if bucket.UnixMilli() != r.bucketMs || bucket.Location() != time.UTC {
			t.Errorf("%s: Bucket(%d) = %d (%v), Joda %d", where, r.ts, bucket.UnixMilli(), bucket, r.bucketMs)
			continue
		}
		if got := p.Folder(ts); got != r.folder {
			t.Errorf("%s: Folder(%d) = %q, Joda %q", where, r.ts, got, r.folder)
			continue
		}
		if bucket.In(p.zone.loc).Year() < 1 && !strings.ContainsAny(r.config.PathFormat, "Gy") {
			continue // YYYY without G reads as AD; Kafka has no timestamps before 1970
		}
		parsed, err := p.ParseFolder(r.folder)
		if err != nil {
			t.Errorf("%s: ParseFolder(%q): %v", where, r.folder, err)
			continue
		}
		if namesStart(p, bucket) {
			exact++
			if !parsed.Equal(bucket) {
				t.Errorf("%s: ParseFolder(%q) = %v, want the bucket start %v", where, r.folder, parsed, bucket)
			}
		}
	}
	t.Logf("%d golden rows, %d with ParseFolder == Bucket", len(rows), exact)
	// The Hourly and Daily rows alone make more than this.
	if exact < 2000 {
		t.Errorf("only %d rows checked ParseFolder == Bucket", exact)
	}
}

// namesStart reports whether the folder of a bucket starting at start prints
// that start's local time down to nothing, so that the folder names it alone.
func namesStart(p *TimePartitioner, start time.Time) bool {
	res := p.format.resolution()
	if res == 0 {
		return false
	}
	local := start.In(p.zone.loc)
	wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(),
		local.Nanosecond(), time.UTC)
	return wall.Equal(wall.Truncate(res))
}

// TestJodaResolution pins what namesStart relies on for the formats Confluent ships.
func TestJodaResolution(t *testing.T) {
	for pattern, want := range map[string]time.Duration{
		HourlyPathFormat:                   time.Hour,
		DailyPathFormat:                    24 * time.Hour,
		"yy/D/HH":                          time.Hour,
		"'year'=YYYY/'month'=MMM":          0,
		"yyyy-MM-dd'T'HH:mm ZZ":            time.Minute,
		"yyyy-MM-dd hh:mm a":               time.Minute,
		"yyyy-MM-dd hh:mm":                 24 * time.Hour,
		"xxxx-'W'ww-e":                     24 * time.Hour,
		"YYYY-MM-dd HH:mm:ss.SSS ZZ e D w": time.Millisecond,
		"YYYY-MM-dd HH:mm:ss.SS":           time.Second,
	} {
		p, err := NewTimePartitioner(TimeConfig{PathFormat: pattern, Duration: time.Hour, Timezone: "UTC", Locale: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.format.resolution(); got != want {
			t.Errorf("resolution(%q) = %v, want %v", pattern, got, want)
		}
	}
}
