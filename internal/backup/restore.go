package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// ErrTargetConfig means an existing target topic's cleanup.policy differs from
// the backed-up topic's.
var ErrTargetConfig = errors.New("target topic config differs")

// RestoreOptions configure a restore.
type RestoreOptions struct {
	Selector          plan.Selector
	Renames           layout.Renames
	BackupID          string // "" = newest
	Since, Until      time.Time
	Groups            *regexp.Regexp // groups to translate; nil = all in the manifest
	ReplicationFactor int16
	Force             bool
	AtLeastOnce       bool
	Key               *seal.Key // decrypts an encrypted backup
	Parallelism       int
	// IncludeDeleted restores topics that were deleted from the source
	// (manifest.Topic.DeletedIn); without it they are skipped with a warning,
	// unless named in Selector.Names.
	IncludeDeleted bool
	// ProgressGroup records the progress on the target (RestoreGroup of the
	// backup id when ""); restore --follow keeps one across backups, so each
	// new backup resumes where the previous one ended.
	ProgressGroup string
	// SkipActiveGroups leaves groups with members on the target alone (with a
	// warning) instead of refusing the restore: their consumers moved there.
	SkipActiveGroups bool
	// AddPartitions grows an existing target topic that has fewer partitions
	// than the backup (restore --follow: partitions added at the source)
	// instead of refusing it.
	AddPartitions bool
	Progress      pipeline.Progress
	Logger        *slog.Logger
	// DryRun returns the plan (Summary.Plan): no topic is created or grown,
	// no writer fenced, nothing written.
	DryRun bool
}

func (o *RestoreOptions) progressGroup(m *manifest.Manifest) string {
	if o.ProgressGroup != "" {
		return o.ProgressGroup
	}
	return RestoreGroup(m.ID)
}

// RestoreGroup is the consumer group that records a restore's progress: its
// offset on a target partition is the next source offset to restore.
func RestoreGroup(backupID string) string { return "kferry-restore-" + backupID }

type restoreTask struct {
	src    *manifest.Partition
	topic  string // source topic
	target string
	groups []manifest.GroupOffset // user group offsets on this source partition, by offset
	// batchMax is the target topic's max.message.bytes, if set (0: the default).
	batchMax int32
	// resumeAt is the progress an earlier run committed on the target
	// partition (for the plan; a real run reads it again, fenced); -1: none.
	resumeAt int64
}

