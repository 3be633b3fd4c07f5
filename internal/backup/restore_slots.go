package backup

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
)

// restoreSlots restores the tasks slot by slot (pipeline.TxnSlot): one
// transactional writer per slot (per target max.message.bytes within it),
// --parallelism slots at a time, each transaction carrying whole objects of
// several partitions with their progress and translated group offsets
// (pipeline.TxnBatch). Before any writing every slot's id, and the
// per-partition ids of an older kferry where its progress shows one
// (pipeline.LegacyTxnIDs), is fenced, and then the progress of every
// partition read stable, once (kafka.Client.ResumeRun).
func (r *restoreRun) restoreSlots(ctx context.Context, tasks []restoreTask) error {
	progress := r.o.progressGroup(r.m)
	slots := pipeline.SlotOf(tasks, func(t restoreTask) (string, int32, int64) { return t.target, t.src.Partition, t.src.Records })
	ids := make([]string, 0, len(slots))
	for _, st := range slots {
		ids = append(ids, r.slotID(st))
	}
	parts := make([]kafka.TopicPartition, 0, len(tasks))
	for _, t := range tasks {
		parts = append(parts, kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition})
	}
	legacy, err := pipeline.LegacyTxnIDs(ctx, r.kc, progress, parts, slotsWord, restoreTxnID)
	if err != nil {
		return err
	}
	resumed, err := r.kc.ResumeRun(ctx, progress, append(ids, legacy...), parts)
	if err != nil {
		return err
	}
	defer r.pool.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pipeline.SlotParallelism(r.o.Parallelism))
	for _, st := range slots {
		g.Go(func() error {
			p := resumed
			tp := kafka.TopicPartition{Topic: st[0].target, Partition: st[0].src.Partition}
			return pipeline.RestartOnTransient(gctx, r.log, "restore", tp, r.kc.Config().Timeout, func() (bool, error) {
				var commits int
				err := r.slotOnce(gctx, st, p, &commits)
				p = nil // a restart fences the slot again and rereads its progress
				return commits > 0, err
			})
		})
	}
	return g.Wait()
}

// slotID is the transactional id of the slot of tasks.
func (r *restoreRun) slotID(tasks []restoreTask) string {
	return pipeline.SlotTxnID(r.o.progressGroup(r.m), pipeline.Shard{}, pipeline.TxnSlot(tasks[0].target, tasks[0].src.Partition))
}

// slotOnce restores the partitions of one slot from their committed progress
// on, counting the transactions committed in commits. resumed is the run's
// progress; nil (a restart) fences the slot and reads its partitions again.
func (r *restoreRun) slotOnce(ctx context.Context, tasks []restoreTask, resumed *kafka.RunProgress, commits *int) error {
	progress := r.o.progressGroup(r.m)
	id := r.slotID(tasks)
	if resumed == nil {
		parts := make([]kafka.TopicPartition, 0, len(tasks))
		for _, t := range tasks {
			parts = append(parts, kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition})
		}
		var err error
		if resumed, err = r.kc.ResumeRun(ctx, progress, []string{id}, parts); err != nil {
			return err
		}
	}
	// A writer's batch limit is one for all its topics: the slot's
	// partitions are written by one writer per target max.message.bytes,
	// one after the other (the same id: each fences the one before).
	tasks = append([]restoreTask(nil), tasks...)
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].batchMax < tasks[j].batchMax })
	for len(tasks) > 0 {
		n := 1
		for n < len(tasks) && tasks[n].batchMax == tasks[0].batchMax {
			n++
		}
		var w *kafka.TxnWriter
		var err error
		if r.o.AtLeastOnce { // no transactional id: fenced with the run (see import's slotOnce)
			w, err = r.pool.Get(ctx, r.kc.Config(), tasks[0].batchMax, kafka.WriterOptions{}, kafka.ResumedBy(resumed))
		} else {
			w, err = kafka.NewTxnWriter(ctx, r.kc.Config(), id, kafka.WriterOptions{}, kafka.BatchMaxBytes(tasks[0].batchMax), kafka.ResumedBy(resumed))
		}
		if err != nil {
			return err
		}
		err = r.writeSlot(ctx, w, tasks[:n], resumed.Offsets, progress, commits)
		if r.o.AtLeastOnce {
			r.pool.Put(w, tasks[0].batchMax, err == nil)
		} else {
			w.Close()
		}
		if err != nil {
			return err
		}
		tasks = tasks[n:]
	}
	return nil
}

