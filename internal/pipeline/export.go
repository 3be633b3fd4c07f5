package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// ExportOptions configure a one-shot export.
type ExportOptions struct {
	Selector plan.Selector
	// Format writes values ("json", "bytes"); KeysFormat (default: Format) and
	// HeadersFormat (default: "json") write the sidecars when stored.
	Format, KeysFormat, HeadersFormat string
	StoreKeys, StoreHeaders           bool
	Naming                            layout.Naming
	// Rotation: a new object starts after FlushSize records, after RotateBytes
	// uncompressed bytes, or when a record's timestamp is RotateInterval or more
	// after the first record of the object (record time, so reruns name objects
	// the same). Zero disables a rule.
	FlushSize      int
	RotateBytes    int64
	RotateInterval time.Duration
	// Folder names the folder of each record's object (a field or time
	// partitioner, see PartitionerConfig); nil writes partition=<p>. A record
	// of another folder than the open object's starts a new object, so that
	// every object still holds consecutive offsets of one partition.
	Folder FolderFunc
	Gzip   bool
	// Key, if set, encrypts every object (pkg/seal).
	Key         *seal.Key
	Parallelism int
	// Shard limits a one-shot export to the partitions of one static shard
	// (the zero Shard: all); N runs with shards 0/N … N-1/N cover each once.
	Shard    Shard
	Progress Progress
	Logger   *slog.Logger
	// DryRun returns the plan (Summary.Plan) without reading a record or
	// writing anything.
	DryRun bool
}

func (o *ExportOptions) formats(ctx context.Context) (objset.Formats, error) {
	var vf objset.Formats
	var err error
	if vf[layout.ViewValues], err = format.LookupFor(ctx, o.Format); err != nil {
		return vf, err
	}
	if o.StoreKeys {
		name := o.KeysFormat
		if name == "" {
			name = o.Format
		}
		if vf[layout.ViewKeys], err = format.LookupFor(ctx, name); err != nil {
			return vf, fmt.Errorf("--keys-format: %w", err)
		}
	}
	if o.StoreHeaders {
		name := o.HeadersFormat
		if name == "" {
			name = "json"
		}
		if vf[layout.ViewHeaders], err = format.LookupFor(ctx, name); err != nil {
			return vf, fmt.Errorf("--headers-format: %w", err)
		}
		if _, err := vf[layout.ViewHeaders].NewEncoder(nil, layout.ViewHeaders); err != nil {
			return vf, fmt.Errorf("--headers-format %s: %w", name, err)
		}
	}
	return vf, nil
}