// Restore writes a backup back into Kafka: topics created with their partition
// counts and configs, records in order into the same partition numbers with
// their keys, values, headers and timestamps, one Kafka transaction per object
// together with the restore's progress and the translated consumer-group offsets,
// so a restore killed at any moment and run again writes every record once.
func Restore(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o RestoreOptions) (pipeline.Summary, error) {
	started := time.Now()
	log := pipeline.Logger(o.Logger)
	m, err := catalog.LoadManifest(ctx, b, o.BackupID, o.Key)
	if err != nil {
		return pipeline.Summary{}, err
	}
	var names []string
	for _, t := range m.Topics {
		names = append(names, t.Name)
	}
	selected, err := plan.Select(names, o.Selector, "backup "+m.ID)
	if err != nil {
		return pipeline.Summary{}, err
	}
	selected, skipped := skipDeleted(m, selected, &o)
	// A manifest that does not account for every offset would restore with
	// records silently missing: refuse it before anything is written.
	if err := checkCoverage(m, selected); err != nil {
		return pipeline.Summary{}, err
	}
	col := pipeline.NewCollector()
	for _, t := range skipped {
		col.Warn(fmt.Sprintf("topic %s was deleted from the source (noticed by backup %s): not restored; --include-deleted (or naming it in --topics) restores it", t.Name, t.DeletedIn))
	}
	tasks, topics, err := prepareRestoreTargets(ctx, kc, m, selected, &o, col, log)
	if err != nil {
		return pipeline.Summary{}, err
	}
	warnGaps(m, tasks, col)
	if o.DryRun {
		return pipeline.Summary{Command: "restore", Bucket: bucketName, Started: started, Plan: restorePlan(kc, bucketName, m, &o, tasks, topics, col)}, nil
	}
	var total int64
	for _, t := range tasks {
		total += t.src.Records
	}
	pipeline.SetTotal(o.Progress, total)
	if !o.AtLeastOnce {
		log.Info("restoring with transactions (exactly once)", "backup", m.ID, "progress_group", o.progressGroup(m))
	} else {
		col.Warn("--at-least-once: no transactions; a restore interrupted and run again may write some records twice")
	}
	par := pipeline.Parallelism(o.Parallelism)
	ids := make([]string, 0, len(tasks))
	for _, t := range tasks {
		ids = append(ids, restoreTxnID(o.progressGroup(m), t.target, t.src.Partition))
	}
	// Every partition's id fenced before any partition resumes (see
	// kafka.Client.FenceTxnIDs); also for --at-least-once (kafka.FenceID).
	if err := kc.FenceTxnIDs(ctx, ids); err != nil {
		return pipeline.Summary{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	run := &restoreRun{kc: kc, b: b, m: m, o: &o, col: col, log: log}
	for _, t := range tasks {
		g.Go(func() error { return run.partition(gctx, t) })
	}
	err = g.Wait()
	s := col.Summary("restore", bucketName, started)
	if err != nil {
		return s, err
	}
	log.Info("restore done", "backup", m.ID, "records", s.Records, "seconds", s.Seconds)
	return s, nil
}

// skipDeleted drops from selected the topics deleted from the source, unless
// o includes them or names them, and returns them.
func skipDeleted(m *manifest.Manifest, selected []string, o *RestoreOptions) ([]string, []*manifest.Topic) {
	if o.IncludeDeleted {
		return selected, nil
	}
	var keep []string
	var skipped []*manifest.Topic
	for _, name := range selected {
		if t := m.Topic(name); t.Deleted() && !slices.Contains(o.Selector.Names, name) {
			skipped = append(skipped, t)
			continue
		}
		keep = append(keep, name)
	}
	return keep, skipped
}

// warnGaps puts every recorded retention gap of the restored partitions into
// the summary: as a warning line and on the partition.
func warnGaps(m *manifest.Manifest, tasks []restoreTask, col *pipeline.Collector) {
	for _, t := range tasks {
		gaps := partitionGaps(t.topic, t.src)
		if len(gaps) == 0 {
			continue
		}
		for _, g := range gaps {
			col.Warn(fmt.Sprintf("%s, so they are not restored either (recorded in backup %s)", g, m.ID))
		}
		col.Update(t.topic, t.src.Partition, func(ps *pipeline.PartitionSummary) { ps.Gaps = append(ps.Gaps, t.src.Gaps...) })
	}
}

// partitionsOf is the partition count a target of t needs: the backed-up
// count, or more when the manifest has entries past it (a backup whose topic
// description was older than its partition listing).
func partitionsOf(t *manifest.Topic) int {
	n := t.Partitions
	for _, p := range t.Partition {
		n = max(n, int(p.Partition)+1)
	}
	return n
}

func policy(configs map[string]string) string {
	if p, ok := configs["cleanup.policy"]; ok {
		return p
	}
	return "delete"
}

// partitionRestore carries one partition's state across its objects.
type partitionRestore struct {
	t        restoreTask
	o        *RestoreOptions
	w        *kafka.TxnWriter
	progress string
	next     int64 // next source offset to restore
	started  bool  // the --since point was passed (always true without --since)
	stopped  bool  // the --until point was reached
	pending  []manifest.GroupOffset
	lastDst  int64 // target offset of the last restored record
	commits  *int  // counts the objects committed (see restoreRun.partition)
}

// restoreRun is what every partition of one restore shares.
type restoreRun struct {
	kc  *kafka.Client
	b   *blob.Bucket
	m   *manifest.Manifest
	o   *RestoreOptions
	col *pipeline.Collector
	log *slog.Logger
}

// partition restores one partition, starting over from its committed progress
// after a Kafka fault (pipeline.RestartOnTransient).
func (r *restoreRun) partition(ctx context.Context, t restoreTask) error {
	tp := kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition}
	return pipeline.RestartOnTransient(ctx, r.log, "restore", tp, r.kc.Config().Timeout, func() (bool, error) {
		var commits int
		err := r.partitionOnce(ctx, t, &commits)
		return commits > 0, err
	})
}

// partitionOnce restores one partition from its committed progress on: fence,
// stable read, then one transaction per object, counted in commits.
func (r *restoreRun) partitionOnce(ctx context.Context, t restoreTask, commits *int) error {
	kc, b, m, o, col, log := r.kc, r.b, r.m, r.o, r.col, r.log
	pr := &partitionRestore{t: t, o: o, progress: o.progressGroup(m), next: t.src.StartOffset, lastDst: -1, started: o.Since.IsZero(), commits: commits}
	// An at-least-once writer still fences the exactly-once id (see open in
	// import_txn.go).
	id := restoreTxnID(pr.progress, t.target, t.src.Partition)
	txnID, opts := id, []kafka.TxnOption{kafka.BatchMaxBytes(t.batchMax)}
	if o.AtLeastOnce {
		txnID, opts = "", append(opts, kafka.FenceID(id))
	}
	var err error
	if pr.w, err = kafka.NewTxnWriter(ctx, kc.Config(), txnID, kafka.WriterOptions{}, opts...); err != nil {
		return err
	}
	defer pr.w.Close()
	tp := kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition}
	done, err := pr.w.Resume(ctx, pr.progress, tp)
	if err != nil {
		return err
	}
	prev, resumed := done[tp]
	if resumed {
		meta := parseRestoreMeta(prev.Metadata)
		switch {
		case meta.hasLineage && meta.lineage != t.src.Lineage:
			// The source topic was recreated: the progress counts offsets of
			// the old lineage. checkLineages made sure the target topic holds
			// none of its records; this partition is checked again now that
			// the previous writer is fenced.
			if err := pr.checkFresh(ctx, kc, prev, meta); err != nil {
				return err
			}
			log.Warn("the source topic was recreated: restoring its new lineage from the start into the empty target partition", "topic", t.target, "partition", t.src.Partition, "lineage", t.src.Lineage, "start_offset", t.src.StartOffset)
			resumed = false
		default:
			pr.next = prev.Offset
			pr.started = pr.started || meta.sincePassed
			log.Info("resuming", "topic", t.target, "partition", t.src.Partition, "next_source_offset", prev.Offset)
			if !meta.hasLineage {
				// Progress of an older kferry: name its lineage now, so that a
				// later recreation of the source topic is noticed.
				meta.lineage, meta.hasLineage = t.src.Lineage, true
				if err := pr.w.CommitPlain(ctx, []kafka.GroupOffset{{Group: pr.progress, Topic: t.target, Partition: t.src.Partition, Offset: prev.Offset, Metadata: meta.String()}}); err != nil {
					return err
				}
			}
		}
	}
	for _, g := range t.groups {
		// A group whose offset lies before the resume point went out in the
		// transaction that restored its record.
		if !resumed || g.Offset >= pr.next {
			pr.pending = append(pr.pending, g)
		}
	}
	for _, obj := range t.src.Objects {
		if obj.LastOffset < pr.next || pr.stopped {
			continue
		}
		n, bytes, err := pr.restoreObject(ctx, b, obj)
		if err != nil {
			return fmt.Errorf("restore %s/%d: %w", t.topic, t.src.Partition, err)
		}
		col.Update(t.topic, t.src.Partition, func(ps *pipeline.PartitionSummary) {
			if ps.FirstOffset < 0 {
				ps.FirstOffset = obj.FirstOffset
			}
			ps.LastOffset = pr.next - 1
			ps.Records += n
			ps.Bytes += bytes
			ps.Objects++
		})
		if o.Progress != nil {
			o.Progress.Add(n, bytes)
		}
	}
	return pr.finishGroups(ctx, kc)
}

