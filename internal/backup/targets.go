package backup

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/manifest"
)

// restoreTargets is what a restore learns about its target topics before it
// writes: the renames, the topics as they are now, and the restore's progress.
type restoreTargets struct {
	kc       *kafka.Client
	m        *manifest.Manifest
	o        *RestoreOptions
	col      *pipeline.Collector
	log      *slog.Logger
	progress string
	targetOf map[string]string // source topic → target topic
	existing map[string]kafka.TopicDetails
	topics   []plan.Topic
	// done is the restore's progress on the target partitions, by target.
	done map[string]map[int32]kafka.GroupOffset
}

// prepareRestoreTargets checks the target cluster against the backup (renames,
// partition counts, cleanup policies, lineages, records not written by this
// restore, idle groups), then creates or grows the target topics, and returns
// one task per partition. In a dry run it changes nothing and only reports
// which topics it would create or grow.
func prepareRestoreTargets(ctx context.Context, kc *kafka.Client, m *manifest.Manifest, selected []string, o *RestoreOptions, col *pipeline.Collector, log *slog.Logger) ([]restoreTask, []plan.Topic, error) {
	rt := &restoreTargets{kc: kc, m: m, o: o, col: col, log: log, progress: o.progressGroup(m)}
	var err error
	if rt.existing, err = kc.DescribeTopics(ctx, nil); err != nil {
		return nil, nil, err
	}
	if rt.targetOf, err = renameAll(selected, o); err != nil {
		return nil, nil, err
	}
	var targets []string
	for _, src := range selected {
		targets = append(targets, rt.targetOf[src])
		if err := rt.checkExisting(ctx, src); err != nil {
			return nil, nil, err
		}
	}
	if rt.done, err = kc.CommittedOffsetsMeta(ctx, rt.progress, targets); err != nil {
		return nil, nil, err
	}
	done := map[string]map[int32]int64{}
	for t, ps := range rt.done {
		done[t] = map[int32]int64{}
		for p, off := range ps {
			done[t][p] = off.Offset
		}
	}
	if err := checkLineages(ctx, kc, m, selected, rt.targetOf, rt.progress, log); err != nil {
		return nil, nil, err
	}
	if err := rt.checkEmpty(ctx, targets, done); err != nil {
		return nil, nil, err
	}
	groupsBy, err := rt.groupOffsets(ctx)
	if err != nil {
		return nil, nil, err
	}
	var tasks []restoreTask
	for _, src := range selected {
		tt, err := rt.createTarget(ctx, src, groupsBy[src])
		if err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, tt...)
	}
	return tasks, rt.topics, nil
}

// renameAll maps each selected topic to its target, refusing two sources
// renamed into one target.
func renameAll(selected []string, o *RestoreOptions) (map[string]string, error) {
	targetOf := map[string]string{}
	sourceOf := map[string]string{}
	for _, src := range selected {
		dst, err := o.Renames.Target(src)
		if err != nil {
			return nil, fmt.Errorf("rename %s: %w", src, err)
		}
		if other, dup := sourceOf[dst]; dup {
			return nil, fmt.Errorf("topics %s and %s would both be restored into %s; refine --rename", other, src, dst)
		}
		sourceOf[dst], targetOf[src] = src, dst
	}
	return targetOf, nil
}

// checkExisting refuses an existing target with too few partitions (or grows
// it with AddPartitions) or another cleanup policy (unless Force).
func (rt *restoreTargets) checkExisting(ctx context.Context, src string) error {
	t, dst := rt.m.Topic(src), rt.targetOf[src]
	cur, ok := rt.existing[dst]
	if !ok {
		return nil
	}
	if need := partitionsOf(t); cur.Partitions < need {
		if !rt.o.AddPartitions {
			return fmt.Errorf("%w: %s has %d partitions but the backup of %s has %d; add partitions first (kafka-topics --alter --topic %s --partitions %d)", pipeline.ErrTargetPartitions, dst, cur.Partitions, src, need, dst, need)
		}
		n, err := catalog.Int32Partitions(src, need)
		if err != nil {
			return err
		}
		rt.topics = append(rt.topics, plan.Topic{Name: dst, Partitions: n, Action: "grow"})
		if !rt.o.DryRun {
			// Partitions added at the source: the standby's topic grows
			// with it before any record is written.
			added, err := rt.kc.GrowPartitions(ctx, dst, need)
			if err != nil {
				return err
			}
			if added {
				rt.log.Info("partitions added to the target, as at the source", "topic", dst, "partitions", need, "were", cur.Partitions)
			}
		}
	} else {
		rt.topics = append(rt.topics, plan.Topic{Name: dst, Partitions: int32(cur.Partitions), Action: "use"}) // #nosec G115 -- a broker's partition count
	}
	want, have := policy(t.Configs), policy(cur.Configs)
	if want != have && !rt.o.Force {
		return fmt.Errorf("%w: %s has cleanup.policy=%s but the backup of %s has %s; pass --force to restore anyway", ErrTargetConfig, dst, have, src, want)
	}
	return nil
}

