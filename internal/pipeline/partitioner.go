package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
// partitioner) and the layout import finds such objects with.
func (c PartitionerConfig) Partitioner() (FolderFunc, layout.Layout, error) {
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
		fields := c.Fields
		return func(rec *record.Record) (string, error) {
			values := make([]any, len(fields))
			for i, f := range fields {
				v, err := valueField(rec, f)
				if err != nil {
					return "", err
				}
				values[i] = v
			}
			return layout.FieldFolder(fields, values)
		}, layout.FieldLayout{Names: fields}, nil
	case "time", "hourly", "daily":
		if len(c.Fields) > 0 {
			return nil, nil, fmt.Errorf("--partition-field is for --partitioner field, not %s", c.Kind)
		}
		if c.Kind != "time" && timeSet {
			return nil, nil, fmt.Errorf("--partitioner %s fixes --path-format and --partition-duration: use --partitioner time to choose them", c.Kind)
		}
		return c.timePartitioner()
	}
	return nil, nil, fmt.Errorf("--partitioner %q: want default, field, time, hourly or daily", c.Kind)
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
	var at func(rec *record.Record) (time.Time, error)
	switch c.Timestamp {
	case "", "record":
		at = func(rec *record.Record) (time.Time, error) { return rec.Timestamp, nil }
	case "wallclock":
		at = func(*record.Record) (time.Time, error) { return time.Now(), nil }
	case "field":
		field := c.TimestampField
		if field == "" {
			field = "timestamp" // Confluent's timestamp.field default
		}
		at = func(rec *record.Record) (time.Time, error) { return fieldTime(rec, field) }
	default:
		return nil, nil, fmt.Errorf("--timestamp %q: want record, field or wallclock", c.Timestamp)
	}
	return func(rec *record.Record) (string, error) {
		ts, err := at(rec)
		if err != nil {
			return "", err
		}
		return tp.Folder(ts), nil
	}, timeLayout{tp}, nil
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
		return nil, fmt.Errorf("%s/%d offset %d: the value is not a JSON object, which field %q needs", rec.Topic, rec.Partition, rec.Offset, name)
	}
	path := strings.Split(name, ".")
	var v any = obj
	for i, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s/%d offset %d: %q is not an object, field %q has no value", rec.Topic, rec.Partition, rec.Offset, strings.Join(path[:i], "."), name)
		}
		if v, ok = m[p]; !ok {
			return nil, fmt.Errorf("%s/%d offset %d: the value has no field %q", rec.Topic, rec.Partition, rec.Offset, name)
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
		return time.Time{}, fmt.Errorf("%s/%d offset %d: field %q is %v, not milliseconds since 1970 or an ISO-8601 time", rec.Topic, rec.Partition, rec.Offset, name, v)
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
