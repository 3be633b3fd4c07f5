package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kferry/kferry/internal/arena"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/record"
)

// Shard is a static share of the partitions of an import: the source partition
// (topic, partition) belongs to shard FNV-1a("topic\x00partition") mod Count ==
// Index. The zero Shard (Count 0) owns every partition. N copies started with
// shards 0/N … N-1/N and the same progress group import every partition exactly
// once between them.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("%w %q: want I/N with 0 ≤ I < N, e.g. 0/3", ErrBadShard, s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether the source partition belongs to the shard.
func (s Shard) Owns(topic string, partition int32) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%s\x00%d", topic, partition) // a hash.Hash never returns a write error
	return int64(h.Sum32())%int64(s.Count) == int64(s.Index)
}

// ImportGroup is the default progress group of an import: one per bucket URL
// (without secrets), topics folder, topic selection, --files and renames, so a
// rerun or another shard with the same flags shares the progress. Its offset on
// a target partition is the next source offset to import.
func ImportGroup(bucketURL, topicsDir string, sel plan.Selector, files string, renames []string) string {
	return GroupName("kferry-import-", bucketURL, topicsDir, sel, files, strings.Join(renames, "\x00"))
}

// ImportMetrics receives what an import does (internal/metrics implements it
// for Prometheus). Methods are called from many goroutines.
type ImportMetrics interface {
	// ObjectImported: an object's records and the progress are committed.
	ObjectImported(topic string, partition int32, records, bytes int64)
	// Lag is how far a partition's progress is behind the bucket: objects not
	// yet imported, and records before the newest object's start offset.
	Lag(topic string, partition int32, objects, records int64)
	Error(kind string)
	// Ready: the first scan of the bucket is done.
	Ready(ok bool)
}

type NoImportMetrics struct{}

func (NoImportMetrics) ObjectImported(string, int32, int64, int64) {}
func (NoImportMetrics) Lag(string, int32, int64, int64)            {}
func (NoImportMetrics) Error(string)                               {}
func (NoImportMetrics) Ready(bool)                                 {}

// partitionImport carries one source partition's import state across objects
// (and, with --follow, across scans of the bucket).
type partitionImport struct {
	t       importTask
	o       *ImportOptions
	group   string
	col     *Collector
	log     *slog.Logger
	metrics ImportMetrics
	w       *kafka.TxnWriter
	// batch, if set, is the transaction of the partition's slot (one-shot
	// import): objects join it and commit with other partitions' objects.
	batch *TxnBatch
	cfg   kafka.Config
	// next is the next source offset to import, -1 while unknown (no progress
	// committed and nothing imported yet); origin is what it rests on.
	next   int64
	origin progressOrigin
	// commits counts the transactions committed by this writer.
	commits int
	// lastKey and lastSize name the object version last read to its end, so
	// a scan does not read it again unless it was rewritten (a continuous
	// export that crashed rewrites its last object under the same name).
	lastKey  string
	lastSize int64
	// seen holds the values keys of the previous scan; hole is the progress
	// at which a missing object was last reported.
	seen      map[string]bool
	hole      int64
	holeScans int
	holeSince time.Time
}

// HoleScans and HoleWait (ImportOptions, DefaultHoleWait) bound how long import
// --follow waits at an offset hole: after both, it takes the hole for offsets
// that never held records and goes on.
const HoleScans = 3

// DefaultHoleWait is how long import --follow waits at an offset hole by default.
const DefaultHoleWait = time.Minute

func newPartitionImport(t importTask, o *ImportOptions, group string, cfg kafka.Config, col *Collector, log *slog.Logger, m ImportMetrics) *partitionImport {
	return &partitionImport{t: t, o: o, group: group, cfg: cfg, col: col, log: log, metrics: m, next: -1, hole: -1}
}

