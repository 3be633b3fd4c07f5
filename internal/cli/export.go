package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/format/parquetfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/store"
)

type exportOptions struct {
	key            keyFlags
	kafka          kafkaFlags
	sel            selectFlags
	report         reportFlags
	to             string
	format         string
	keysFormat     string
	headersFormat  string
	storeKeys      bool
	storeHeaders   bool
	flushSize      int
	rotateBytes    string
	rotateInterval time.Duration
	compression    string
	pad            int
	topicsDir      string
	parallelism    int
	parquetCodec   string
	rowGroupSize   string
	valueSchema    string
	shard          string
	follow         followFlags
	store          storeFlags
	registry       registryFlags
	partitioner    partitionerFlags
}

func newExportCmd(g *globals) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --brokers B (--topics a,b | --topic-regex RE) --to URL",
		Short: "Copy topics to a bucket in the Confluent S3 Sink layout (one-shot, or continuously with --follow)",
		Long: `export reads every selected partition from its start up to the end offset captured
when it starts (read_committed), and writes objects named as Confluent's S3 Sink
does: topics/<topic>/partition=<p>/<topic>+<p>+<startOffset>.<ext>, or with
--partitioner field|time|hourly|daily in the folders of Confluent's other
partitioners (topics/<topic>/year=2026/month=11/day=30/hour=18/…).

Objects become visible only when complete, and their names depend only on the
offsets, so a rerun after a failure rewrites the same objects.
` + followHelp + `

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry export --brokers localhost:9092 --topics orders --to s3://bucket/backup?region=eu-west-1
  kferry export --brokers b:9092 --topic-regex 'source-topic-\d' --to file:///tmp/out \
      --format json --store-keys --store-headers --flush-size 1000 --compression gzip
  kferry export --follow --brokers b:9092 --topic-regex 'orders-.*' --to s3://bucket/live?region=eu-west-1 \
      --rotate-interval 5s --metrics-addr 127.0.0.1:9464     # run N copies to share the partitions`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), map[string]string{"brokers": "SOURCE_KAFKA_BOOTSTRAP_SEVERS", "topics": "SOURCE_TOPICS_LIST"}); err != nil {
				return err
			}
			if o.to == "" {
				o.to = recipeBucket()
			}
			o.follow.intervalSet = cmd.Flags().Changed("rotate-interval")
			return runExport(cmd.Context(), g, o)
		},
	}
	fs := cmd.Flags()
	o.kafka.addFlags(fs)
	o.key.addFlags(fs)
	o.sel.addFlags(fs)
	o.report.addFlags(fs)
	o.follow.addFlags(fs)
	o.store.addFlags(fs)
	o.partitioner.addFlags(fs, true)
	fs.StringVar(&o.to, "to", "", "bucket URL: s3://bucket/prefix?region=R[&endpoint=URL&use_path_style=true], gs://, azblob://, file:///dir or a local path")
	o.registry.addFlags(fs, "", "the source's, for --format avro; schemas are read by id")
	fs.StringVar(&o.registry.codec, "avro-codec", "null", "avro.codec of --format avro objects: null, deflate, snappy or zstd")
	fs.StringVar(&o.parquetCodec, "parquet-codec", "snappy", "compression of --format parquet objects (parquet.codec): none, snappy, gzip, brotli or zstd")
	fs.StringVar(&o.valueSchema, "value-schema", "", "--format parquet with plain JSON values (no registry): the Avro record schema FILE to write them with, or 'infer' (each object's schema from its first record, logged); such objects import as JSON")
	fs.StringVar(&o.rowGroupSize, "parquet-row-group-size", "8MiB", "--format parquet: write a row group once its records reach this many (Avro) bytes; memory holds one per partition exported at once")
	fs.StringVar(&o.format, "format", "json", "value format: json (Confluent JsonFormat), bytes (ByteArrayFormat), avro (AvroFormat), parquet (ParquetFormat) or native (kferry's own: keys, values, headers, timestamps and offsets in one .kfr object, as backup writes); avro and parquet take records in the Schema Registry wire format and need --schema-registry")
	fs.StringVar(&o.keysFormat, "keys-format", "", "format of the .keys objects (default: the value format)")
	fs.StringVar(&o.headersFormat, "headers-format", "json", "format of the .headers objects")
	fs.BoolVar(&o.storeKeys, "store-keys", false, "also write record keys to parallel .keys objects (store.kafka.keys)")
	fs.BoolVar(&o.storeHeaders, "store-headers", false, "also write record headers to parallel .headers objects (store.kafka.headers)")
	fs.IntVar(&o.flushSize, "flush-size", 0, "records per object (flush.size); 0: no limit")
	fs.StringVar(&o.rotateBytes, "rotate-bytes", "64MiB", "start a new object after this many uncompressed bytes; 0: no limit")
	fs.DurationVar(&o.rotateInterval, "rotate-interval", 0, "start a new object when a record's timestamp is this far after the object's first (rotate.interval.ms); with --follow: wall-clock time since the object's first record arrived (default 10s)")
	fs.StringVar(&o.compression, "compression", "none", "object compression: none or gzip (s3.compression.type)")
	fs.IntVar(&o.pad, "offset-pad", layout.DefaultPad, "zero-pad width of offsets in object names (filename.offset.zero.pad.width)")
	fs.StringVar(&o.topicsDir, "topics-dir", layout.DefaultTopicsDir, "top folder of the objects (topics.dir)")
	fs.IntVar(&o.parallelism, "parallelism", 0, "partitions exported at once (default: 2 × CPUs)")
	fs.StringVar(&o.shard, "shard", "", "one-shot: export only the partitions of shard I/N (FNV-1a of topic and partition mod N), e.g. from a Kubernetes Indexed Job")
	return cmd
}

