package backup

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/manifest"
)

// restoreMeta is the commit metadata of a restore's progress on one target
// partition: the lineage of the source partition whose offsets the progress
// counts (a topic deleted and recreated at the source starts a new lineage,
// whose offsets start over), and whether the --since point lies behind (so a
// resumed restore does not skip early-stamped records that follow it).
// Written as space-separated words: "lineage=1 since-passed txn=slots";
// progress of an older kferry has no lineage word, and progress committed by
// a per-partition writer (kferry before the transactional slots) no txn word.
type restoreMeta struct {
	sincePassed bool
	lineage     int
	hasLineage  bool
	// slots: committed by a slot writer (pipeline.TxnSlot).
	slots bool
}

const (
	sincePassedWord = "since-passed"
	lineageWord     = "lineage="
	slotsWord       = "txn=slots"
)

func parseRestoreMeta(s string) restoreMeta {
	var m restoreMeta
	for _, w := range strings.Fields(s) {
		if w == sincePassedWord {
			m.sincePassed = true
		} else if w == slotsWord {
			m.slots = true
		} else if v, ok := strings.CutPrefix(w, lineageWord); ok {
			if l, err := strconv.Atoi(v); err == nil && l >= 0 {
				m.lineage, m.hasLineage = l, true
			}
		}
	}
	return m
}

func (m restoreMeta) String() string {
	var words []string
	if m.hasLineage {
		words = append(words, lineageWord+strconv.Itoa(m.lineage))
	}
	if m.sincePassed {
		words = append(words, sincePassedWord)
	}
	if m.slots {
		words = append(words, slotsWord)
	}
	return strings.Join(words, " ")
}

// checkLineages compares the lineage each target partition's progress names
// with the backup's: when the source topic was recreated since (another
// lineage, or a partition the new topic no longer has), the target topic may
// take the new lineage only if it holds no records (it was deleted and
// recreated too, or never got any); otherwise the restore stops, before
// anything is written, with ErrLineageChanged saying what to do.
func checkLineages(ctx context.Context, kc *kafka.Client, m *manifest.Manifest, selected []string, targetOf map[string]string, progress string, log *slog.Logger) error {
	var targets []string
	for _, src := range selected {
		targets = append(targets, targetOf[src])
	}
	done, err := kc.CommittedOffsetsMeta(ctx, progress, targets)
	if err != nil {
		return err
	}
	for _, src := range selected {
		if err := checkTopicLineage(ctx, kc, m, m.Topic(src), targetOf[src], done[targetOf[src]], log); err != nil {
			return err
		}
	}
	return nil
}

// checkTopicLineage is checkLineages for topic t restored into target, whose
// partitions' progress is done.
func checkTopicLineage(ctx context.Context, kc *kafka.Client, m *manifest.Manifest, t *manifest.Topic, target string, done map[int32]kafka.GroupOffset, log *slog.Logger) error {
	var stale []int32
	for p, off := range done {
		meta := parseRestoreMeta(off.Metadata)
		if !meta.hasLineage {
			continue
		}
		if mp := t.PartitionByID(p); mp == nil || mp.Lineage != meta.lineage {
			stale = append(stale, p)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	slices.Sort(stale)
	ranges, err := kc.Ranges(ctx, []string{target})
	if err != nil {
		return err
	}
	ranges = slices.DeleteFunc(ranges, func(r kafka.PartitionRange) bool { return r.End <= r.Start })
	held, err := pipeline.FirstHoldingRecords(ctx, kc, ranges)
	if err != nil {
		return err
	}
	p := stale[0]
	old := parseRestoreMeta(done[p].Metadata)
	if held != nil {
		return lineageError(m, t, target, p, old.lineage, done[p].Offset)
	}
	log.Warn("the source topic was deleted and recreated; the target topic holds no records, so the new lineage is restored into it from its start", "topic", t.Name, "target", target, "partitions", fmt.Sprint(stale))
	return nil
}

// checkFresh refuses to restore a new lineage into the target partition if it
// holds records (of the old lineage, prev's).
func (pr *partitionRestore) checkFresh(ctx context.Context, kc *kafka.Client, prev kafka.GroupOffset, meta restoreMeta) error {
	ranges, err := kc.Ranges(ctx, []string{pr.t.target})
	if err != nil {
		return err
	}
	ranges = slices.DeleteFunc(ranges, func(r kafka.PartitionRange) bool {
		return r.Partition != pr.t.src.Partition || r.End <= r.Start
	})
	held, err := pipeline.FirstHoldingRecords(ctx, kc, ranges)
	if err != nil || held == nil {
		return err
	}
	return fmt.Errorf("%w: %s/%d holds records of lineage %d (restored up to source offset %d) but the backup holds lineage %d; delete the target topic %s and run the restore again", pipeline.ErrLineageChanged, pr.t.target, pr.t.src.Partition, meta.lineage, prev.Offset, pr.t.src.Lineage, pr.t.target)
}

func lineageError(m *manifest.Manifest, t *manifest.Topic, target string, p int32, oldLineage int, next int64) error {
	now := "no partition " + strconv.Itoa(int(p))
	if mp := t.PartitionByID(p); mp != nil {
		now = fmt.Sprintf("lineage %d of partition %d from offset %d", mp.Lineage, p, mp.StartOffset)
	}
	return fmt.Errorf("%w: backup %s holds %s of %s, but the target %s holds records of lineage %d (restored up to source offset %d); one topic must not mix them: delete the target topic %s (its consumers start over on the new one) and run the restore again, which restores the new lineage from its start",
		pipeline.ErrLineageChanged, m.ID, now, t.Name, target, oldLineage, next, target)
}