// restoreTxnID is the transactional id of a restore's writer of one target
// partition: a rerun (or restore --follow's next round) uses the same id, so
// its writer fences the previous one.
func restoreTxnID(progress, target string, partition int32) string {
	return fmt.Sprintf("%s-%s-%d", progress, target, partition)
}

// take reports whether rec is restored, applying the resume point, --since and
// --until (Kafka's offsets-for-times rule: everything before the first record
// stamped after --until).
func (pr *partitionRestore) take(rec *record.Record) bool {
	switch {
	case rec.Offset < pr.next || pr.stopped:
		return false
	case !pr.o.Until.IsZero() && rec.Timestamp.After(pr.o.Until):
		pr.stopped = true
		pr.next = rec.Offset
		return false
	case !pr.started && rec.Timestamp.Before(pr.o.Since):
		return false
	}
	pr.started = true
	return true
}

// restoreObject restores the records of obj from pr.next on in one transaction,
// committed only if the object's bytes and count match the manifest.
func (pr *partitionRestore) restoreObject(ctx context.Context, b *blob.Bucket, obj manifest.Object) (int64, int64, error) {
	info := catalog.ObjectInfo{Key: obj.Key, Size: obj.Size, Object: layout.Object{Topic: pr.t.topic, Partition: pr.t.src.Partition, StartOffset: obj.FirstOffset, View: layout.ViewValues, Ext: ".kfr"}}
	hr, err := objset.OpenHashed(ctx, b, info, pr.o.Key)
	if err != nil {
		return 0, 0, err
	}
	defer hr.Close()
	if err := pr.w.Begin(); err != nil {
		return 0, 0, err
	}
	rs, err := pr.produceObject(ctx, hr)
	if err != nil {
		return 0, 0, err
	}
	if err := hr.Check(obj, rs.seen); err != nil {
		pr.w.Abort(ctx)
		return 0, 0, err
	}
	// The group offsets below need every record's target offset (acks).
	if err := pr.w.Flush(ctx); err != nil {
		pr.w.Abort(ctx)
		return 0, 0, err
	}
	if err := pr.commitObject(ctx, obj, rs.n > 0, rs.acks); err != nil {
		return 0, 0, err
	}
	return rs.n, rs.bytes, nil
}

