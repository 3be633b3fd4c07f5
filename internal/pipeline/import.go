package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// ErrTargetPartitions means a target topic has fewer partitions than the bucket needs.
var ErrTargetPartitions = errors.New("target topic has too few partitions")

// ErrTargetNotEmpty means a target topic already holds records.
var ErrTargetNotEmpty = errors.New("target topic not empty")

// ErrTargetMissing means a target topic does not exist and may not be created.
var ErrTargetMissing = errors.New("target topic missing")

// ImportOptions configure a one-shot import.
type ImportOptions struct {
	Selector          plan.Selector // source topics, as named in the bucket
	Files             layout.FileFilters
	Renames           layout.Renames
	TopicsDir         string
	Strict            bool
	CreateTopics      bool
	ReplicationFactor int16 // -1: the broker's default
	Append            bool  // allow targets that already hold records
	Parallelism       int
	Key               *seal.Key // decrypts encrypted objects
	Producer          kafka.WriterOptions
	Progress          Progress
	Logger            *slog.Logger
}

type importTask struct {
	src    *PartitionObjects
	target string
}

// Import writes the selected topics of the bucket into Kafka, each source
// partition's records in offset order into the same partition number of the
// (renamed) target topic. Target topics are checked, and created if missing,
// before any record is written.
func Import(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o ImportOptions) (Summary, error) {
	started := time.Now()
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cat, err := Scan(ctx, b, o.TopicsDir, o.Strict)
	if err != nil {
		return Summary{}, err
	}
	col := newCollector()
	if n := len(cat.Skipped); n > 0 {
		msg := fmt.Sprintf("%d keys under %q are not Confluent object names and were skipped (first: %s); --strict makes this an error", n, o.TopicsDir, cat.Skipped[0])
		col.warn(msg)
		log.Warn(msg)
	}
	if len(cat.Topics) == 0 {
		return Summary{}, fmt.Errorf("%w: the bucket %s holds no objects under %q; check the URL and --topics-dir", plan.ErrNothingSelected, bucketName, o.TopicsDir)
	}
	selected, err := plan.Select(cat.TopicNames(), o.Selector, "bucket "+bucketName)
	if err != nil {
		return Summary{}, err
	}
	if !o.Files.Empty() {
		var kept []string
		for _, t := range selected {
			for _, ft := range o.Files.Topics() {
				if ft == t {
					kept = append(kept, t)
				}
			}
		}
		if len(kept) == 0 {
			return Summary{}, fmt.Errorf("%w: --files names none of the topics in the bucket (%s)", plan.ErrNothingSelected, strings.Join(selected, ", "))
		}
		selected = kept
	}
	if err := preflight(ctx, b, cat, selected, o.Key); err != nil {
		return Summary{}, err
	}
	tasks, err := prepareTargets(ctx, kc, cat, selected, &o, col, log)
	if err != nil {
		return Summary{}, err
	}
	w, err := kafka.NewWriter(ctx, kc.Config(), o.Producer)
	if err != nil {
		return Summary{}, err
	}
	defer w.Close()
	par := o.Parallelism
	if par <= 0 {
		par = runtime.NumCPU() * 2
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, t := range tasks {
		// Records are queued with ctx, not gctx: errgroup cancels gctx as soon as
		// Wait returns, and franz-go fails every record still buffered whose
		// context is done, so the final Flush would lose the tail.
		g.Go(func() error { return importPartition(gctx, ctx, b, w, t, &o, col) })
	}
	err = g.Wait()
	if ferr := w.Flush(ctx); err == nil {
		err = ferr
	}
	s := col.summary("import", bucketName, started)
	if err != nil {
		delivered, _ := w.Delivered()
		return s, fmt.Errorf("%w (%d records were written before the error; see the summary for which partitions)", err, delivered)
	}
	log.Info("import done", "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	return s, nil
}

// prepareTargets maps source topics to targets, checks every target's partition
// count and emptiness, and creates missing ones, all before any record moves.
func prepareTargets(ctx context.Context, kc *kafka.Client, cat *Catalog, selected []string, o *ImportOptions, col *collector, log *slog.Logger) ([]importTask, error) {
	existing, err := kc.Topics(ctx)
	if err != nil {
		return nil, err
	}
	targetOf := map[string]string{}
	sourceOf := map[string]string{}
	for _, src := range selected {
		dst, err := o.Renames.Target(src)
		if err != nil {
			return nil, fmt.Errorf("rename %s: %w", src, err)
		}
		if other, dup := sourceOf[dst]; dup {
			return nil, fmt.Errorf("topics %s and %s would both be imported into %s; their records would interleave, so refine --rename", other, src, dst)
		}
		sourceOf[dst], targetOf[src] = src, dst
	}
	var toCheck []string
	for _, src := range selected {
		dst, need := targetOf[src], cat.PartitionCount(src)
		info, ok := existing[dst]
		switch {
		case ok && info.Partitions < need:
			return nil, fmt.Errorf("%w: %s has %d partitions but %s in the bucket has %d; add partitions first (kafka-topics --alter --topic %s --partitions %d)", ErrTargetPartitions, dst, info.Partitions, src, need, dst, need)
		case ok:
			toCheck = append(toCheck, dst)
		case !o.CreateTopics:
			return nil, fmt.Errorf("%w: %s does not exist; create it with %d partitions or drop --create-topics=false", ErrTargetMissing, dst, need)
		}
	}
	if len(toCheck) > 0 && !o.Append {
		ranges, err := kc.Ranges(ctx, toCheck)
		if err != nil {
			return nil, err
		}
		for _, r := range ranges {
			if r.End > r.Start {
				return nil, fmt.Errorf("%w: %s partition %d already holds %d records; import into an empty topic, or pass --append to add to it", ErrTargetNotEmpty, r.Topic, r.Partition, r.End-r.Start)
			}
		}
	}
	var tasks []importTask
	for _, src := range selected {
		dst := targetOf[src]
		if _, ok := existing[dst]; !ok {
			created, err := kc.CreateTopic(ctx, dst, int32(cat.PartitionCount(src)), o.ReplicationFactor)
			if err != nil {
				return nil, err
			}
			if created {
				log.Info("topic created", "topic", dst, "partitions", cat.PartitionCount(src))
			}
		}
		col.targets[src] = dst
		for _, po := range cat.Partitions(src) {
			po := filterGroups(po, o.Files)
			if len(po.Groups) == 0 {
				continue
			}
			col.partition(src, po.Partition)
			tasks = append(tasks, importTask{src: po, target: dst})
		}
	}
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].src.Bytes > tasks[j].src.Bytes })
	return tasks, nil
}

