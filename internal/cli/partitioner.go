package cli

import (
	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
)

// partitionerFlags are the Confluent S3 Sink's partitioner settings: export
// writes objects in their folders, import finds objects in them.
type partitionerFlags struct {
	cfg pipeline.PartitionerConfig
}

// addFlags adds the flags; writer says whether the command writes objects
// (export: the timestamp source matters) or only finds them (import).
func (f *partitionerFlags) addFlags(fs *pflag.FlagSet, writer bool) {
	fs.StringVar(&f.cfg.Kind, "partitioner", "default", "object folders (partitioner.class): default (partition=<p>), field (--partition-field), time (--path-format, --partition-duration), hourly or daily")
	fs.StringSliceVar(&f.cfg.Fields, "partition-field", nil, "field partitioner: top-level fields of the JSON value, one folder level each (partition.field.name)")
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
func (f *partitionerFlags) writer() (pipeline.FolderFunc, error) {
	fn, _, err := f.cfg.Partitioner()
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return fn, nil
}

// layout returns what import needs: the folders to find objects in.
func (f *partitionerFlags) layout() (layout.Layout, error) {
	_, l, err := f.cfg.Partitioner()
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return l, nil
}
