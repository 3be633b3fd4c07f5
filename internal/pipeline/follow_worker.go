package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
)

// partWorker writes one owned partition of a continuous export. It alone
// touches its partitionExport; the poller feeds it batches through in, and
// closing in asks it to finish and commit its open object and stop.
//
// Order per partition: an object set is committed (visible), then the offset
// after its last record is committed to the group, and only then can the next
// object become visible. So at most one visible object is ahead of the group's
// offset, and it starts at the first record after that offset: whoever reads
// the partition next rewrites it under the same name.
type partWorker struct {
	f   *follower
	tp  kafka.TopicPartition
	pe  *PartitionExport
	log *slog.Logger

	in        chan kafka.Batch
	closeOnce sync.Once
	// stopping: the partition is being given up or the member stops. Records
	// not yet in the open object are left (uncommitted, the next owner reads
	// them), so a release finishes one object, not every batch queued.
	stopping atomic.Bool
	ctx      context.Context // ends only to abandon the open object
	cancel   context.CancelFunc
	done     chan struct{}

	committed int64 // the group's offset as last committed (-1: none known)
	next      int64 // offset after the last record or transaction marker taken
	commitErr error
	timedSet  *objset.Writer // the set the rotation timer runs for

	mu                 sync.Mutex // guards the open object's description
	openFrom, openLast int64
	openRecords        int
}

func (w *partWorker) run() {
	defer close(w.done)
	defer w.cancel()
	err := w.loop()
	if err == nil {
		return
	}
	if w.pe.set != nil {
		w.pe.set.Abort()
		w.pe.set = nil
	}
	if w.ctx.Err() != nil {
		w.abandon()
		return
	}
	w.f.fail(fmt.Errorf("export %s: %w", w.tp, err))
}

func (w *partWorker) loop() error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var timerC <-chan time.Time
	for {
		select {
		case b, ok := <-w.in:
			if !ok {
				return w.finish()
			}
			if err := w.add(b); err != nil {
				return err
			}
		case <-timerC:
			if err := w.rotate(); err != nil {
				return err
			}
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
		switch set := w.pe.set; {
		case set == nil:
			timer.Stop()
			timerC = nil
		case set != w.timedSet:
			// A new object opened: it is committed RotateInterval from now at
			// the latest, whatever the record timestamps say.
			w.timedSet = set
			timer.Reset(w.f.o.RotateInterval)
			timerC = timer.C
		}
		w.noteOpen()
	}
}

func (w *partWorker) add(b kafka.Batch) error {
	if w.stopping.Load() {
		// Batches queued behind one whose records were left must not move
		// w.next past them, not even one of transaction markers only (an
		// aborted transaction): finish would commit it, and the next owner
		// would start after records that are in no object.
		return nil
	}
	for _, rec := range b.Records {
		if w.stopping.Load() {
			return nil // w.next stays before the records left
		}
		if err := w.pe.add(w.ctx, rec); err != nil {
			if w.commitErr == nil {
				w.f.m.Error("write")
			}
			return err
		}
		if w.commitErr != nil {
			return w.commitErr
		}
	}
	w.next = max(w.next, b.Next)
	if w.pe.set == nil {
		return w.commitIdle()
	}
	return nil
}

// rotate completes the open object, which commits its offset (objectDone).
func (w *partWorker) rotate() error {
	if w.pe.set == nil {
		return nil
	}
	if err := w.pe.rotate(); err != nil {
		w.f.m.Error("upload")
		return err
	}
	return w.commitErr
}

// finish is the graceful end: the open object is completed and committed, and
// so is any offset past it that holds no data.
func (w *partWorker) finish() error {
	open := 0
	if w.pe.set != nil {
		open = w.pe.set.Records()
	}
	if err := w.rotate(); err != nil {
		return err
	}
	if err := w.commitIdle(); err != nil {
		return err
	}
	w.log.Info("partition released", "committed", w.committed, "last_object_records", open)
	return nil
}

// commitIdle commits offsets that hold no data (transaction markers) while no
// object is open, so lag reaches 0 after a transactional producer.
func (w *partWorker) commitIdle() error {
	if w.next <= w.committed || w.next == 0 {
		return nil
	}
	return w.commit(w.next)
}

// checkOwner is partitionExport's beforeCommit: it commits the set's first
// offset (nothing before it is unwritten data) so that the coordinator refuses
// it if the group has given the partition to another member meanwhile (this
// one stalled past the session timeout). Publishing then would overwrite the
// new owner's object of the same name with different contents; instead the
// set is dropped. It leaves only the upload itself as a window.
func (w *partWorker) checkOwner(set *objset.Writer) error {
	return w.commit(set.First())
}

// objectDone is partitionExport's onCommit: the set is complete in the bucket,
// so the offset after its last record is committed now, before any other object
// of the partition can become visible. A failure stops the worker (add and
// rotate check commitErr).
func (w *partWorker) objectDone(set *objset.Writer) {
	if err := w.commit(set.Last() + 1); err != nil {
		w.commitErr = err
		return
	}
	w.f.m.ObjectWritten(w.tp.Topic, w.tp.Partition, int64(set.Records()), set.RecordBytes(), w.pe.uploadTook)
	w.log.Debug("object committed", "key", set.Keys()[0], "first_offset", set.First(), "last_offset", set.Last(),
		"records", set.Records(), "upload_ms", w.pe.uploadTook.Milliseconds())
}

func (w *partWorker) commit(next int64) error {
	if err := w.f.gr.Commit(w.ctx, w.tp, next); err != nil {
		w.f.m.Error("commit")
		if errors.Is(err, kafka.ErrFenced) {
			err = fmt.Errorf("%w; the group gave the partition to another member (this one was too slow to heartbeat?), which rewrites the last object", err)
		}
		return err
	}
	w.committed = next
	return nil
}

func (w *partWorker) noteOpen() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if set := w.pe.set; set != nil {
		w.openFrom, w.openLast, w.openRecords = set.First(), set.Last(), set.Records()
	} else {
		w.openRecords = 0
	}
}

// abandon records what was open when the worker was stopped without finishing.
func (w *partWorker) abandon() {
	w.mu.Lock()
	n, from, last := w.openRecords, w.openFrom, w.openLast
	w.mu.Unlock()
	if n == 0 {
		return
	}
	if !w.f.timedOut.Load() {
		w.log.Warn("open object dropped; the partition's next owner exports it again", "first_offset", from, "last_offset", last, "records", n)
		return
	}
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	w.f.abandoned = append(w.f.abandoned, fmt.Sprintf("%s offsets %d-%d (%d records)", w.tp, from, last, n))
}
