package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
)

// laneOrigin is the key a progress committed from a lane run records as its
// origin: exact offsets, no object.
const laneOrigin = "lane"

// drainLane writes the lane's runs that continue a partition's progress, each
// in one transaction with the progress past it, --parallelism partitions at a
// time. A run the progress has not reached yet stays in the lane; one wholly
// before it, or of a partition this copy does not import now, is dropped (the
// objects bring whatever it held). A partition with nothing committed takes
// only an origin run, and only while no object of it is listed: the import
// from the objects would start where that run starts. A failed run marks its
// partition failed, so the next scan fences and reloads it, as for a failed
// object.
func (f *importFollower) drainLane(ctx, work context.Context) {
	f.laneOrigins(work)
	ready := map[kafka.TopicPartition]*partitionImport{}
	runs := f.o.Lane.Take(func(tp kafka.TopicPartition, run *LaneRun) LaneVerdict {
		v := f.judge(tp, run)
		if v == LaneTake {
			ready[tp] = f.parts[tp.Topic][tp.Partition]
		}
		return v
	})
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, Parallelism(f.o.Parallelism))
	)
	for tp, run := range runs {
		pi := ready[tp]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := pi.importRun(work, run)
			if err == nil {
				return
			}
			pi.metrics.Error("import")
			f.o.Lane.Unsettle()
			mu.Lock()
			f.failed[pi] = true
			mu.Unlock()
			if ctx.Err() == nil {
				f.log.Warn("import of records from the exporter failed; the next scan resumes the partition from its committed progress", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			}
		})
	}
	wg.Wait()
}

// judge says what drainLane does with a run; a run it cannot take now
// unsettles the lane, so that completed objects are scanned for.
func (f *importFollower) judge(tp kafka.TopicPartition, run *LaneRun) LaneVerdict {
	pi := f.parts[tp.Topic][tp.Partition]
	v := LaneTake
	switch {
	case pi == nil:
		v = LaneKeep // its target or first object is not known yet
	case f.failed[pi] || !f.owns(tp):
		v = LaneDrop
	case pi.next < 0 && (!run.Origin || len(pi.t.src.Groups) > 0):
		v = LaneKeep // the first object comes first
	case pi.next >= 0 && run.Next <= pi.next:
		return LaneDrop // all of it is on the target already
	case run.From > pi.next && pi.next >= 0:
		v = LaneKeep
	}
	if v != LaneTake {
		f.o.Lane.Unsettle()
	}
	return v
}

func (f *importFollower) owns(tp kafka.TopicPartition) bool {
	return f.o.Shard.Owns(tp.Topic, tp.Partition) && (f.o.Owns == nil || f.o.Owns(tp.Topic, tp.Partition))
}

// laneOrigins sets up the partitions of origin runs that no scan has seen an
// object of: their writer is fenced and their progress read, as a scan does.
// One that fails stays failed, so its runs are dropped.
func (f *importFollower) laneOrigins(work context.Context) {
	var fresh []*partitionImport
	for _, tp := range f.o.Lane.Origins() {
		dst, ok := f.targetOf[tp.Topic]
		if !ok || f.parts[tp.Topic][tp.Partition] != nil || !f.owns(tp) {
			continue
		}
		if f.parts[tp.Topic] == nil {
			f.parts[tp.Topic] = map[int32]*partitionImport{}
		}
		f.col.Partition(tp.Topic, tp.Partition)
		pi := newPartitionImport(importTask{src: &catalog.PartitionObjects{Topic: tp.Topic, Partition: tp.Partition}, target: dst}, &f.o.ImportOptions, f.o.Group, f.kc.Config(), f.col, f.log, f.metrics)
		f.parts[tp.Topic][tp.Partition] = pi
		f.failed[pi] = true
		fresh = append(fresh, pi)
	}
	if len(fresh) == 0 {
		return
	}
	ok := map[*partitionImport]bool{}
	if f.fence(work, fresh) == nil {
		for _, pi := range fresh {
			if err := pi.resume(work); err == nil {
				ok[pi] = true
				delete(f.failed, pi)
			}
		}
	}
	for _, pi := range fresh {
		if !ok[pi] {
			// Forgotten, so that the next origin run tries again (a
			// partition with no object is in no scan).
			pi.close()
			delete(f.failed, pi)
			delete(f.parts[pi.t.src.Topic], pi.t.src.Partition)
			f.o.Lane.Unsettle()
		}
	}
}

// importRun writes the run's records from the progress on in one transaction
// with the progress moved to the run's end. The caller checked that the run
// starts at or before the progress and ends after it, so no record of the
// source between them is missing.
func (pi *partitionImport) importRun(ctx context.Context, run *LaneRun) error {
	g := catalog.Group{Start: run.From}
	g.Values.Key = laneOrigin
	oi := pi.newObjectImport(g, &objectOffsetSource{exact: true})
	oi.lane = true
	for _, rec := range run.Records {
		oi.seen++
		if rec.Offset < pi.next {
			oi.skipped++
			continue
		}
		if !oi.begun {
			if err := pi.begin(); err != nil {
				return err
			}
			oi.begun = true
		}
		r := *rec // produce sets the target's topic and partition
		oi.produce(ctx, &r, rec.Offset)
	}
	oi.end = run.Next
	if oi.n == 0 {
		// Only transaction markers past the progress: nothing to commit, as
		// for an object that brings nothing new.
		pi.next = max(pi.next, run.Next)
		return nil
	}
	if err := oi.commit(ctx); err != nil {
		return fmt.Errorf("import %s/%d: %w", pi.t.src.Topic, pi.t.src.Partition, err)
	}
	pi.next = max(pi.next, run.Next)
	oi.report(pi.next)
	return nil
}
