// Package demo is kferry's embedded default: an in-process Kafka cluster and a
// local folder bucket, a full export/import round trip, verified record by record.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// Options configure the demo.
type Options struct {
	Records    int    // records in all, spread over 3 topics × 9 partitions
	Keep       string // folder to keep the bucket in; "" uses a temporary one
	Format     string // json or bytes
	FlushSize  int
	Out        io.Writer // the narrative, one line per step (see say)
	Logger     *slog.Logger
	Partitions int32
}

// Result is what the demo measured.
type Result struct {
	Produced, Exported, Imported, Matched int64
	Export, Import                        pipeline.Summary
	Bucket                                string
}

// say prints one line of the narrative to o.Out. Its write error is ignored:
// the command prints its summaries to the same writer after the run and fails
// on a write error there.
func (o Options) say(format string, args ...any) { _, _ = fmt.Fprintf(o.Out, format, args...) }

// closeBucket releases b; a Bucket buffers no writes, so its Close loses nothing.
func closeBucket(b *blob.Bucket) { _ = b.Close() }

// removeTemp removes a temporary folder, best effort: one left behind harms
// nothing.
func removeTemp(dir string) { _ = os.RemoveAll(dir) }

// withDefaults fills what the scenarios share: 100,000 records, 9
// partitions, a logger that discards.
func (o Options) withDefaults() Options {
	if o.Records <= 0 {
		o.Records = 100_000
	}
	if o.Partitions <= 0 {
		o.Partitions = 9
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// bucketFolder returns the absolute path and file:// URL of the demo's
// bucket folder: keep (created if missing), or a temporary folder that
// cleanup removes.
func bucketFolder(keep, prefix string) (abs, url string, cleanup func(), err error) {
	cleanup = func() {}
	dir := keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", prefix); err != nil {
			return "", "", cleanup, err
		}
		tmp := dir
		cleanup = func() { removeTemp(tmp) }
	} else if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: --keep's folder of sample data, readable like any output folder
		return "", "", cleanup, err
	}
	abs, err = filepath.Abs(dir)
	if err != nil {
		cleanup()
		return "", "", func() {}, err
	}
	return abs, "file://" + filepath.ToSlash(abs), cleanup, nil
}

// Topics are the recipe's topic names.
var Topics = []string{"source-topic-1", "source-topic-2", "source-topic-3"}

// partitionOf is the partition of record i of a demo run (counted over all
// Topics): each topic's records go round-robin over its n partitions.
func partitionOf(i int, n int32) int32 {
	return int32(i / len(Topics) % int(n)) //nolint:gosec // G115: the remainder is in [0, n), and n is an int32
}

// Rename is the recipe's RegexRouter rule.
const Rename = `source-topic-(\d)=sink-topic-$1`

// Run starts a 3-broker cluster, produces keyed JSON records with headers into
// source-topic-1..3, exports them with keys and headers, imports them renamed to
// sink-topic-1..3 and compares every record. It fails unless all match.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	o = o.withDefaults()
	if o.Format == "" {
		o.Format = "json"
	}
	if o.FlushSize <= 0 {
		o.FlushSize = 1000
	}
	log := o.Logger
	_, url, cleanup, err := bucketFolder(o.Keep, "kferry-demo-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	res.Bucket = url

	cluster, err := kafkatest.Start(3)
	if err != nil {
		return res, err
	}
	defer cluster.Close()
	o.say("demo: in-process Kafka (3 brokers at %v), bucket %s\n", cluster.ListenAddrs(), res.Bucket)
	if err := fillSource(ctx, cluster, o, &res); err != nil {
		return res, err
	}

	b, err := store.Open(ctx, res.Bucket)
	if err != nil {
		return res, err
	}
	defer closeBucket(b)
	kc, err := kafka.Dial(ctx, cluster.Config())
	if err != nil {
		return res, err
	}
	defer kc.Close()
	if err := exportSource(ctx, kc, b, o, log, &res); err != nil {
		return res, err
	}
	renames, err := importRenamed(ctx, kc, b, o, log, &res)
	if err != nil {
		return res, err
	}
	if err := verifyRenamed(ctx, cluster.Config(), renames, o, &res); err != nil {
		return res, err
	}
	return res, nil
}