// resume opens the partition's writer and resumes it (kafka.TxnWriter.Resume:
// fence the previous writer, then read the progress stable), so pi.next is the
// committed progress and nothing another run committed can be missed.
func (pi *partitionImport) resume(ctx context.Context) error {
	if err := pi.open(ctx); err != nil {
		return err
	}
	tp := kafka.TopicPartition{Topic: pi.t.target, Partition: pi.t.src.Partition}
	done, err := pi.w.Resume(ctx, pi.group, tp)
	if err != nil {
		return err
	}
	if off, ok := done[tp]; ok {
		pi.next, pi.origin = off.Offset, parseOrigin(off.Metadata)
		pi.log.Info("resuming", "topic", pi.t.src.Topic, "partition", pi.t.src.Partition, "target", pi.t.target, "next_source_offset", off.Offset)
	}
	return nil
}

func (pi *partitionImport) close() {
	if pi.w != nil {
		pi.w.Close()
		pi.w = nil
	}
}

// pass imports the partition's objects from the progress on, in offset order.
// Objects wholly before the progress are skipped unread. With follow, a gap
// between the progress and the next object's start is waited on (the object
// holding the missing records may not be visible yet) unless nothing of the
// partition was imported yet. ctx is checked between objects; work carries
// the transactions, so an object begun is finished (or aborted) even when ctx
// ends.
func (pi *partitionImport) pass(ctx, work context.Context, b *blob.Bucket, follow bool) error {
	groups := pi.t.src.Groups
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		seen[g.Values.Key] = true
	}
	prev := pi.seen
	pi.seen = seen
	for i, g := range groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if g.Values.Key == pi.lastKey && g.Values.Size == pi.lastSize {
			continue
		}
		fresh := follow && prev != nil && !prev[g.Values.Key]
		var succ *catalog.Group
		if i+1 < len(groups) {
			succ = &groups[i+1]
		}
		if pi.before(g, succ) {
			if fresh {
				pi.warnImported(g)
			}
			pi.afterCommit(func() { pi.deleteImported(work, b, g) })
			continue
		}
		if pi.next >= 0 && g.Start > pi.next && follow {
			if pi.hole != pi.next && pi.o.HoleWait >= 0 {
				pi.hole, pi.holeScans, pi.holeSince = pi.next, 0, time.Now()
				pi.log.Warn("waiting for a missing object: the next object starts after the progress", "topic", pi.t.src.Topic, "partition", pi.t.src.Partition, "next_source_offset", pi.next, "next_object", g.Values.Key)
			}
			// Objects of a partition appear in order, so a hole that outlasts a
			// few scans is offsets without records (transaction markers,
			// compaction), not an object still being written: go on.
			wait := pi.o.HoleWait
			if wait == 0 {
				wait = DefaultHoleWait
			}
			if pi.holeScans++; wait > 0 && (pi.holeScans <= HoleScans || time.Since(pi.holeSince) < wait) {
				return nil
			}
			pi.log.Log(context.Background(), holeLevel(wait), "going past a hole: no object appeared for it; the source had no records there (transaction markers or compaction), or the object is lost", "topic", pi.t.src.Topic, "partition", pi.t.src.Partition, "from", pi.next, "to", g.Start-1)
		}
		if pi.next < 0 && follow {
			pi.log.Info("first object of the partition", "topic", pi.t.src.Topic, "partition", pi.t.src.Partition, "object", g.Values.Key, "start_offset", g.Start)
		}
		before := pi.next
		n, err := pi.importObject(work, b, g, succ)
		if err != nil {
			pi.metrics.Error("import")
			return fmt.Errorf("import %s/%d: %w", pi.t.src.Topic, pi.t.src.Partition, err)
		}
		if n == 0 && fresh && before >= 0 && g.Start < before {
			pi.warnImported(g)
		}
	}
	return nil
}

// deleteImported deletes g's objects when the import is asked to and the
// committed progress lies past them. A failure only leaves them behind.
func (pi *partitionImport) deleteImported(ctx context.Context, b *blob.Bucket, g catalog.Group) {
	if !pi.o.DeleteImported {
		return
	}
	keys := []string{g.Values.Key}
	for _, info := range []*catalog.ObjectInfo{g.Keys, g.Headers} {
		if info != nil {
			keys = append(keys, info.Key)
		}
	}
	for _, r := range g.Offsets {
		keys = append(keys, r.Key)
	}
	for _, key := range keys {
		if err := b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			pi.metrics.Error("delete")
			pi.log.Warn("imported object not deleted", "key", key, "err", err)
		}
	}
}

