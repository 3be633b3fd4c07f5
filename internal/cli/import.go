package cli

import (
	"context"
	"time"

	"gocloud.dev/blob"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/metrics"
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
	group             string
	atLeastOnce       bool
	shard             string
	follow            bool
	pollInterval      time.Duration
	holeWait          time.Duration
	shutdownTimeout   time.Duration
	metricsAddr       string
	deleteImported    bool
	contiguous        bool
	registry          registryFlags
	sourceRegistry    registryFlags
	partitioner       partitionerFlags
}

func newImportCmd(g *globals) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import --from URL --brokers B [--rename 'REGEX=REPLACEMENT']",
		Short: "Write a bucket in the Confluent S3 Sink layout back into Kafka",
		Long:  importLong + envHelp,
		Example: `  kferry import --from s3://bucket/backup?region=eu-west-1 --brokers localhost:9092 \
      --rename 'source-topic-(\d+)=sink-topic-$1'
  kferry import --from file:///tmp/out --brokers b:9092 --files 'orders:.*\.json\.gz'
  kferry import --follow --poll-interval 1s --shard 0/2 --from s3://bucket/live?region=eu-west-1 \
      --brokers b:9092 --metrics-addr 127.0.0.1:9465     # and --shard 1/2 elsewhere`,
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
	o.addFlags(cmd.Flags())
	return cmd
}