// fillSource creates source-topic-1..3 and produces the demo's records.
func fillSource(ctx context.Context, cluster *kafkatest.Cluster, o Options, res *Result) error {
	for _, t := range Topics {
		if err := cluster.CreateTopic(ctx, t, o.Partitions); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := produce(ctx, cluster, o); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	res.Produced = int64(o.Records)
	o.say("demo: produced %d records with keys and headers into %d topics × %d partitions in %.2fs\n", o.Records, len(Topics), o.Partitions, time.Since(start).Seconds())
	return nil
}

// exportSource exports the source topics, with keys and headers, into the
// bucket.
func exportSource(ctx context.Context, kc *kafka.Client, b *blob.Bucket, o Options, log *slog.Logger, res *Result) error {
	var err error
	res.Export, err = pipeline.Export(ctx, kc, b, res.Bucket, pipeline.ExportOptions{
		Selector: plan.Selector{Regex: regexp.MustCompile(`\Asource-topic-\d\z`)}, Format: o.Format,
		StoreKeys: true, StoreHeaders: true, Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir},
		FlushSize: o.FlushSize, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	res.Exported = res.Export.Records
	o.say("demo: exported %d records to %d objects in %.2fs (%.1f MB/s)\n", res.Export.Records, res.Export.Objects, res.Export.Seconds, res.Export.MBPerSec)
	return nil
}

// importRenamed imports the bucket's objects into sink-topic-1..3 (Rename)
// and returns the renames.
func importRenamed(ctx context.Context, kc *kafka.Client, b *blob.Bucket, o Options, log *slog.Logger, res *Result) (layout.Renames, error) {
	renames, err := layout.ParseRenames([]string{Rename})
	if err != nil {
		return nil, err
	}
	res.Import, err = pipeline.Import(ctx, kc, b, res.Bucket, pipeline.ImportOptions{
		Renames: renames, TopicsDir: layout.DefaultTopicsDir, CreateTopics: true, ReplicationFactor: -1, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	res.Imported = res.Import.Records
	o.say("demo: imported %d records with '%s' in %.2fs (%.1f MB/s)\n", res.Import.Records, Rename, res.Import.Seconds, res.Import.MBPerSec)
	return renames, nil
}

// verifyRenamed compares every source topic with its renamed copy.
func verifyRenamed(ctx context.Context, cfg kafka.Config, renames layout.Renames, o Options, res *Result) error {
	for _, src := range Topics {
		dst, _ := renames.Target(src)
		n, err := compareTopics(ctx, cfg, src, dst, digest, digest)
		res.Matched += n
		if err != nil {
			return fmt.Errorf("verify %s -> %s: %w", src, dst, err)
		}
	}
	if res.Matched != res.Produced {
		return fmt.Errorf("verify: %d of %d records matched", res.Matched, res.Produced)
	}
	o.say("demo: verified %d of %d records: same partition, order, key, value and headers\n", res.Matched, res.Produced)
	return nil
}

// produce writes o.Records records round-robin over topics and partitions, like
// the recipe's producer: string keys, JSON values, two headers.
func produce(ctx context.Context, c *kafkatest.Cluster, o Options) error {
	w, err := kafka.NewWriter(ctx, c.Config(), kafka.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Close()
	pad := bytes.Repeat([]byte("x"), 120)
	for i := range o.Records {
		t := Topics[i%len(Topics)]
		rec := record.Record{
			Topic: t, Partition: partitionOf(i, o.Partitions),
			Key:   []byte("key-" + strconv.Itoa(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"topic":%q,"amount":%d.%02d,"note":"%s"}`, i, t, i%1000, i%100, pad),
			Headers: []record.Header{
				{Key: "trace-id", Value: fmt.Appendf(nil, "%016x", i*7919)},
				{Key: "source", Value: []byte("kferry-demo")},
			},
		}
		if err := w.Produce(ctx, &rec); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

// compareTopics checks that dst holds src's records partition by partition, in
// order, with equal digests (digest: keys, values and headers). Source records are kept as digests
// only, so memory stays small for large runs.
func compareTopics(ctx context.Context, cfg kafka.Config, src, dst string, srcDigest, dstDigest func(*record.Record) [32]byte) (int64, error) {
	want := map[int32][][32]byte{}
	err := kafkatest.EachRecord(ctx, cfg, src, func(r *record.Record) error {
		want[r.Partition] = append(want[r.Partition], srcDigest(r))
		return nil
	})
	if err != nil {
		return 0, err
	}
	pos := map[int32]int{}
	var matched int64
	err = kafkatest.EachRecord(ctx, cfg, dst, func(r *record.Record) error {
		i := pos[r.Partition]
		ws := want[r.Partition]
		if i >= len(ws) {
			return fmt.Errorf("%s/%d has more records than %s/%d (extra at offset %d)", dst, r.Partition, src, r.Partition, r.Offset)
		}
		if dstDigest(r) != ws[i] {
			return fmt.Errorf("%s/%d record %d (offset %d) differs from %s/%d record %d", dst, r.Partition, i, r.Offset, src, r.Partition, i)
		}
		pos[r.Partition] = i + 1
		matched++
		return nil
	})
	if err != nil {
		return matched, err
	}
	for p, ws := range want {
		if pos[p] != len(ws) {
			return matched, fmt.Errorf("%s/%d has %d records, %s/%d has %d", dst, p, pos[p], src, p, len(ws))
		}
	}
	return matched, nil
}

// digest hashes what must survive the round trip: key, value, headers (with
// null distinct from empty).
func digest(r *record.Record) [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		if b == nil {
			h.Write([]byte{0})
			return
		}
		h.Write([]byte{1})
		h.Write(strconv.AppendInt(nil, int64(len(b)), 10))
		h.Write([]byte{':'})
		h.Write(b)
	}
	field(r.Key)
	field(r.Value)
	for _, hd := range r.Headers {
		field([]byte(hd.Key))
		field(hd.Value)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