// checkEmpty refuses a target that holds records unless this restore wrote
// them (then it resumes) or Force says to add to it. A dry run does not fence
// (that would abort a running restore's transaction): it warns instead.
func (rt *restoreTargets) checkEmpty(ctx context.Context, targets []string, done map[string]map[int32]int64) error {
	var check []string
	for _, dst := range targets {
		if _, ok := rt.existing[dst]; ok && len(done[dst]) == 0 {
			check = append(check, dst)
		}
	}
	if len(check) == 0 || rt.o.Force {
		return nil
	}
	ranges, err := rt.kc.Ranges(ctx, check)
	if err != nil {
		return err
	}
	var nonEmpty []kafka.PartitionRange
	for _, r := range ranges {
		if r.End > r.Start {
			nonEmpty = append(nonEmpty, r)
		}
	}
	if rt.o.DryRun {
		r, err := pipeline.FirstHoldingRecords(ctx, rt.kc, nonEmpty)
		if err == nil && r != nil {
			rt.col.Warn(fmt.Sprintf("%s partition %d already holds records at offsets %d–%d: a real run refuses it unless an earlier run of this restore wrote them (--force adds to it)", r.Topic, r.Partition, r.Start, r.End-1))
		}
		return err
	}
	txnIDs := func(topic string, p int32) []string {
		if rt.o.AtLeastOnce {
			return nil
		}
		return []string{pipeline.SlotTxnID(rt.progress, pipeline.Shard{}, pipeline.TxnSlot(topic, p)), restoreTxnID(rt.progress, topic, p)}
	}
	r, err := pipeline.ForeignRecords(ctx, rt.kc, rt.progress, txnIDs, nonEmpty)
	if err != nil || r == nil {
		return err
	}
	hint := ""
	if rt.o.AtLeastOnce {
		hint = " (if an interrupted --at-least-once restore wrote them, --force resumes it; its last object's records may then appear twice)"
	}
	return fmt.Errorf("%w: %s partition %d already holds records at offsets %d–%d; restore into an empty topic, or pass --force to add to it%s", pipeline.ErrTargetNotEmpty, r.Topic, r.Partition, r.Start, r.End-1, hint)
}

// groupOffsets returns the backed-up group offsets to translate, by source
// topic and partition, each carrying its group's name in Metadata. Groups with
// consumers on the target are refused, or skipped with SkipActiveGroups.
func (rt *restoreTargets) groupOffsets(ctx context.Context) (map[string]map[int32][]manifest.GroupOffset, error) {
	groupsBy := map[string]map[int32][]manifest.GroupOffset{}
	var groupNames []string
	for _, g := range rt.m.Groups {
		if rt.o.Groups != nil && !rt.o.Groups.MatchString(g.Group) {
			continue
		}
		groupNames = append(groupNames, g.Group)
		for _, off := range g.Offsets {
			if groupsBy[off.Topic] == nil {
				groupsBy[off.Topic] = map[int32][]manifest.GroupOffset{}
			}
			off.Metadata = g.Group // carry the group name along
			groupsBy[off.Topic][off.Partition] = append(groupsBy[off.Topic][off.Partition], off)
		}
	}
	if !rt.o.SkipActiveGroups {
		return groupsBy, rt.kc.CheckGroupsIdle(ctx, groupNames)
	}
	members, err := rt.kc.GroupMembers(ctx, groupNames)
	if err != nil {
		return nil, err
	}
	for topic, byP := range groupsBy {
		for p, gs := range byP {
			groupsBy[topic][p] = slices.DeleteFunc(gs, func(g manifest.GroupOffset) bool { return members[g.Metadata] > 0 })
		}
	}
	for g, n := range members {
		if n > 0 {
			rt.log.Warn("group has consumers on the target: its offsets there are theirs now, not restored", "group", g, "members", n)
		}
	}
	return groupsBy, nil
}

// createTarget creates src's target topic when missing (with the backed-up
// partition count and configs; not in a dry run) and returns its tasks.
func (rt *restoreTargets) createTarget(ctx context.Context, src string, groups map[int32][]manifest.GroupOffset) ([]restoreTask, error) {
	t, dst := rt.m.Topic(src), rt.targetOf[src]
	// Records as large as the target topic accepts: its own limit, or the
	// backed-up one it is created with.
	// The same for the timestamp type: an existing target stamps records
	// as its own config says.
	limit, tsType := t.Configs["max.message.bytes"], t.Configs["message.timestamp.type"]
	cur, exists := rt.existing[dst]
	if exists {
		limit, tsType = cur.Configs["max.message.bytes"], cur.Configs["message.timestamp.type"]
	}
	batchMax, _ := strconv.ParseInt(limit, 10, 32)
	if !exists {
		partitions, err := catalog.Int32Partitions(src, partitionsOf(t))
		if err != nil {
			return nil, err
		}
		rt.topics = append(rt.topics, plan.Topic{Name: dst, Partitions: partitions, Action: "create", ReplicationFactor: rt.o.ReplicationFactor, Configs: t.Configs})
		if !rt.o.DryRun {
			created, err := rt.kc.CreateTopicWithConfigs(ctx, dst, partitions, rt.o.ReplicationFactor, t.Configs)
			if err != nil {
				return nil, err
			}
			if created {
				rt.log.Info("topic created", "topic", dst, "partitions", partitionsOf(t), "configs", len(t.Configs))
			}
		}
	}
	if tsType == "LogAppendTime" {
		rt.col.Warn(fmt.Sprintf("%s uses LogAppendTime: the broker stamps restored records with the restore time", dst))
	}
	if tsType != "LogAppendTime" {
		if err := rt.warnExpired(ctx, t, dst, exists); err != nil {
			return nil, err
		}
	}
	rt.col.Target(src, dst)
	var tasks []restoreTask
	for i := range t.Partition {
		p := &t.Partition[i]
		rt.col.Partition(src, p.Partition)
		gs := groups[p.Partition]
		sort.Slice(gs, func(a, b int) bool { return gs[a].Offset < gs[b].Offset })
		tasks = append(tasks, restoreTask{src: p, topic: src, target: dst, groups: gs, batchMax: int32(batchMax), resumeAt: rt.resumeAt(dst, p)})
	}
	return tasks, nil
}