// writeSlot restores tasks through w, in transactions of several objects,
// and then commits the groups past every restored record.
func (r *restoreRun) writeSlot(ctx context.Context, w *kafka.TxnWriter, tasks []restoreTask, done map[kafka.TopicPartition]kafka.GroupOffset, progress string, commits *int) error {
	batch := pipeline.NewTxnBatch(w, r.o.TxnObjects)
	prs := make([]*partitionRestore, 0, len(tasks))
	for _, t := range tasks {
		pr := &partitionRestore{t: t, o: r.o, w: w, batch: batch, run: r, progress: progress, next: t.src.StartOffset, lastDst: -1, started: r.o.Since.IsZero(), commits: commits}
		prs = append(prs, pr)
		err := pr.resume(ctx, r.kc, done)
		if err == nil {
			err = pr.restoreObjects(ctx)
		}
		if err != nil {
			batch.Abort(ctx)
			return err
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return err
	}
	for _, pr := range prs {
		if err := pr.finishGroups(ctx, r.kc); err != nil {
			return err
		}
	}
	return nil
}

// resume sets the partition's progress from done (read after fencing) and
// the group offsets still to translate.
func (pr *partitionRestore) resume(ctx context.Context, kc *kafka.Client, done map[kafka.TopicPartition]kafka.GroupOffset) error {
	t, log := pr.t, pr.run.log
	prev, resumed := done[kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition}]
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
	return nil
}

// restoreObjects restores the partition's objects past its progress.
func (pr *partitionRestore) restoreObjects(ctx context.Context) error {
	for _, obj := range pr.t.src.Objects {
		if obj.LastOffset < pr.next || pr.stopped {
			continue
		}
		if err := pr.restoreObject(ctx, obj); err != nil {
			return fmt.Errorf("restore %s/%d: %w", pr.t.topic, pr.t.src.Partition, err)
		}
	}
	return nil
}

// restoreObject restores the records of obj from pr.next on into the slot's
// transaction, which it joins only once the object's bytes and count match
// the manifest, and commits that once it is full.
func (pr *partitionRestore) restoreObject(ctx context.Context, obj manifest.Object) error {
	info := catalog.ObjectInfo{Key: obj.Key, Size: obj.Size, Object: layout.Object{Topic: pr.t.topic, Partition: pr.t.src.Partition, StartOffset: obj.FirstOffset, View: layout.ViewValues, Ext: ".kfr"}}
	hr, err := objset.OpenHashed(ctx, pr.run.b, info, pr.o.Key)
	if err != nil {
		return err
	}
	defer hr.Close()
	if err := pr.batch.Begin(); err != nil {
		return err
	}
	rs, err := pr.produceObject(ctx, hr)
	if err != nil {
		return err
	}
	if err := hr.Check(obj, rs.seen); err != nil {
		pr.batch.Abort(ctx)
		return err
	}
	pr.joinObject(obj, rs)
	if pr.batch.Full() {
		return pr.batch.Commit(ctx)
	}
	return nil
}

// joinObject adds the object to the slot's transaction with the partition's
// new progress and the offsets of the groups its records reached (a group's
// committed source offset O becomes the target offset of the first restored
// record whose source offset is ≥ O; the target offsets are read at commit,
// once acknowledged). The partition moves on at once; the summary, and the
// target offset a later end-of-partition group needs, follow the commit.
func (pr *partitionRestore) joinObject(obj manifest.Object, rs restoredRecords) {
	next := pr.next
	if !pr.stopped {
		next = obj.LastOffset + 1
	}
	meta := restoreMeta{sincePassed: pr.started && !pr.o.Since.IsZero(), lineage: pr.t.src.Lineage, hasLineage: true, slots: true}
	own := kafka.GroupOffset{Group: pr.progress, Topic: pr.t.target, Partition: pr.t.src.Partition, Offset: next, Metadata: meta.String()}
	type translated struct {
		group string
		dst   *int64
	}
	var moved []translated
	var keep []manifest.GroupOffset
	acks := rs.acks
	for _, g := range pr.pending {
		i := sort.Search(len(acks), func(i int) bool { return acks[i].src >= g.Offset })
		if i < len(acks) {
			moved = append(moved, translated{group: g.Metadata, dst: acks[i].dst})
			continue
		}
		keep = append(keep, g)
	}
	pr.pending, pr.next = keep, next
	pr.batch.Add(func() []kafka.GroupOffset {
		offsets := []kafka.GroupOffset{own}
		for _, m := range moved {
			offsets = append(offsets, kafka.GroupOffset{Group: m.group, Topic: pr.t.target, Partition: pr.t.src.Partition, Offset: *m.dst})
		}
		return offsets
	}, func() {
		*pr.commits++
		if len(acks) > 0 {
			pr.lastDst = *acks[len(acks)-1].dst
		}
		pr.run.col.Update(pr.t.topic, pr.t.src.Partition, func(ps *pipeline.PartitionSummary) {
			if ps.FirstOffset < 0 {
				ps.FirstOffset = obj.FirstOffset
			}
			ps.LastOffset = next - 1
			ps.Records += rs.n
			ps.Bytes += rs.bytes
			ps.Objects++
		})
		if pr.o.Progress != nil {
			pr.o.Progress.Add(rs.n, rs.bytes)
		}
	})
}
