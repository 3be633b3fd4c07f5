package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/store"
)

type importOptions struct {
	key               keyFlags
	kafka             kafkaFlags
	sel               selectFlags
	report            reportFlags
	from              string
	files             string
	renames           []string
	createTopics      bool
	replicationFactor int
	appendTo          bool
	strict            bool
	topicsDir         string
	parallelism       int
	compression       string
}

func newImportCmd(g *globals) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import --from URL --brokers B [--rename 'REGEX=REPLACEMENT']",
		Short: "Write a bucket in the Confluent S3 Sink layout back into Kafka",
		Long: `import lists the bucket, parses Confluent object names (any offset pad, .gz),
and writes each source partition's records in offset order into the same
partition number of the target topic, with keys and headers where their .keys
and .headers objects exist. Target topics are checked (partition count, empty)
and created if missing before any record is written. Produce is idempotent with
acks=all.

--rename follows Kafka Connect's RegexRouter: the regex must match the whole
topic; the replacement uses Java syntax ($1, ${name}, \$ for a dollar).
--files takes Confluent's topic.regex.list: 'topic:regex,...' on object names.

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry import --from s3://bucket/backup?region=eu-west-1 --brokers localhost:9092 \
      --rename 'source-topic-(\d+)=sink-topic-$1'
  kferry import --from file:///tmp/out --brokers b:9092 --files 'orders:.*\.json\.gz'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), map[string]string{"brokers": "SINK_KAFKA_BOOTSTRAP_SEVERS", "files": "TOPIC_REGEX_LIST"}); err != nil {
				return err
			}
			if len(o.renames) == 0 {
				if re, repl := lookupEnv("SOURCE_TOPICS_REGEX"), lookupEnv("SINK_TOPICS_REPLACEMENT"); re != "" && repl != "" {
					o.renames = []string{re + "=" + repl}
				}
			}
			if o.from == "" {
				o.from = recipeBucket()
			}
			return runImport(cmd.Context(), g, o)
		},
	}
	fs := cmd.Flags()
	o.kafka.addFlags(fs)
	o.key.addFlags(fs)
	o.sel.addFlags(fs)
	o.report.addFlags(fs)
	fs.StringVar(&o.from, "from", "", "bucket URL to read (as for export --to)")
	fs.StringVar(&o.files, "files", "", "per-topic object filters 'topic:regex,...' (topic.regex.list); only the listed topics are imported")
	fs.StringArrayVar(&o.renames, "rename", nil, "rename topics 'REGEX=REPLACEMENT' (RegexRouter semantics); repeatable, first match wins")
	fs.BoolVar(&o.createTopics, "create-topics", true, "create missing target topics with the source's partition count")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "replication factor of created topics (-1: the broker's default)")
	fs.BoolVar(&o.appendTo, "append", false, "allow target topics that already hold records")
	fs.BoolVar(&o.strict, "strict", false, "fail on keys under the topics folder that are not object names (default: warn and skip)")
	fs.StringVar(&o.topicsDir, "topics-dir", layout.DefaultTopicsDir, "top folder of the objects (topics.dir)")
	fs.IntVar(&o.parallelism, "parallelism", 0, "partitions imported at once (default: 2 × CPUs)")
	fs.StringVar(&o.compression, "produce-compression", "none", "compression of produced batches: none, gzip, snappy, lz4, zstd")
	return cmd
}

func runImport(ctx context.Context, g *globals, o *importOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := o.kafka.config()
	if err != nil {
		return err
	}
	sel, err := o.sel.selector()
	if err != nil {
		return err
	}
	files, err := layout.ParseFileFilters(o.files)
	if err != nil {
		return usageErrorf("--files: %v", err)
	}
	renames, err := layout.ParseRenames(o.renames)
	if err != nil {
		return usageErrorf("--rename: %v", err)
	}
	if o.from == "" {
		return usageErrorf("--from is required: the bucket URL to read")
	}
	if o.replicationFactor < -1 || o.replicationFactor == 0 || o.replicationFactor > 32767 {
		return usageErrorf("--replication-factor must be -1 or a positive number")
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	b, kc, release, err := connect(ctx, o.from, openBucket, cfg)
	if err != nil {
		return err
	}
	defer release()
	bar := newProgress(g.stderr, "import", -1)
	s, err := pipeline.Import(ctx, kc, b, store.Redact(o.from), pipeline.ImportOptions{
		Selector: sel, Files: files, Renames: renames, TopicsDir: o.topicsDir, Strict: o.strict,
		CreateTopics: o.createTopics, ReplicationFactor: int16(o.replicationFactor), Append: o.appendTo,
		Parallelism: o.parallelism, Key: key, Producer: kafka.WriterOptions{Compression: o.compression},
		Progress: asProgress(bar), Logger: log,
	})
	bar.done()
	return o.report.finish(g.stdout, s, err)
}