// warnExpired warns when records to restore are older than what dst's
// retention keeps: the restore writes them and reports them written, and
// Kafka deletes them at its next retention check.
func (rt *restoreTargets) warnExpired(ctx context.Context, t *manifest.Topic, dst string, exists bool) error {
	// A topic a dry run would create keeps what the backup says it kept.
	ret := kafka.RetentionOf(t.Configs)
	if exists || !rt.o.DryRun {
		var err error
		if ret, err = rt.kc.TopicRetention(ctx, dst); err != nil {
			return err
		}
	}
	cutoff, ok := ret.Expires(time.Now())
	if !ok {
		return nil
	}
	var records int64
	oldest := int64(math.MaxInt64)
	for _, p := range t.Partition {
		for _, obj := range p.Objects {
			skipped := !rt.o.Since.IsZero() && obj.MaxTimestamp < rt.o.Since.UnixMilli()
			if obj.MaxTimestamp < cutoff.UnixMilli() && !skipped {
				records += obj.Records
				oldest = min(oldest, obj.MinTimestamp)
			}
		}
	}
	if records > 0 {
		rt.col.Warn(fmt.Sprintf("%s keeps records for %s (retention.ms): %d records to restore are older (from %s) and Kafka deletes them soon after the restore; "+
			"to keep them, create %s with a longer retention.ms (-1: for ever) first, or restore with --since",
			dst, ret.Age, records, time.UnixMilli(oldest).UTC().Format(time.RFC3339), dst))
	}
	return nil
}

// resumeAt is where a real run resumes target partition p of dst: the
// progress committed there, unless it counts another lineage's offsets (then
// the run starts over, see partitionOnce); -1 for none.
func (rt *restoreTargets) resumeAt(dst string, p *manifest.Partition) int64 {
	off, ok := rt.done[dst][p.Partition]
	if !ok {
		return -1
	}
	if meta := parseRestoreMeta(off.Metadata); meta.hasLineage && meta.lineage != p.Lineage {
		return -1
	}
	return off.Offset
}

// restorePlan describes a restore: each partition's objects and records, the
// target topics, and the group offsets it sets.
func restorePlan(kc *kafka.Client, bucketName string, m *manifest.Manifest, o *RestoreOptions, tasks []restoreTask, topics []plan.Topic, col *pipeline.Collector) *plan.Plan {
	p := &plan.Plan{Command: "restore", From: bucketName + " backup " + m.ID, To: "cluster " + fmt.Sprint(kc.Config().Brokers), Topics: topics, Warnings: col.Warnings()}
	resumed := 0
	for _, t := range tasks {
		// A partition with progress resumes after it, as partitionOnce does:
		// objects below it are skipped, and so are the groups that went out
		// with them.
		from := t.src.StartOffset
		if t.resumeAt >= 0 {
			from = min(max(from, t.resumeAt), t.src.EndOffset)
			resumed++
		}
		task := plan.Task{Topic: t.topic, Partition: t.src.Partition, From: from, To: t.src.EndOffset, Target: t.target}
		for _, obj := range t.src.Objects {
			if obj.LastOffset < from {
				continue
			}
			task.Objects++
			task.Bytes += obj.Size
			task.Records += obj.Records
		}
		p.Tasks = append(p.Tasks, task)
		for _, g := range t.groups {
			if t.resumeAt < 0 || g.Offset >= t.resumeAt {
				p.Groups = append(p.Groups, plan.GroupOffset{Group: g.Metadata, Topic: t.topic, Partition: t.src.Partition, Offset: g.Offset})
			}
		}
	}
	mode := "exactly once: transactions of whole objects of several partitions with their progress, in group " + o.progressGroup(m)
	if o.AtLeastOnce {
		mode = "at least once (no transactions)"
	}
	p.Notes = append(p.Notes, mode)
	if resumed > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d partitions resume after the progress committed by an earlier run", resumed))
	}
	return p
}
