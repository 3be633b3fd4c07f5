package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/arena"
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
	// TxnObjects bounds the objects one transaction carries
	// (pipeline.TxnBatchObjects when 0; 1: one per object).
	TxnObjects  int
	Key         *seal.Key // decrypts an encrypted backup
	Parallelism int
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
// their keys, values, headers and timestamps, in Kafka transactions of whole
// objects (of several partitions: restoreSlots) together with the restore's
// progress and the translated consumer-group offsets, so a restore killed at
// any moment and run again writes every record once.
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
	run := &restoreRun{kc: kc, b: b, m: m, o: &o, col: col, log: log}
	err = run.restoreSlots(ctx, tasks)
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
	batch    *pipeline.TxnBatch // the slot's transaction, through w
	run      *restoreRun
	progress string
	next     int64 // next source offset to restore
	started  bool  // the --since point was passed (always true without --since)
	stopped  bool  // the --until point was reached
	pending  []manifest.GroupOffset
	lastDst  int64 // target offset of the last restored record
	commits  *int  // counts the objects committed (see restoreRun.restoreSlots)
}

// restoreRun is what every partition of one restore shares.
type restoreRun struct {
	kc  *kafka.Client
	b   *blob.Bucket
	m   *manifest.Manifest
	o   *RestoreOptions
	col *pipeline.Collector
	log *slog.Logger
	// pool lends the at-least-once slots their writers.
	pool pipeline.WriterPool
}

// restoreTxnID is the transactional id an older kferry's restore wrote one
// target partition with (one writer per partition); a restore now writes
// through slots (pipeline.SlotTxnID) and only fences it when the progress
// shows such a writer (pipeline.LegacyTxnIDs).
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
	var cells arena.Arena[int64] // a cell per record for its ack, from shared blocks
	// One Record for all: the writer copies what it sends, and each decoded
	// record's bytes are its own.
	var rec record.Record
	for {
		rec = record.Record{Offset: -1}
		err := hr.Next(&rec)
		if errors.Is(err, io.EOF) {
			return rs, nil
		}
		if err != nil {
			pr.batch.Abort(ctx)
			return restoredRecords{}, err
		}
		rs.seen++
		if !pr.take(&rec) {
			continue
		}
		rec.Topic, rec.Partition = pr.t.target, pr.t.src.Partition
		dst := cells.New()
		rs.acks = append(rs.acks, restoredAck{src: rec.Offset, dst: dst})
		pr.batch.Produce(ctx, &rec, func(off int64) { *dst = off })
		rs.n++
		rs.bytes += int64(rec.Size())
	}
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