// Export copies every selected partition from its start to the end offset
// captured now into objects of b. It stops at the first error; objects completed
// before it are whole and named deterministically, so a rerun rewrites them.
func Export(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o ExportOptions) (Summary, error) {
	started := time.Now()
	log := Logger(o.Logger)
	vf, err := o.formats(ctx)
	if err != nil {
		return Summary{}, err
	}
	topics, err := kc.Topics(ctx)
	if err != nil {
		return Summary{}, err
	}
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	selected, err := plan.Select(names, o.Selector, "cluster "+fmt.Sprint(kc.Config().Brokers))
	if err != nil {
		return Summary{}, err
	}
	ranges, err := kc.Ranges(ctx, selected)
	if err != nil {
		return Summary{}, err
	}
	ranges = slices.DeleteFunc(ranges, func(r kafka.PartitionRange) bool { return !o.Shard.Owns(r.Topic, r.Partition) })
	sort.Slice(ranges, func(i, j int) bool {
		return ranges[i].End-ranges[i].Start > ranges[j].End-ranges[j].Start
	})
	if o.DryRun {
		p := RangePlan("export", "cluster "+fmt.Sprint(kc.Config().Brokers), bucketName, ranges)
		return Summary{Command: "export", Bucket: bucketName, Started: started, Plan: p}, nil
	}
	col := NewCollector()
	for _, r := range ranges {
		col.Partition(r.Topic, r.Partition)
	}
	SetTotal(o.Progress, OffsetsIn(ranges))
	log.Info("export starting", "topics", len(selected), "partitions", len(ranges), "format", o.Format, "bucket", bucketName)

	err = RunPartitions(ctx, kc, ranges, o.Parallelism, func(r kafka.PartitionRange) *PartitionExport {
		return &PartitionExport{Opts: &o, Bucket: b, Formats: vf, Col: col, Log: log, Range: r}
	})
	if err != nil {
		return col.Summary("export", bucketName, started), err
	}
	for _, t := range selected {
		info := topics[t]
		meta := catalog.TopicMeta{Topic: t, Partitions: info.Partitions, ReplicationFactor: info.ReplicationFactor, Format: o.Format, ExportedAt: started.UTC(), ID: info.ID}
		body, _ := json.MarshalIndent(meta, "", "  ")
		if err := store.WriteAll(ctx, b, catalog.TopicMetaKey(t), append(body, '\n'), nil); err != nil {
			return col.Summary("export", bucketName, started), fmt.Errorf("write %s: %w", catalog.TopicMetaKey(t), err)
		}
	}
	s := col.Summary("export", bucketName, started)
	log.Info("export done", "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	return s, nil
}

// RunPartitions exports ranges with at most par workers (2 × CPUs when 0), each
// with its own Kafka reader; newExport makes the per-partition worker. Offsets
// that retention removed before they were read become warnings (and whatever the
// worker's onGap does).
//
// Each worker reads a window of ranges at once in one fetch session (see
// windowSize), so that thousands of small partitions cost about as much as
// their bytes, not a round trip and a metadata refresh each.
func RunPartitions(ctx context.Context, kc *kafka.Client, ranges []kafka.PartitionRange, par int, newExport func(kafka.PartitionRange) *PartitionExport) error {
	par = Parallelism(par)
	size := windowSize(len(ranges), par)
	tasks := make(chan []kafka.PartitionRange, len(ranges)/size+1)
	for i := 0; i < len(ranges); i += size {
		tasks <- ranges[i:min(i+size, len(ranges))]
	}
	close(tasks)
	g, gctx := errgroup.WithContext(ctx)
	for range min(par, max(len(tasks), 1)) {
		g.Go(func() error {
			rd, err := kafka.NewReader(gctx, kc.Config())
			if err != nil {
				return err
			}
			defer rd.Close()
			for rs := range tasks {
				if err := runWindow(gctx, rd, rs, newExport); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// maxWindow bounds the ranges a worker reads at once.
const maxWindow = 64

// windowBuffer is how much of a window's open objects waits in memory before
// one range at a time streams into the bucket and the others pause (see
// window.Polled); a variable for tests, as is windowPolled, which sees what a
// window holds after each fetch and how many of its ranges it then pauses.
var (
	windowBuffer int64 = 8 << 20
	windowPolled func(held int64, paused int)
)

// windowBig is what a range's objects hold when it waits for its turn to
// stream (see window.Polled): about what an object buffers before its upload
// starts when its partition is read alone.
const windowBig = 256 << 10

// windowSize is how many ranges a worker reads at once: one when there are
// few (a big partition streams alone, as fast as one fetch session goes), up
// to maxWindow when there are many, always leaving each worker two windows or
// more to balance the load.
func windowSize(ranges, par int) int {
	return max(1, min(maxWindow, ranges/(2*par)))
}

// window is one worker's ranges read together. The objects of a window's
// ranges wait in memory (objset.Spec.Hold) rather than each opening an upload
// with its buffers; one range, the streamer, may stream.
type window struct {
	ctx      context.Context
	rd       *kafka.Reader
	ranges   []kafka.PartitionRange
	pes      []*PartitionExport
	done     []bool
	paused   []bool
	held     []int64 // what each range's objects held after the last fetch
	streamer int     // -1: none yet
	// commits runs the last commit of each finished range (windowCommits at
	// once) while the others read on: committing in the read loop made a
	// window wait one or two bucket round trips per partition, which for
	// thousands of small partitions was most of an export's time.
	commits *errgroup.Group
}

// windowCommits bounds the commits a window runs beside its reading; what
// they hold is what their ranges held when they finished (under windowBuffer
// together, or one streaming object).
const windowCommits = 8

func runWindow(ctx context.Context, rd *kafka.Reader, ranges []kafka.PartitionRange, newExport func(kafka.PartitionRange) *PartitionExport) error {
	w := &window{ctx: ctx, rd: rd, ranges: ranges, pes: make([]*PartitionExport, len(ranges)), done: make([]bool, len(ranges)), paused: make([]bool, len(ranges)), held: make([]int64, len(ranges)), streamer: -1}
	byTP := map[kafka.TopicPartition]*PartitionExport{}
	for i, r := range ranges {
		pe := newExport(r)
		pe.hold = len(ranges) > 1
		w.pes[i], byTP[kafka.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = pe, pe
	}
	rd.OnGap = func(pr kafka.PartitionRange, from, to int64) {
		pe := byTP[kafka.TopicPartition{Topic: pr.Topic, Partition: pr.Partition}]
		pe.Col.Warn(fmt.Sprintf("%s/%d: offsets %d to %d were removed by retention before they could be read; they are missing", pr.Topic, pr.Partition, from, to-1))
		if pe.OnGap != nil {
			pe.OnGap(from, to)
		}
	}
	commits, cctx := errgroup.WithContext(ctx)
	commits.SetLimit(windowCommits)
	w.commits, w.ctx = commits, cctx
	err := rd.ReadRanges(cctx, ranges, w)
	if cerr := commits.Wait(); cerr != nil {
		err = cerr // a failed commit cancelled the reading
	}
	if err != nil {
		for _, pe := range w.pes {
			if pe.set != nil {
				pe.set.Abort()
			}
		}
	}
	return err
}

func (w *window) Records(i int, batch []*record.Record) error {
	pe := w.pes[i]
	var n, bytes int64
	for _, rec := range batch {
		if err := pe.add(w.ctx, rec); err != nil {
			return fmt.Errorf("%s/%d: %w", pe.Range.Topic, pe.Range.Partition, err) // export and backup both run here
		}
		n++
		bytes += int64(rec.Size())
	}
	if pe.Opts.Progress != nil {
		pe.Opts.Progress.Add(n, bytes)
		if pp, ok := pe.Opts.Progress.(PartitionProgress); ok && len(batch) > 0 {
			r := pe.Range
			pp.Partition(r.Topic, r.Partition, batch[len(batch)-1].Offset+1-r.Start, r.End-r.Start)
		}
	}
	return nil
}

func (w *window) Done(i int) error {
	pe := w.pes[i]
	w.done[i] = true
	if w.streamer == i {
		w.streamer = -1
	}
	if pp, ok := pe.Opts.Progress.(PartitionProgress); ok {
		r := pe.Range
		pp.Partition(r.Topic, r.Partition, r.End-r.Start, r.End-r.Start)
	}
	// The window touches a finished range's export no more: its commit may run
	// beside the reading (runWindow waits for it).
	w.commits.Go(func() error {
		if err := pe.rotate(); err != nil {
			return fmt.Errorf("%s/%d: %w", pe.Range.Topic, pe.Range.Partition, err)
		}
		return nil
	})
	return nil
}

// Polled keeps the window's memory bounded and its fetches useful. A range
// whose objects hold windowBig or more would stream if it were read alone: it
// pauses and waits for its turn to be the streamer (the one range whose
// objects upload as they grow), rather than growing in memory or being
// fetched only to be paused again. While what the window holds stays under
// windowBuffer the other ranges read; above it they pause too. The streamer
// is the range holding most; when it is done the next one takes over.
func (w *window) Polled() error {
	if len(w.pes) == 1 {
		return nil
	}
	var total, most int64
	largest := -1
	for i, pe := range w.pes {
		w.held[i] = 0
		if w.done[i] || pe.set == nil {
			continue
		}
		w.held[i] = pe.set.Buffered()
		total += w.held[i]
		if w.held[i] > most {
			most, largest = w.held[i], i
		}
	}
	full := total > windowBuffer
	if w.streamer < 0 && largest >= 0 && (full || most >= windowBig) {
		w.streamer = largest
		w.pes[largest].stream()
	}
	paused := 0
	for i := range w.pes {
		w.setPaused(i, i != w.streamer && !w.done[i] && (full || w.held[i] >= windowBig))
		if w.paused[i] {
			paused++
		}
	}
	if windowPolled != nil {
		windowPolled(total, paused)
	}
	return nil
}

func (w *window) setPaused(i int, paused bool) {
	if w.paused[i] == paused {
		return
	}
	w.paused[i] = paused
	if paused {
		w.rd.Pause(w.ranges[i])
	} else {
		w.rd.Resume(w.ranges[i])
	}
}

// PartitionExport moves one partition range into objects.
type PartitionExport struct {
	Opts    *ExportOptions
	Bucket  *blob.Bucket
	Formats objset.Formats
	Col     *Collector
	Log     *slog.Logger
	Range   kafka.PartitionRange

	set *objset.Writer

	// Backups hook in here: OnRecord sees every record added to an object,
	// onCommit every object once it is durable.
	OnRecord func(rec *record.Record)
	OnCommit func(set *objset.Writer)
	OnGap    func(from, to int64)
	firstTS  time.Time
	folder   string // the open object's
	// uploadTook is how long the last rotate's Commit took (for follow metrics).
	uploadTook time.Duration
	// noChecksum: onCommit does not read the set's checksum (export --follow).
	noChecksum bool
	// beforeCommit, if set, may veto making a set visible (the set is then
	// aborted and rotate returns the error).
	beforeCommit func(set *objset.Writer) error
	// hold keeps the partition's objects in memory until committed, see window.
	hold bool
}

// stream lets the partition's objects upload as they grow instead of
// waiting in memory (see window).
func (pe *PartitionExport) stream() {
	pe.hold = false
	if pe.set != nil {
		pe.set.Release()
	}
}

func (pe *PartitionExport) add(ctx context.Context, rec *record.Record) error {
	o := pe.Opts
	folder := ""
	if o.Folder != nil {
		var err error
		if folder, err = o.Folder(rec); err != nil {
			return err
		}
		if pe.set != nil && folder != pe.folder {
			if err := pe.rotate(); err != nil {
				return err
			}
		}
	}
	if pe.set != nil && o.RotateInterval > 0 && rec.Timestamp.Sub(pe.firstTS) >= o.RotateInterval {
		if err := pe.rotate(); err != nil {
			return err
		}
	}
	if pe.set != nil {
		// A record of another schema (avro) starts a new object, as in
		// Confluent's sink.
		fits, err := pe.set.Fits(rec)
		if err != nil {
			return err
		}
		if !fits {
			if err := pe.rotate(); err != nil {
				return err
			}
		}
	}
	if pe.set == nil {
		// Only observers of commits (backups) read the checksum.
		set, err := objset.Create(ctx, pe.Bucket, objset.Spec{
			Naming: o.Naming, Formats: pe.Formats, Gzip: o.Gzip, Topic: rec.Topic, Partition: rec.Partition, Start: rec.Offset,
			Folder: folder, Checksum: pe.OnCommit != nil && !pe.noChecksum, Key: o.Key, Hold: pe.hold,
		})
		if err != nil {
			return err
		}
		pe.set, pe.firstTS, pe.folder = set, rec.Timestamp, folder
	}
	if err := pe.set.Add(rec); err != nil {
		return err
	}
	if pe.OnRecord != nil {
		pe.OnRecord(rec)
	}
	// Full: an object as large as an upload can hold rotates whatever the
	// settings (S3 takes 10,000 parts of 5 MiB).
	if (o.FlushSize > 0 && pe.set.Records() >= o.FlushSize) || (o.RotateBytes > 0 && pe.set.Bytes() >= o.RotateBytes) || pe.set.Full() {
		return pe.rotate()
	}
	return nil
}

// rotate commits the open object set, if any.
func (pe *PartitionExport) rotate() error {
	if pe.set == nil {
		return nil
	}
	set := pe.set
	pe.set = nil
	if pe.beforeCommit != nil {
		if err := pe.beforeCommit(set); err != nil {
			set.Abort()
			return err
		}
	}
	started := time.Now()
	if err := set.Commit(); err != nil {
		return err
	}
	pe.uploadTook = time.Since(started)
	if pe.OnCommit != nil {
		pe.OnCommit(set)
	}
	// The summary counts what completed objects hold, so after an error it
	// still tells how far the bucket goes.
	pe.Col.Update(pe.Range.Topic, pe.Range.Partition, func(ps *PartitionSummary) {
		if ps.FirstOffset < 0 {
			ps.FirstOffset = set.First()
		}
		ps.LastOffset = set.Last()
		ps.Records += int64(set.Records())
		ps.Bytes += set.RecordBytes()
		ps.Objects++
	})
	pe.Log.Debug("object written", "topic", pe.Range.Topic, "partition", pe.Range.Partition, "key", set.Keys()[0], "records", set.Records())
	return nil
}

// OffsetsIn counts the offsets of ranges: an upper bound of their records.
func OffsetsIn(ranges []kafka.PartitionRange) int64 {
	var n int64
	for _, r := range ranges {
		n += max(r.End-r.Start, 0)
	}
	return n
}

// RangePlan is the plan of a job that reads offset ranges from Kafka (export,
// backup, migrate): one task per range, in the order they start.
func RangePlan(command, from, to string, ranges []kafka.PartitionRange) *plan.Plan {
	p := &plan.Plan{Command: command, From: from, To: to}
	for _, r := range ranges {
		p.Tasks = append(p.Tasks, plan.Task{Topic: r.Topic, Partition: r.Partition, From: r.Start, To: r.End, Records: r.End - r.Start})
	}
	return p
}