// restoredAck pairs a restored record's source offset with the cell its
// target offset arrives in when the producer acknowledges it.
type restoredAck struct {
	src int64
	dst *int64
}

// restoredRecords is what produceObject sent of one object: n records of
// bytes, out of seen read, and their acks in order.
type restoredRecords struct {
	n, bytes, seen int64
	acks           []restoredAck
}

// produceObject reads hr to its end and produces the records take admits
// into the open transaction, which it aborts on a read error.
func (pr *partitionRestore) produceObject(ctx context.Context, hr *objset.Hashed) (restoredRecords, error) {
	var rs restoredRecords
	for {
		rec := record.Record{Offset: -1}
		err := hr.Next(&rec)
		if errors.Is(err, io.EOF) {
			return rs, nil
		}
		if err != nil {
			pr.w.Abort(ctx)
			return restoredRecords{}, err
		}
		rs.seen++
		if !pr.take(&rec) {
			continue
		}
		rec.Topic, rec.Partition = pr.t.target, pr.t.src.Partition
		dst := new(int64)
		rs.acks = append(rs.acks, restoredAck{src: rec.Offset, dst: dst})
		pr.w.Produce(ctx, &rec, func(off int64) { *dst = off })
		rs.n++
		rs.bytes += int64(rec.Size())
	}
}

