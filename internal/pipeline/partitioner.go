package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// PartitionerConfig chooses the folders of exported objects, as the Confluent
// S3 Sink's partitioner.class and its settings do (docs/user-guide.md lists
// them). The zero config is the default partitioner: partition=<p>.
type PartitionerConfig struct {
	// Kind is "default", "field", "time", "hourly" or "daily".
	Kind string
	// Fields are the top-level value fields of the field partitioner
	// (partition.field.name).
	Fields []string
	// Time-based: path.format, partition.duration.ms, timezone (default
	// UTC), locale (default en); hourly and daily fix the first two.
	PathFormat string
	Duration   time.Duration
	Timezone   string
	Locale     string
	// Timestamp is where a record's time comes from: "record" (its Kafka
	// timestamp, the default here), "field" (TimestampField of its value) or
	// "wallclock" (the time it is exported: Confluent's default, but a rerun
	// then writes other keys).
	Timestamp      string
	TimestampField string
}

// FolderFunc names the folder (encoded partition) of a record's object.
type FolderFunc func(rec *record.Record) (string, error)

// Partitioner returns the folder of each record (nil for the default
// partitioner) and the layout import finds such objects with. Every folder
// it returns is one the layout finds: a folder import would skip (a field
// value holding "/" or "..", a pattern that cannot be read back) stops the
// export at its record instead of leaving an object behind.
func (c PartitionerConfig) Partitioner() (FolderFunc, layout.Layout, error) {
	fn, l, err := c.partitioner()
	if err != nil || fn == nil {
		return fn, l, err
	}
	return checkedFolders(fn, l), l, nil
}

// ForImport is the config import finds objects with: the duration does not
// change which folders a pattern prints, so import does not need it.
func (c PartitionerConfig) ForImport() PartitionerConfig {
	if c.Kind == "time" && c.Duration == 0 {
		c.Duration = time.Hour
	}
	return c
}

func (c PartitionerConfig) partitioner() (FolderFunc, layout.Layout, error) {
	timeSet := c.PathFormat != "" || c.Duration != 0
	switch c.Kind {
	case "", "default":
		if len(c.Fields) > 0 || timeSet {
			return nil, nil, errors.New("--partition-field, --path-format and --partition-duration need --partitioner field, time, hourly or daily")
		}
		return nil, layout.DefaultLayout{}, nil
	case "field":
		if len(c.Fields) == 0 {
			return nil, nil, errors.New("--partitioner field needs --partition-field NAME[,NAME…]")
		}
		if timeSet {
			return nil, nil, errors.New("--path-format and --partition-duration are for --partitioner time, not field")
		}
		return fieldFolders(c.Fields), layout.FieldLayout{Names: c.Fields}, nil
	case "time", "hourly", "daily":
		if len(c.Fields) > 0 {
			return nil, nil, fmt.Errorf("--partition-field is for --partitioner field, not %s", c.Kind)
		}
		if c.Kind != "time" && timeSet {
			return nil, nil, fmt.Errorf("--partitioner %s fixes --path-format and --partition-duration: use --partitioner time to choose them", c.Kind)
		}
		if c.Kind == "time" && (c.PathFormat == "" || c.Duration == 0) {
			return nil, nil, errors.New("--partitioner time needs --path-format (e.g. \"'dt'=YYYY-MM-dd\") and --partition-duration (e.g. 24h)")
		}
		return c.timePartitioner()
	}
	return nil, nil, fmt.Errorf("--partitioner %q: want default, field, time, hourly or daily", c.Kind)
}

func fieldFolders(fields []string) FolderFunc {
	return func(rec *record.Record) (string, error) {
		values := make([]any, len(fields))
		for i, f := range fields {
			v, err := valueField(rec, f)
			if err != nil {
				return "", err
			}
			values[i] = v
		}
		folder, err := layout.FieldFolder(fields, values)
		if err != nil {
			return "", fmt.Errorf("offset %d: %w", rec.Offset, err)
		}
		return folder, nil
	}
}

// checkedFolders refuses a folder its layout would not find. Records of one
// folder come together, so a folder just checked is not checked again; the
// partitions' readers call this at once, and the field and time layouts do
// not depend on the partition.
func checkedFolders(fn FolderFunc, l layout.Layout) FolderFunc {
	var last atomic.Pointer[string]
	return func(rec *record.Record) (string, error) {
		folder, err := fn(rec)
		if err != nil {
			return "", err
		}
		if p := last.Load(); p != nil && *p == folder {
			return folder, nil
		}
		if err := checkFolder(l, rec.Partition, folder); err != nil {
			return "", fmt.Errorf("offset %d: folder %q: %w; import could not find its object (change the field's values or the --partitioner settings)", rec.Offset, folder, err)
		}
		last.Store(&folder)
		return folder, nil
	}
}

// checkFolder is what ParseIn checks of a folder: path segments that name a
// folder and stay in it, and a folder the layout reads.
func checkFolder(l layout.Layout, p int32, folder string) error {
	if folder == "tombstone" {
		return errors.New("the name of Confluent's tombstone folder")
	}
	for _, seg := range strings.Split(folder, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path segment %q", seg)
		}
	}
	return l.CheckFolder(p, folder)
}

