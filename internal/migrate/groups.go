package migrate

import (
	"context"
	"fmt"
	"slices"

	"github.com/kferry/kferry/internal/kafka"
)

// translateGroups commits, for every source group o.Groups selects that has no
// members on the target, the target offsets equivalent to its source offsets
// on the partitions this copy owns (each partition's offsets have one writer).
// final (after the migration stopped caught up) places groups past everything
// at the target's end offsets.
func (mg *migration) translateGroups(ctx context.Context, final bool, owned map[partKey]bool) error {
	if final {
		if _, err := mg.measure(ctx); err != nil {
			return err
		}
	}
	gr := mg.newGroupRound(final)
	if len(gr.topics) == 0 {
		return nil
	}
	if err := gr.readGroups(ctx); err != nil {
		return err
	}
	if len(gr.names) == 0 {
		return nil
	}
	if err := gr.readMembers(ctx); err != nil {
		return err
	}
	out, keys, err := gr.place(ctx, owned)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	if err := mg.dst.CommitOffsets(ctx, out); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for i, k := range keys {
		mg.committed[k] = out[i].Offset
	}
	mg.m.GroupOffsetsCommitted(len(out))
	mg.log.Info("consumer-group offsets translated onto the target", "offsets", len(out), "groups", len(gr.names), "final", final)
	return nil
}

// groupRound is one call of translateGroups: the source groups it translates
// and the target's end offsets, read once when first needed.
type groupRound struct {
	mg       *migration
	final    bool
	topics   []string          // the source topics being migrated, sorted
	targetOf map[string]string // source topic → target topic
	offsets  []kafka.GroupOffset
	names    []string       // the groups to translate
	onTarget map[string]int // members on the target, per group
	ends     map[partKey]int64
}

// newGroupRound takes the topics being migrated so far.
func (mg *migration) newGroupRound(final bool) *groupRound {
	gr := &groupRound{mg: mg, final: final}
	mg.mu.Lock()
	gr.topics = make([]string, 0, len(mg.targetOf))
	for t := range mg.targetOf {
		gr.topics = append(gr.topics, t)
	}
	gr.targetOf = mg.targetOf
	mg.mu.Unlock()
	slices.Sort(gr.topics)
	return gr
}

// readGroups reads the selected groups' source offsets, leaving out the
// migration's own export and import groups.
func (gr *groupRound) readGroups(ctx context.Context) error {
	mg := gr.mg
	var err error
	if gr.offsets, err = mg.src.GroupOffsets(ctx, mg.o.Groups, gr.topics); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	for _, g := range gr.offsets {
		if g.Group != mg.o.Export.Group && g.Group != mg.o.Import.Group && !slices.Contains(gr.names, g.Group) {
			gr.names = append(gr.names, g.Group)
		}
	}
	return nil
}

// readMembers counts the groups' members on the target and, in the final
// round, warns about groups that still have consumers on the source.
func (gr *groupRound) readMembers(ctx context.Context) error {
	mg := gr.mg
	var err error
	if gr.onTarget, err = mg.dst.GroupMembers(ctx, gr.names); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if gr.final {
		onSource, err := mg.src.GroupMembers(ctx, gr.names)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		for _, g := range gr.names {
			if onSource[g] > 0 {
				mg.log.Warn("group still has consumers on the source: its offsets may move past the ones committed on the target; stop them before the cutover", "group", g, "members", onSource[g])
			}
		}
	}
	return nil
}

// place returns the target offsets to commit on the owned partitions (those
// not committed already) and the keys they are remembered under.
func (gr *groupRound) place(ctx context.Context, owned map[partKey]bool) ([]kafka.GroupOffset, []groupKey, error) {
	var out []kafka.GroupOffset
	var keys []groupKey
	for _, g := range gr.offsets {
		if !slices.Contains(gr.names, g.Group) || !owned[partKey{g.Topic, g.Partition}] {
			continue
		}
		k := groupKey{g.Group, partKey{g.Topic, g.Partition}}
		off, ok, err := gr.targetOffset(ctx, g, k)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if prev, ok := gr.mg.committed[k]; ok && prev == off {
			continue
		}
		out = append(out, kafka.GroupOffset{Group: g.Group, Topic: gr.targetOf[g.Topic], Partition: g.Partition, Offset: off, Metadata: g.Metadata})
		keys = append(keys, k)
	}
	return out, keys, nil
}

// targetOffset is the target offset equivalent to g's source offset; false
// when g is not placed this round (consumers on the target, not settled yet,
// or too far before what this run migrated).
func (gr *groupRound) targetOffset(ctx context.Context, g kafka.GroupOffset, k groupKey) (int64, bool, error) {
	mg := gr.mg
	if gr.onTarget[g.Group] > 0 {
		mg.warnOnce(k, "group has consumers on the target: its offsets there are theirs now, not translated", "group", g.Group, "members", gr.onTarget[g.Group])
		return 0, false, nil
	}
	mg.mu.Lock()
	p := mg.part(g.Topic, g.Partition)
	settled := gr.final || (p.lag == 0 && p.next >= 0)
	pl := p.translate(g.Offset, settled)
	mg.mu.Unlock()
	var off int64
	var err error
	switch pl.kind {
	case placeAt:
		off = pl.off
	case placeEnd:
		if off, err = gr.targetEnd(ctx, g.Topic, g.Partition); err != nil {
			return 0, false, err
		}
	case placeBack:
		if pl.dstAtEnd {
			if pl.dstFrom, err = gr.targetEnd(ctx, g.Topic, g.Partition); err != nil {
				return 0, false, err
			}
		}
		var ok bool
		if off, ok, err = mg.countBack(ctx, g.Topic, gr.targetOf[g.Topic], g.Partition, g.Offset, pl.from, pl.dstFrom); err != nil {
			return 0, false, err
		} else if !ok {
			mg.warnOnce(k, "cannot place a group offset that lies far before what this run migrated (or before the target's log start); the group keeps its earlier translation", "group", g.Group, "topic", g.Topic, "partition", g.Partition, "offset", g.Offset)
			return 0, false, nil
		}
	default:
		return 0, false, nil // not settled yet; the next round places it
	}
	return off, true, nil
}

// targetEnd is the end offset of the target partition of a source topic's
// partition; the target's ranges are read once per round, when first needed.
func (gr *groupRound) targetEnd(ctx context.Context, topic string, partition int32) (int64, error) {
	if gr.ends == nil {
		var ts []string
		for _, t := range gr.topics {
			ts = append(ts, gr.targetOf[t])
		}
		ranges, err := gr.mg.dst.Ranges(ctx, ts)
		if err != nil {
			return 0, fmt.Errorf("target: %w", err)
		}
		gr.ends = map[partKey]int64{}
		for _, r := range ranges {
			gr.ends[partKey{r.Topic, r.Partition}] = r.End
		}
	}
	return gr.ends[partKey{gr.targetOf[topic], partition}], nil
}

func (mg *migration) warnOnce(k groupKey, msg string, args ...any) {
	mg.mu.Lock()
	seen := mg.warned[k]
	mg.warned[k] = true
	mg.mu.Unlock()
	if !seen {
		mg.log.Warn(msg, args...)
	}
}
