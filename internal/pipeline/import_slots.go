package pipeline

import (
	"context"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/kferry/kferry/internal/kafka"
)

// importSlots runs a one-shot import slot by slot (TxnSlot): one transactional
// writer per slot, --parallelism slots at a time, each transaction carrying
// whole objects of several partitions with their progress (TxnBatch). Before
// any writing, every slot's id (and the per-partition ids of an older kferry
// or of import --follow, where their progress shows them; LegacyTxnIDs) is fenced
// and then the progress of every partition read stable, once
// (kafka.Client.ResumeRun).
func (r *importRun) importSlots(ctx context.Context, kc *kafka.Client, tasks []importTask) error {
	o := r.o
	slots := SlotOf(tasks, func(t importTask) (string, int32, int64) { return t.target, t.src.Partition, t.src.Bytes })
	ids := make([]string, 0, len(slots))
	for _, st := range slots {
		ids = append(ids, SlotTxnID(o.Group, o.Shard, TxnSlot(st[0].target, st[0].src.Partition)))
	}
	parts := make([]kafka.TopicPartition, 0, len(tasks))
	for _, t := range tasks {
		parts = append(parts, kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition})
	}
	legacy, err := LegacyTxnIDs(ctx, kc, o.Group, parts, slotMetaPrefix, importTxnID)
	if err != nil {
		return err
	}
	progress, err := kc.ResumeRun(ctx, o.Group, append(ids, legacy...), parts)
	if err != nil {
		return err
	}
	defer r.pool.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(SlotParallelism(o.Parallelism))
	for _, st := range slots {
		g.Go(func() error {
			p := progress
			tp := kafka.TopicPartition{Topic: st[0].target, Partition: st[0].src.Partition}
			return RestartOnTransient(gctx, r.log, "import", tp, r.cfg.Timeout, func() (bool, error) {
				// A restart fences the slot again and rereads its progress.
				resumed := p
				p = nil
				return r.slotOnce(gctx, st, resumed)
			})
		})
	}
	return g.Wait()
}

// LegacyTxnIDs returns the per-partition transactional ids (idOf) of parts when
// any of them has progress not committed by a slot writer (its metadata does
// not start with marker): an older kferry, or the per-partition writers of
// --follow, may have left a transaction open under them. Fencing those of
// every selected partition aborts it now; without such progress the killed
// run's transaction, if any, is aborted by the broker's transaction timeout.
func LegacyTxnIDs(ctx context.Context, kc *kafka.Client, group string, parts []kafka.TopicPartition, marker string, idOf func(group, topic string, p int32) string) ([]string, error) {
	topics := kafka.TopicsOf(parts)
	done, err := kc.CommittedOffsetsMeta(ctx, group, topics)
	if err != nil {
		return nil, err
	}
	old := false
	for _, tp := range parts {
		if off, ok := done[tp.Topic][tp.Partition]; ok && !strings.Contains(off.Metadata, marker) {
			old = true
			break
		}
	}
	if !old {
		return nil, nil
	}
	ids := make([]string, 0, len(parts))
	for _, tp := range parts {
		ids = append(ids, idOf(group, tp.Topic, tp.Partition))
	}
	return ids, nil
}

// slotOnce imports the partitions of one slot through one writer. resumed is
// the run's progress read after fencing the slot's id; nil (a restart) makes
// the writer fence and read its partitions again (kafka.TxnWriter.Resume). It
// reports whether a transaction committed.
func (r *importRun) slotOnce(ctx context.Context, tasks []importTask, resumed *kafka.RunProgress) (bool, error) {
	o := r.o
	txnID := SlotTxnID(o.Group, o.Shard, TxnSlot(tasks[0].target, tasks[0].src.Partition))
	if o.AtLeastOnce {
		// Fenced with the run (ResumeRun): a killed exactly-once run's open
		// transaction does not hold back read_committed readers.
		txnID = ""
	}
	var opts []kafka.TxnOption
	if resumed != nil {
		opts = append(opts, kafka.ResumedBy(resumed))
	}
	var w *kafka.TxnWriter
	var err error
	if o.AtLeastOnce {
		w, err = r.pool.Get(ctx, r.cfg, 0, o.Producer, opts...)
	} else {
		w, err = kafka.NewTxnWriter(ctx, r.cfg, txnID, o.Producer, opts...)
	}
	if err != nil {
		return false, err
	}
	ok := false
	defer func() {
		if o.AtLeastOnce {
			r.pool.Put(w, 0, ok)
		} else {
			w.Close()
		}
	}()
	var done map[kafka.TopicPartition]kafka.GroupOffset
	if resumed != nil {
		done = resumed.Offsets
	} else {
		parts := make([]kafka.TopicPartition, 0, len(tasks))
		for _, t := range tasks {
			parts = append(parts, kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition})
		}
		if done, err = w.Resume(ctx, o.Group, parts...); err != nil {
			return false, err
		}
	}
	batch := NewTxnBatch(w, o.TxnObjects)
	pis := make([]*partitionImport, 0, len(tasks))
	progressed := func() bool {
		for _, pi := range pis {
			if pi.commits > 0 {
				return true
			}
		}
		return false
	}
	for _, t := range tasks {
		pi := newPartitionImport(t, o, o.Group, r.cfg, r.col, r.log, r.metrics)
		pi.w, pi.batch = w, batch
		pis = append(pis, pi)
		if off, ok := done[kafka.TopicPartition{Topic: t.target, Partition: t.src.Partition}]; ok {
			pi.next, pi.origin = off.Offset, parseOrigin(off.Metadata)
			r.log.Info("resuming", "topic", t.src.Topic, "partition", t.src.Partition, "target", t.target, "next_source_offset", off.Offset)
		}
		if err := pi.pass(ctx, ctx, r.b, false); err != nil {
			batch.Abort(ctx)
			return progressed(), err
		}
	}
	err = batch.Commit(ctx)
	ok = err == nil
	return progressed(), err
}