// commitObject commits the transaction (wrote: it holds records) with the
// partition's new progress and the offsets of the groups the restored records
// reached, and then advances pr.
func (pr *partitionRestore) commitObject(ctx context.Context, obj manifest.Object, wrote bool, acks []restoredAck) error {
	next := pr.next
	if !pr.stopped {
		next = obj.LastOffset + 1
	}
	meta := restoreMeta{sincePassed: pr.started && !pr.o.Since.IsZero(), lineage: pr.t.src.Lineage, hasLineage: true}
	offsets := []kafka.GroupOffset{{Group: pr.progress, Topic: pr.t.target, Partition: pr.t.src.Partition, Offset: next, Metadata: meta.String()}}
	// A group's committed source offset O becomes the target offset of the first
	// restored record whose source offset is ≥ O, in the same transaction.
	var keep []manifest.GroupOffset
	for _, g := range pr.pending {
		i := sort.Search(len(acks), func(i int) bool { return acks[i].src >= g.Offset })
		if i < len(acks) {
			offsets = append(offsets, kafka.GroupOffset{Group: g.Metadata, Topic: pr.t.target, Partition: pr.t.src.Partition, Offset: *acks[i].dst})
			continue
		}
		keep = append(keep, g)
	}
	var err error
	if wrote || !pr.w.Transactional() {
		err = pr.w.Commit(ctx, offsets)
	} else {
		// A transaction without records cannot carry offsets; nothing was
		// written, so committing the progress plainly keeps it exact.
		pr.w.Abort(ctx)
		err = pr.w.CommitPlain(ctx, offsets)
	}
	if err != nil {
		return err
	}
	*pr.commits++
	if len(acks) > 0 {
		pr.lastDst = *acks[len(acks)-1].dst
	}
	pr.pending, pr.next = keep, next
	return nil
}

// finishGroups commits the groups whose offsets lie beyond every restored record:
// they land at the end of the target partition.
func (pr *partitionRestore) finishGroups(ctx context.Context, kc *kafka.Client) error {
	if len(pr.pending) == 0 {
		return nil
	}
	// The end is the target partition's end offset, not lastDst+1: the last
	// transaction's commit marker follows the last record, and a group that had
	// read everything must sit after it (or it lags by one forever).
	end, err := pr.endAfterMarker(ctx, kc)
	if err != nil {
		return err
	}
	var offsets []kafka.GroupOffset
	for _, g := range pr.pending {
		offsets = append(offsets, kafka.GroupOffset{Group: g.Metadata, Topic: pr.t.target, Partition: pr.t.src.Partition, Offset: end})
	}
	return pr.w.CommitPlain(ctx, offsets)
}

// endAfterMarker returns the committed end of the target partition (its last
// stable offset), once it lies past the commit marker of the last transaction
// this run wrote. Kafka answers EndTxn when the commit is decided and writes
// the markers afterwards (kfake before it answers): read at once, the end can
// still be lastDst+1, before the marker.
func (pr *partitionRestore) endAfterMarker(ctx context.Context, kc *kafka.Client) (int64, error) {
	timeout := kc.Config().Timeout
	if timeout <= 0 {
		timeout = kafka.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := pr.lastDst >= 0 && pr.w.Transactional()
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		ranges, err := kc.Ranges(ctx, []string{pr.t.target})
		if err != nil {
			return 0, err
		}
		end := pr.lastDst + 1
		for _, r := range ranges {
			if r.Partition == pr.t.src.Partition {
				end = max(end, r.End)
			}
		}
		if !wait || end > pr.lastDst+1 {
			return end, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s/%d: the commit marker after offset %d is not written: %w", pr.t.target, pr.t.src.Partition, pr.lastDst, ctx.Err())
		case <-time.After(pause):
		}
	}
}
