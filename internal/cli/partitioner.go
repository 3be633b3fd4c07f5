package cli

import (
	"cmp"

	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
)

// partitionerFlags are the Confluent S3 Sink's partitioner settings: export
// writes objects in their folders, import finds objects in them.
type partitionerFlags struct {
	cfg pipeline.PartitionerConfig
	fs  *pflag.FlagSet
}

// addFlags adds the flags; writer says whether the command writes objects
// (export: the timestamp source matters) or only finds them (import).
func (f *partitionerFlags) addFlags(fs *pflag.FlagSet, writer bool) {
	f.fs = fs
	fs.StringVar(&f.cfg.Kind, "partitioner", "default", "object folders (partitioner.class): default (partition=<p>), field (--partition-field), time (--path-format, --partition-duration), hourly or daily")
	fs.StringSliceVar(&f.cfg.Fields, "partition-field", nil, "field partitioner: fields of the JSON value (dots for nested fields), one folder level each (partition.field.name)")
	fs.StringVar(&f.cfg.PathFormat, "path-format", "", "time partitioner: Joda-Time pattern of the folders (path.format), e.g. \"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH\"")
	fs.DurationVar(&f.cfg.Duration, "partition-duration", 0, "time partitioner: length of one folder's time range (partition.duration.ms), e.g. 1h")
	fs.StringVar(&f.cfg.Timezone, "timezone", "UTC", "time partitioner: zone the folders' times are in (timezone), e.g. Europe/Berlin")
	fs.StringVar(&f.cfg.Locale, "locale", "en", "time partitioner: language of month and day names in --path-format (locale)")
	if writer {
		fs.StringVar(&f.cfg.Timestamp, "timestamp", "record", "time partitioner: a record's time is its Kafka timestamp (record), a value field (field, see --timestamp-field) or the time of export (wallclock: a rerun writes other keys)")
		fs.StringVar(&f.cfg.TimestampField, "timestamp-field", "timestamp", "--timestamp field: the value field (dots for nested fields) holding milliseconds or an ISO-8601 time (timestamp.field)")
	}
}

// writer returns what export needs: the folder of each record (nil for the
// default partitioner).
func (f *partitionerFlags) writer(valueFormat string) (pipeline.FolderFunc, error) {
	if err := f.unused(); err != nil {
		return nil, err
	}
	readsValues := f.cfg.Kind == "field" || (f.cfg.Timestamp == "field" && f.cfg.Kind != "default")
	if readsValues && (valueFormat == "avro" || valueFormat == "parquet") {
		return nil, usageErrorf("--partitioner field and --timestamp field read JSON values; with --format %s, use a time partitioner on the record timestamp", valueFormat)
	}
	fn, _, err := f.cfg.Partitioner()
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return fn, nil
}

// layout returns what import needs: the folders to find objects in.
func (f *partitionerFlags) layout() (layout.Layout, error) {
	if err := f.unused(); err != nil {
		return nil, err
	}
	_, l, err := f.cfg.ForImport().Partitioner()
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return l, nil
}

// unused refuses settings given for a partitioner other than the chosen one:
// ignoring them would write (or look for) other folders than the user meant.
func (f *partitionerFlags) unused() error {
	timeFlags := []string{"timezone", "locale", "timestamp", "timestamp-field"}
	switch f.cfg.Kind {
	case "time", "hourly", "daily":
		if f.changed("timestamp-field") && f.cfg.Timestamp != "field" {
			return usageErrorf("--timestamp-field needs --timestamp field")
		}
		return nil
	case "default", "field", "":
		for _, name := range timeFlags {
			if f.changed(name) {
				return usageErrorf("--%s is for the time partitioners (--partitioner time, hourly or daily), not %s", name, cmp.Or(f.cfg.Kind, "default"))
			}
		}
	}
	return nil
}

func (f *partitionerFlags) changed(name string) bool {
	fl := f.fs.Lookup(name)
	return fl != nil && fl.Changed
}