func runImport(ctx context.Context, g *globals, o *importOptions) error {
	log, cfg, sel, err := g.preamble(&o.kafka, &o.sel)
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
	shard, err := pipeline.ParseShard(o.shard)
	if err != nil {
		return usageErrorf("--shard: %v", err)
	}
	if !o.follow && o.metricsAddr != "" {
		return usageErrorf("--metrics-addr needs --follow")
	}
	if o.pollInterval <= 0 || o.shutdownTimeout <= 0 {
		return usageErrorf("--poll-interval and --shutdown-timeout must be positive")
	}
	if err := firstErr(checkParallelism(o.parallelism), checkNotNegative("--hole-wait", o.holeWait), checkTopicsDir(o.topicsDir)); err != nil {
		return err
	}
	objLayout, err := o.partitioner.layout()
	if err != nil {
		return err
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	if err := o.report.refuseFollow(o.follow); err != nil {
		return err
	}
	// The registry client is checked here but connects only when used.
	if ctx, err = o.registry.bind(ctx, renames, &o.sourceRegistry); err != nil {
		return err
	}
	b, kc, release, err := connect(ctx, o.from, openBucket, cfg)
	if err != nil {
		return err
	}
	defer release()
	group := o.group
	if group == "" {
		group = pipeline.ImportGroup(store.Redact(o.from), o.topicsDir, sel, o.files, o.renames)
	}
	iopts := pipeline.ImportOptions{
		Selector: sel, Files: files, Renames: renames, TopicsDir: o.topicsDir, Layout: objLayout, Strict: o.strict,
		CreateTopics: o.createTopics, ReplicationFactor: int16(o.replicationFactor), Append: o.appendTo,
		Parallelism: o.parallelism, HoleWait: o.holeWait, Key: key, Producer: kafka.WriterOptions{Compression: o.compression},
		Group: group, AtLeastOnce: o.atLeastOnce, Shard: shard, Logger: log, DeleteImported: o.deleteImported,
		ContiguousOffsets: o.contiguous, DryRun: o.report.dryRun,
	}
	if o.follow {
		return runImportFollow(ctx, g, o, kc, b, iopts)
	}
	bar := g.newProgress("import")
	iopts.Progress = asProgress(bar)
	s, err := pipeline.Import(ctx, kc, b, store.Redact(o.from), iopts)
	bar.done(g)
	err = writerInterrupted(ctx, err, "import", s, o.atLeastOnce)
	return o.report.finish(g.stdout, s, err)
}

// runImportFollow is import --follow: it serves the metrics, if asked, and
// runs the continuous import until ctx ends (a signal).
func runImportFollow(ctx context.Context, g *globals, o *importOptions, kc *kafka.Client, b *blob.Bucket, io pipeline.ImportOptions) error {
	if o.metricsAddr != "" {
		m := metrics.NewImport()
		stop, err := serveMetrics(o.metricsAddr, m.Handler(), io.Logger)
		if err != nil {
			return err
		}
		defer stop()
		io.Metrics = m
	}
	s, err := pipeline.ImportFollow(ctx, kc, b, store.Redact(o.from), pipeline.ImportFollowOptions{
		ImportOptions: io, PollInterval: o.pollInterval, ShutdownTimeout: o.shutdownTimeout,
	})
	return o.report.finish(g.stdout, s, err)
}

// importLong is the help text of kferry import.
const importLong = `import lists the bucket, parses Confluent object names (any offset pad, .gz),
and writes each source partition's records in offset order into the same
partition number of the target topic, with keys and headers where their .keys
and .headers objects exist. Target topics are checked (partition count, empty)
and created if missing before any record is written. Objects in the folders of
a field or time partitioner are found with the export's --partitioner settings.

A bucket that holds kferry backups (manifests under _kferry/backups/) is
refused: restore it with kferry restore, which follows deleted and recreated
topics (lineages) and checks every object.

Exactly once: each object's records are written in one Kafka transaction
together with the import's progress, the next source offset, committed to the
progress group on the target (--group, default kferry-import-<hash of bucket
URL, topics dir, selection, --files and renames>). An import killed at any
moment and run again resumes after the last committed object and writes every
record once; a rerun of a finished import writes nothing. A target partition
that holds records is refused unless the progress group shows this import wrote
them (or --append). Readers of the target should use isolation.level=
read_committed. --at-least-once drops the transactions (plain idempotent
produce, progress committed after the records): a rerun may then write some
records twice.

With --follow, import keeps running: every --poll-interval (default 10s) it
lists the bucket and imports new objects in order per partition. An object
that appears below a partition's progress is skipped with a warning; one that
starts past it leaves a hole that is waited on (unless nothing of the partition
was imported yet) for --hole-wait, after which the hole is taken for offsets
that never held records (transaction markers, compaction) and import goes on. SIGTERM or SIGINT finish the transaction in flight and exit
0 within --shutdown-timeout. --metrics-addr serves Prometheus /metrics
(kferry_import_* records, bytes, objects, lag in objects and records per
partition), /healthz and /readyz.

--shard I/N splits the work statically (e.g. a Kubernetes Indexed Job): the
source partition (topic, p) belongs to shard FNV-1a("topic\x00p") mod N. Start N
copies with shards 0/N … N-1/N and the same --group; each partition is then
imported by exactly one of them. Restart a copy with its own shard, and never
run two copies of one shard at once (both could import the same object).

Objects of one partition may overlap (exports with different rotations into
one bucket). kferry's export writes, beside each JSON or bytes object, an
offsets record (_kferry/offsets/…) that lists its records' offsets, so import
skips exactly the records it already wrote. Objects without one (the
Confluent connector, older kferry) are counted from their start offset, which
is exact only where the topic had no transactions and no compaction: such an
object that overlaps another is refused, naming both, unless
--contiguous-offsets states that the topic had neither.

--rename follows Kafka Connect's RegexRouter: the regex must match the whole
topic; the replacement uses Java syntax ($1, ${name}, \$ for a dollar).
--files takes Confluent's topic.regex.list: 'topic:regex,...' on object names.

Exit status: 0 done, 1 failed, 2 usage error.`

func (o *importOptions) addFlags(fs *pflag.FlagSet) {
	o.registry.addFlags(fs, "", "the target's: .avro objects' schemas, and with --source-schema-registry the schemas of wire-format records, are registered in it under <topic>-value")
	o.sourceRegistry.addFlags(fs, "source-", "the source cluster's: rewrite the schema ids of wire-format keys and values in json, bytes and native objects to the target's")
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
	o.partitioner.addFlags(fs, false)
	fs.IntVar(&o.parallelism, "parallelism", 0, "writers at once: transactional slots, each a share of the partitions (default: 2 × CPUs, at least 8); with --follow, partitions (default: 2 × CPUs)")
	fs.StringVar(&o.compression, "produce-compression", "none", "compression of produced batches: none, gzip, snappy, lz4, zstd")
	fs.StringVar(&o.group, "group", "", "progress group on the target (default: kferry-import-<hash of bucket URL, topics dir, selection, --files and renames>)")
	fs.BoolVar(&o.atLeastOnce, "at-least-once", false, "no transactions: produce idempotently and commit the progress after the records (a rerun may write records twice)")
	fs.StringVar(&o.shard, "shard", "", "import only the partitions of shard I/N (FNV-1a of topic and partition mod N); run N copies with the same --group")
	fs.BoolVar(&o.follow, "follow", false, "keep importing new objects as they appear in the bucket")
	fs.DurationVar(&o.pollInterval, "poll-interval", pipeline.DefaultPollInterval, "with --follow: how often to list the bucket")
	fs.DurationVar(&o.holeWait, "hole-wait", pipeline.DefaultHoleWait, "with --follow: how long to wait for a missing object at an offset hole before going past it")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "with --follow: how long SIGTERM/SIGINT may take to finish the transaction in flight")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "with --follow: serve Prometheus /metrics, /healthz and /readyz on host:port (e.g. 127.0.0.1:9465)")
	fs.BoolVar(&o.contiguous, "contiguous-offsets", false, "the source topics had no transactions and no compaction: records of objects without an offsets record are at start offset + index, so their overlaps can be skipped exactly")
	fs.BoolVar(&o.deleteImported, "delete-imported", false, "delete each object (and its .keys/.headers) once its records and the progress are committed: a staging bucket that does not grow")
}