func (c PartitionerConfig) timePartitioner() (FolderFunc, layout.Layout, error) {
	tc := layout.TimeConfig{PathFormat: c.PathFormat, Duration: c.Duration, Timezone: cmp.Or(c.Timezone, "UTC"), Locale: cmp.Or(c.Locale, "en")}
	switch c.Kind {
	case "hourly":
		tc.PathFormat, tc.Duration = layout.HourlyPathFormat, time.Hour
	case "daily":
		tc.PathFormat, tc.Duration = layout.DailyPathFormat, 24*time.Hour
	}
	tp, err := layout.NewTimePartitioner(tc)
	if err != nil {
		return nil, nil, err
	}
	l := timeLayout{tp}
	if err := readsBack(tp, l); err != nil {
		return nil, nil, fmt.Errorf("--path-format %q: %w", tc.PathFormat, err)
	}
	at, err := c.timestamp()
	if err != nil {
		return nil, nil, err
	}
	return func(rec *record.Record) (string, error) {
		ts, err := at(rec)
		if err != nil {
			return "", err
		}
		return tp.Folder(ts), nil
	}, l, nil
}

// readsBack refuses a path format whose folders import cannot find: one that
// does not pin its date down (a weekday without the day of the month, a week
// without its week-year) prints folders ParseFolder cannot read back. Checked
// on every 7 hours of two years, DST changes and year ends included.
func readsBack(tp *layout.TimePartitioner, l layout.Layout) error {
	for ts := time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC); ts.Year() < 2028; ts = ts.Add(7 * time.Hour) {
		folder := tp.Folder(ts)
		if err := checkFolder(l, 0, folder); err != nil {
			return fmt.Errorf("import could not find its folders (%s for %s: %w); a pattern must name the date it stands for (year with month and day, or week-year with week and weekday)", folder, ts.Format(time.RFC3339), err)
		}
	}
	return nil
}

// timestamp is where the time partitioner reads a record's time.
func (c PartitionerConfig) timestamp() (func(rec *record.Record) (time.Time, error), error) {
	switch c.Timestamp {
	case "", "record":
		return func(rec *record.Record) (time.Time, error) {
			if rec.Timestamp.UnixMilli() < 0 {
				return time.Time{}, fmt.Errorf("offset %d has no timestamp (%d); use --timestamp field or wallclock", rec.Offset, rec.Timestamp.UnixMilli())
			}
			return rec.Timestamp, nil
		}, nil
	case "wallclock":
		return func(*record.Record) (time.Time, error) { return time.Now(), nil }, nil
	case "field":
		field := c.TimestampField
		if field == "" {
			field = "timestamp" // Confluent's timestamp.field default
		}
		return func(rec *record.Record) (time.Time, error) { return fieldTime(rec, field) }, nil
	}
	return nil, fmt.Errorf("--timestamp %q: want record, field or wallclock", c.Timestamp)
}

// timeLayout finds the objects of a time partitioner: folders its path
// format prints.
type timeLayout struct{ tp *layout.TimePartitioner }

func (l timeLayout) CheckFolder(_ int32, folder string) error {
	_, err := l.tp.ParseFolder(folder)
	return err
}

func (l timeLayout) String() string { return "time partitioner: <topic>/<path format>/<file>" }

// valueField is a top-level field of the record's JSON value (dots name
// nested fields, as Confluent's timestamp.field does).
func valueField(rec *record.Record, name string) (any, error) {
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader(rec.Value))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("offset %d: the value is not a JSON object, which field %q needs (field partitioning and --timestamp field read JSON values)", rec.Offset, name)
	}
	path := strings.Split(name, ".")
	var v any = obj
	for i, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("offset %d: %q is not an object, so field %q has no value", rec.Offset, strings.Join(path[:i], "."), name)
		}
		if v, ok = m[p]; !ok {
			return nil, fmt.Errorf("offset %d: the value has no field %q: every record needs it", rec.Offset, name)
		}
	}
	return v, nil
}

// fieldTime reads a record's time from a value field as Confluent's
// RecordFieldTimestampExtractor does: a number of milliseconds, a string of
// digits (milliseconds) or an ISO-8601 time.
func fieldTime(rec *record.Record, name string) (time.Time, error) {
	v, err := valueField(rec, name)
	if err != nil {
		return time.Time{}, err
	}
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("offset %d: field %q is %v, not milliseconds since 1970 or an ISO-8601 time with its zone", rec.Offset, name, v)
	}
	switch t := v.(type) {
	case json.Number:
		ms, err := t.Int64()
		if err != nil {
			return bad()
		}
		return time.UnixMilli(ms), nil
	case string:
		if ms, err := strconv.ParseInt(t, 10, 64); err == nil {
			return time.UnixMilli(ms), nil
		}
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return ts, nil
		}
	}
	return bad()
}