// recipeBucket builds a bucket URL from the Connect recipe's S3_BUCKET and REGION.
func recipeBucket() string {
	b := lookupEnv("S3_BUCKET")
	if b == "" {
		return ""
	}
	if r := lookupEnv("REGION"); r != "" {
		return "s3://" + b + "?region=" + r
	}
	return "s3://" + b
}

func runExport(ctx context.Context, g *globals, o *exportOptions) error {
	log, cfg, sel, err := g.preamble(&o.kafka, &o.sel)
	if err != nil {
		return err
	}
	if o.to == "" {
		return usageErrorf("--to is required: the bucket URL to write to")
	}
	rotateBytes, err := parseSize(o.rotateBytes)
	if err != nil {
		return usageErrorf("--rotate-bytes: %v", err)
	}
	gz, err := parseCompression(o.compression)
	if err != nil {
		return err
	}
	if o.flushSize < 0 || o.pad < 1 || o.pad > 19 {
		return usageErrorf("--flush-size must be ≥ 0 and --offset-pad between 1 and 19")
	}
	if err := firstErr(checkParallelism(o.parallelism), checkNotNegative("--rotate-interval", o.rotateInterval), checkTopicsDir(o.topicsDir)); err != nil {
		return err
	}
	if err := o.checkFormats(); err != nil {
		return err
	}
	folder, err := o.partitioner.writer(o.valueFormat())
	if err != nil {
		return err
	}
	shard, err := pipeline.ParseShard(o.shard)
	if err != nil {
		return usageErrorf("--shard: %v", err)
	}
	if o.shard != "" && o.follow.on {
		return usageErrorf("--shard is for one-shot exports; with --follow, run copies with the same --group")
	}
	if err := o.follow.check(); err != nil {
		return err
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	if err := o.report.refuseFollow(o.follow.on); err != nil {
		return err
	}
	o.store.dryRun = o.report.dryRun
	if ctx, err = o.bindFormats(ctx, log); err != nil {
		return err
	}
	b, kc, release, err := connect(ctx, o.to, o.store.openDestination, cfg)
	if err != nil {
		return err
	}
	defer release()
	eo := pipeline.ExportOptions{
		Selector: sel, Format: o.format, KeysFormat: o.keysFormat, HeadersFormat: o.headersFormat,
		StoreKeys: o.storeKeys, StoreHeaders: o.storeHeaders,
		Naming:    layout.Naming{TopicsDir: o.topicsDir, Pad: o.pad},
		FlushSize: o.flushSize, RotateBytes: rotateBytes, RotateInterval: o.rotateInterval, Folder: folder,
		Gzip: gz, Key: key, Parallelism: o.parallelism, Shard: shard, Logger: log, DryRun: o.report.dryRun,
	}
	if o.follow.on {
		return o.follow.run(ctx, g, o, kc, b, eo)
	}
	bar := g.newProgress("export")
	eo.Progress = asProgress(bar)
	s, err := pipeline.Export(ctx, kc, b, store.Redact(o.to), eo)
	bar.done(g)
	err = exportInterrupted(ctx, err, s)
	if err != nil && s.Objects > 0 && ctx.Err() == nil {
		err = fmt.Errorf("%w; the %d objects completed before the error are whole and a rerun rewrites them", err, s.Objects)
	}
	return o.report.finish(g.stdout, s, err)
}

// valueFormat is what the values are: the --format, except for parquet of
// plain JSON values (--value-schema), which the field partitioner can read.
func (o *exportOptions) valueFormat() string {
	if o.valueSchema != "" {
		return "json"
	}
	return o.format
}

// bindFormats binds the avro and parquet formats to the registry (checked
// here, connected only when used) and parquet to --value-schema.
func (o *exportOptions) bindFormats(ctx context.Context, log *slog.Logger) (context.Context, error) {
	ctx, err := o.registry.bind(ctx, nil, nil)
	if err != nil {
		return ctx, err
	}
	return o.bindParquet(ctx, log)
}

// parseCompression reads --compression: whether objects are gzipped.
func parseCompression(c string) (bool, error) {
	switch strings.ToLower(c) {
	case "none", "":
		return false, nil
	case "gzip":
		return true, nil
	}
	return false, usageErrorf("--compression %q: use none or gzip (Confluent compresses only json and bytes, with gzip)", c)
}

// bindParquet binds the parquet format to --parquet-codec and
// --parquet-row-group-size (a headers object needs no registry) and to
// --value-schema for plain JSON values, with the registry's avro format when
// there is one (for keys in the wire format).
func (o *exportOptions) bindParquet(ctx context.Context, log *slog.Logger) (context.Context, error) {
	af, err := format.LookupFor(ctx, "avro")
	if err != nil {
		return ctx, err
	}
	a, ok := af.(*avrofmt.Format)
	if !ok {
		return ctx, fmt.Errorf("the avro format is a %T", af)
	}
	pf, err := parquetfmt.New(a, o.parquetCodec, o.registry.rowGroupBytes)
	if err != nil {
		return ctx, usageErrorf("--parquet-codec: %v", err)
	}
	if o.valueSchema != "" {
		var text string
		if o.valueSchema != "infer" {
			b, err := os.ReadFile(o.valueSchema)
			if err != nil {
				return ctx, usageErrorf("--value-schema: %v", err)
			}
			text = string(b)
		}
		if pf, err = pf.WithJSONValues(text, log); err != nil {
			return ctx, usageErrorf("--value-schema %s: %v", o.valueSchema, err)
		}
	}
	return format.WithFormats(ctx, pf), nil
}

// checkFormats refuses unknown format names before anything is opened, so a typo
// is a usage error and not a failure after connecting.
func (o *exportOptions) checkFormats() error {
	for _, f := range []struct{ flag, name string }{{"--format", o.format}, {"--keys-format", o.keysFormat}, {"--headers-format", o.headersFormat}} {
		if f.name == "" {
			continue
		}
		if _, err := format.Lookup(f.name); err != nil {
			return usageErrorf("%s: %v", f.flag, err)
		}
	}
	keys := cmp.Or(o.keysFormat, o.format)
	if o.valueSchema != "" && o.format != "parquet" {
		return usageErrorf("--value-schema is for --format parquet (plain JSON values written as Parquet)")
	}
	for _, name := range []string{"avro", "parquet"} {
		jsonValues := name == "parquet" && o.valueSchema != ""
		if (o.format == name && !jsonValues || (o.storeKeys && keys == name && name == "avro")) && o.registry.cfg.URL == "" {
			return usageErrorf("--format %s needs --schema-registry URL (the source's Schema Registry, to read each record's schema by id)", name)
		}
	}
	if _, ok := avrofmt.Codecs[o.registry.codec]; !ok {
		return usageErrorf("--avro-codec %q: use null, deflate, snappy or zstd", o.registry.codec)
	}
	if _, ok := parquetfmt.Codecs[o.parquetCodec]; !ok {
		return usageErrorf("--parquet-codec %q: use one of %s", o.parquetCodec, strings.Join(parquetfmt.CodecNames(), ", "))
	}
	rg, err := parseSize(o.rowGroupSize)
	if err != nil || rg < 1<<10 || rg > 1<<30 {
		return usageErrorf("--parquet-row-group-size %q: give a size between 1KiB and 1GiB", o.rowGroupSize)
	}
	o.registry.parquetCodec, o.registry.rowGroupBytes = o.parquetCodec, int(rg)
	if o.storeHeaders && o.headersFormat != "" {
		hf, _ := format.Lookup(o.headersFormat)
		if _, err := hf.NewEncoder(io.Discard, layout.ViewHeaders); err != nil {
			return usageErrorf("--headers-format %s: %v", o.headersFormat, err)
		}
	}
	return nil
}