// holeLevel is the level of the note that a hole is passed: a warning when the
// hole was waited on, debug when holes are expected (negative wait: offsets of
// transaction markers between the objects of a migration).
func holeLevel(wait time.Duration) slog.Level {
	if wait < 0 {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func (pi *partitionImport) warnImported(g catalog.Group) {
	if pi.o.laneFed {
		return
	}
	msg := fmt.Sprintf("%s starts at offset %d, before the progress %d of %s/%d: already imported, skipped", g.Values.Key, g.Start, pi.next, pi.t.src.Topic, pi.t.src.Partition)
	pi.col.Warn(msg)
	pi.log.Warn(msg)
}

// lag reports the objects and records (a lower bound: those before the newest
// object's start) the partition's progress is behind the bucket.
func (pi *partitionImport) lag() {
	var objects, records int64
	groups := pi.t.src.Groups
	for _, g := range groups {
		if pi.next < 0 || g.Start >= pi.next {
			objects++
		}
	}
	if n := len(groups); n > 0 {
		from := pi.next
		if from < 0 {
			from = groups[0].Start
		}
		records = max(0, groups[n-1].Start-from)
	}
	pi.metrics.Lag(pi.t.src.Topic, pi.t.src.Partition, objects, records)
}

// Committed is what one import transaction wrote: the source offsets of its
// records and the target offsets they got, in order, and the partition's new
// progress (the next source offset).
type Committed struct {
	Topic, Target string
	Partition     int32
	Src, Dst      []int64
	// Prev is the progress before the transaction (-1: none, the partition's
	// first import); Next the progress after it.
	Prev, Next int64
}

// importObject writes the records of g from the progress on in one transaction
// with the new progress (past g's last record), and returns how many it wrote.
// Records carry their source offsets when the format keeps them (native) or
// g has an offsets record; otherwise they are counted from g's start, as
// Confluent's layout implies (exact only where the source had no offset
// gaps, so such an object must not overlap another: see admits). succ is the
// next object of the partition, if listed. An object with nothing new writes
// and commits nothing.
func (pi *partitionImport) importObject(ctx context.Context, b *blob.Bucket, g catalog.Group, succ *catalog.Group) (int64, error) {
	src, err := pi.offsetsOf(ctx, b, g)
	if err != nil {
		return 0, err
	}
	if pi.next > g.Start && !pi.origin.admits(g.Values.Key, src.exact) {
		return 0, pi.overlapError(g, src.exact)
	}
	gr, err := objset.OpenGroupVia(ctx, b, g, pi.o.Key, src.wrap())
	if err != nil {
		return 0, err
	}
	defer gr.Close()
	oi := pi.newObjectImport(g, src)
	if err := oi.produceAll(ctx, gr); err != nil {
		return 0, err
	}
	if err := src.finish(gr); err != nil {
		oi.abort(ctx)
		return 0, err
	}
	if !src.exact && succ != nil && succ.Start < g.Start+oi.seen {
		oi.abort(ctx)
		return 0, pi.overlapPair(g, *succ)
	}
	if oi.skipped > 0 && oi.n > 0 && pi.lastKey != "" {
		pi.col.Warn(fmt.Sprintf("%s: %d records overlap earlier objects of %s/%d and were skipped", g.Values.Key, oi.skipped, pi.t.src.Topic, pi.t.src.Partition))
	}
	if pi.batch != nil {
		return oi.join(ctx, b)
	}
	if oi.n > 0 {
		if err := oi.commit(ctx); err != nil {
			return 0, err
		}
	}
	pi.lastKey, pi.lastSize = g.Values.Key, g.Values.Size
	pi.next = max(pi.next, oi.end)
	pi.deleteImported(ctx, b, g)
	if oi.n == 0 {
		return 0, nil
	}
	oi.report(pi.next)
	return oi.n, nil
}

// join adds the object, read whole, to the slot's transaction (pi.batch) and
// commits that once it is full. The partition's state moves on at once (its
// next object continues from it); what is reported, and objects deleted, wait
// for the commit. A failure of the transaction fails the slot, which starts
// over from the committed progress with fresh state.
func (oi *objectImport) join(ctx context.Context, b *blob.Bucket) (int64, error) {
	pi := oi.pi
	origin := progressOrigin{key: oi.g.Values.Key, counted: !oi.src.exact}
	offsets := func() []kafka.GroupOffset { return nil }
	if oi.n > 0 {
		off := kafka.GroupOffset{Group: pi.group, Topic: pi.t.target, Partition: pi.t.src.Partition, Offset: oi.end, Metadata: origin.slotMetadata()}
		offsets = func() []kafka.GroupOffset { return []kafka.GroupOffset{off} }
		pi.origin = origin
	}
	pi.lastKey, pi.lastSize = oi.g.Values.Key, oi.g.Values.Size
	pi.next = max(pi.next, oi.end)
	next, g := pi.next, oi.g
	pi.batch.Add(offsets, func() {
		if oi.n > 0 {
			pi.commits++
			oi.report(next)
		}
		pi.deleteImported(ctx, b, g)
	})
	if pi.batch.Full() {
		if err := pi.batch.Commit(ctx); err != nil {
			return 0, err
		}
	}
	return oi.n, nil
}

// afterCommit runs f once what the partition's state says is committed: now,
// or with the slot's open transaction.
func (pi *partitionImport) afterCommit(f func()) {
	if pi.batch == nil {
		f()
		return
	}
	pi.batch.Add(func() []kafka.GroupOffset { return nil }, f)
}

// objectImport is the transaction importObject writes for one object: the
// records produced so far and whether the transaction has begun.
type objectImport struct {
	pi  *partitionImport
	g   catalog.Group
	src *objectOffsetSource
	// n records (bytes) produced; skipped were before the progress; seen
	// counts every record read.
	n, bytes, skipped, seen int64
	first                   int64 // source offset of the first record produced, -1 before
	end                     int64 // the source offset after the last record read
	begun                   bool
	lane                    bool       // records from a Lane, not an object
	c                       *Committed // for o.OnCommit, nil without it
	acks                    []*int64   // c's target offsets, one cell per record
	// cells are where acks point: a cell of its own per record (acks arrive
	// on the producer's goroutines while this loop goes on), from shared blocks.
	cells arena.Arena[int64]
}

func (pi *partitionImport) newObjectImport(g catalog.Group, src *objectOffsetSource) *objectImport {
	oi := &objectImport{pi: pi, g: g, src: src, first: -1, end: g.Start}
	if pi.o.OnCommit != nil {
		oi.c = &Committed{Topic: pi.t.src.Topic, Target: pi.t.target, Partition: pi.t.src.Partition, Prev: pi.next}
	}
	return oi
}

// abort aborts the transaction if it has begun: with a slot's transaction,
// that is every object in it, of every partition.
func (oi *objectImport) abort(ctx context.Context) {
	if oi.pi.batch != nil {
		oi.pi.batch.Abort(ctx)
		return
	}
	if oi.begun {
		oi.pi.w.Abort(ctx)
	}
}

// produceAll reads the object to its end and produces the records from the
// progress on, beginning the transaction at the first of them. On an error it
// aborts what it began.
func (oi *objectImport) produceAll(ctx context.Context, gr *objset.DrainValues) error {
	// One Record for all: the writer copies what it sends, and each decoded
	// record's bytes are its own.
	var rec record.Record
	for {
		rec = record.Record{Offset: -1}
		err := gr.Next(&rec)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			oi.abort(ctx)
			return err
		}
		oi.seen++
		off, err := oi.src.offset(&rec, oi.end)
		if err != nil {
			oi.abort(ctx)
			return err
		}
		oi.end = off + 1
		if off < oi.pi.next {
			oi.skipped++
			continue
		}
		if !oi.begun {
			if err := oi.pi.begin(); err != nil {
				return err
			}
			oi.begun = true
		}
		oi.produce(ctx, &rec, off)
	}
}

// produce sends one record, at source offset off, into the transaction.
func (oi *objectImport) produce(ctx context.Context, rec *record.Record, off int64) {
	pi := oi.pi
	rec.Topic, rec.Partition, rec.Offset = pi.t.target, pi.t.src.Partition, off
	// A record keeps the timestamp its object carried (native objects
	// have them); formats without timestamps (JSON, bytes) leave it zero,
	// and the producer stamps the time of the import.
	var onAck func(int64)
	if oi.c != nil {
		// Acks arrive on the producer's goroutines while this loop grows
		// the slices, so each gets a cell of its own.
		dst := oi.cells.New()
		oi.c.Src = append(oi.c.Src, off)
		oi.acks = append(oi.acks, dst)
		onAck = func(o int64) { *dst = o }
	}
	if oi.first < 0 {
		oi.first = off
	}
	if pi.batch != nil {
		pi.batch.Produce(ctx, rec, onAck)
	} else {
		pi.w.Produce(ctx, rec, onAck)
	}
	oi.n++
	oi.bytes += int64(rec.Size())
}

// commit commits the transaction with the new progress, which records where
// the object's offsets came from.
func (oi *objectImport) commit(ctx context.Context) error {
	pi := oi.pi
	origin := progressOrigin{key: oi.g.Values.Key, counted: !oi.src.exact}
	offsets := []kafka.GroupOffset{{Group: pi.group, Topic: pi.t.target, Partition: pi.t.src.Partition, Offset: oi.end, Metadata: origin.metadata()}}
	if err := pi.w.Commit(ctx, offsets); err != nil {
		return err
	}
	pi.commits++
	pi.origin = origin
	return nil
}

// report tells o.OnCommit, the summary, the metrics and the progress bar what
// the committed transaction wrote; next is the progress it committed.
func (oi *objectImport) report(next int64) {
	pi := oi.pi
	if c := oi.c; c != nil {
		c.Next, c.Dst = next, make([]int64, len(oi.acks))
		for i, d := range oi.acks {
			c.Dst[i] = *d
		}
		pi.o.OnCommit(*c)
	}
	pi.col.Update(pi.t.src.Topic, pi.t.src.Partition, func(ps *PartitionSummary) {
		if ps.FirstOffset < 0 {
			ps.FirstOffset = oi.first
		}
		ps.LastOffset = oi.end - 1
		ps.Records += oi.n
		ps.Bytes += oi.bytes
		if !oi.lane {
			ps.Objects++
		}
	})
	pi.metrics.ObjectImported(pi.t.src.Topic, pi.t.src.Partition, oi.n, oi.bytes)
	if pi.o.Progress != nil {
		pi.o.Progress.Add(oi.n, oi.bytes)
	}
}

// open creates the partition's writer unless it exists.
func (pi *partitionImport) open(ctx context.Context) error {
	if pi.w != nil {
		return nil
	}
	// An at-least-once writer still fences the exactly-once id: a killed
	// exactly-once run's open transaction would otherwise hold back
	// read_committed readers until the broker times it out.
	id := importTxnID(pi.group, pi.t.target, pi.t.src.Partition)
	txnID, opts := id, []kafka.TxnOption(nil)
	if pi.o.AtLeastOnce {
		txnID, opts = "", []kafka.TxnOption{kafka.FenceID(id)}
	}
	w, err := kafka.NewTxnWriter(ctx, pi.cfg, txnID, pi.o.Producer, opts...)
	if err != nil {
		return err
	}
	pi.w = w
	return nil
}

// begin starts a transaction on the writer resume opened.
func (pi *partitionImport) begin() error {
	if pi.batch != nil {
		return pi.batch.Begin()
	}
	if pi.w == nil {
		return fmt.Errorf("import %s/%d: %w", pi.t.src.Topic, pi.t.src.Partition, kafka.ErrNotResumed)
	}
	return pi.w.Begin()
}