// filterGroups keeps the groups whose values object --files admits.
func filterGroups(po *PartitionObjects, f layout.FileFilters) *PartitionObjects {
	if f.Empty() {
		return po
	}
	out := &PartitionObjects{Topic: po.Topic, Partition: po.Partition}
	for _, g := range po.Groups {
		if f.Admits(po.Topic, g.Values.Key) {
			out.Groups = append(out.Groups, g)
			out.Bytes += g.Values.Size
		}
	}
	return out
}

// importPartition produces one source partition's objects in offset order. Offsets
// inside an object are its start offset plus the record's index (exact when the
// partition had no gaps); records of an object that starts before the previous
// one ended are skipped, as they were already written.
func importPartition(ctx, produceCtx context.Context, b *blob.Bucket, w *kafka.Writer, t importTask, o *ImportOptions, col *collector) error {
	next := int64(-1)
	for _, g := range t.src.Groups {
		gr, err := openGroup(ctx, b, g, o.Key)
		if err != nil {
			return fmt.Errorf("import %s/%d: %w", t.src.Topic, t.src.Partition, err)
		}
		var n, bytes, skipped int64
		var rec record.Record // one for all: Produce copies what it keeps
		for off := g.Start; ; off++ {
			rec = record.Record{}
			err := gr.Next(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				gr.Close()
				return fmt.Errorf("import %s/%d: %w", t.src.Topic, t.src.Partition, err)
			}
			if off < next {
				skipped++
				continue
			}
			rec.Topic, rec.Partition, rec.Offset = t.target, t.src.Partition, off
			if err := w.Produce(produceCtx, &rec); err != nil {
				gr.Close()
				return err
			}
			n++
			bytes += int64(rec.Size())
		}
		gr.Close()
		if skipped > 0 {
			col.warn(fmt.Sprintf("%s: %d records overlap earlier objects of %s/%d and were skipped", g.Values.Key, skipped, t.src.Topic, t.src.Partition))
		}
		next = max(next, g.Start+n+skipped)
		col.update(t.src.Topic, t.src.Partition, func(ps *PartitionSummary) {
			if ps.FirstOffset < 0 {
				ps.FirstOffset = g.Start
			}
			ps.LastOffset = next - 1
			ps.Records += n
			ps.Bytes += bytes
			ps.Objects++
		})
		if o.Progress != nil {
			o.Progress.Add(n, bytes)
		}
	}
	return nil
}

// preflight reads the first record of each selected topic before any topic is
// created or record written, so a missing or wrong key, or an object that is
// not what its name says, fails the import with nothing changed.
func preflight(ctx context.Context, b *blob.Bucket, cat *Catalog, selected []string, key *seal.Key) error {
	for _, t := range selected {
		parts := cat.Partitions(t)
		if len(parts) == 0 {
			continue
		}
		gr, err := openGroup(ctx, b, parts[0].Groups[0], key)
		if err != nil {
			return err
		}
		var rec record.Record
		err = gr.Next(&rec)
		gr.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}
