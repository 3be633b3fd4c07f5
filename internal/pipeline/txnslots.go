package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// TxnSlots is how many transactional ids the writers of one progress group
// share (import and restore, one-shot). A target partition always belongs to
// the same slot, whatever --parallelism, so a rerun's writer of a slot fences
// the killed run's writer of every partition it wrote. A constant: changing it
// would move partitions between ids (docs/operations.md, "transactional ids").
const TxnSlots = 64

// TxnSlot is the slot of a target partition: the partitions of one topic take
// consecutive slots from a start the topic's name picks, so a topic of up to
// TxnSlots partitions gets one writer per partition (as much parallelism as
// before) and a topic of thousands shares TxnSlots writers.
func TxnSlot(target string, partition int32) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(target))                                 // a hash.Hash never returns a write error
	return int((uint64(h.Sum32()) + uint64(partition)) % TxnSlots) // #nosec G115 -- a partition number is not negative
}

// SlotTxnID is the transactional id of a slot's writer: the progress group,
// the shard (an import run as --shard I/N: copies running at once must not
// share ids) and the slot.
func SlotTxnID(group string, shard Shard, slot int) string {
	if shard.Count > 1 {
		return fmt.Sprintf("%s-shard%d.%d-slot%d", group, shard.Index, shard.Count, slot)
	}
	return fmt.Sprintf("%s-slot%d", group, slot)
}

// SlotOf groups items by the slot of their target partition, the slots
// holding the most bytes first (they take longest), items in the given order
// within a slot.
func SlotOf[T any](items []T, key func(T) (target string, partition int32, bytes int64)) [][]T {
	by := map[int][]T{}
	size := map[int]int64{}
	for _, it := range items {
		t, p, n := key(it)
		s := TxnSlot(t, p)
		by[s] = append(by[s], it)
		size[s] += n
	}
	slots := make([]int, 0, len(by))
	for s := range by {
		slots = append(slots, s)
	}
	sort.Slice(slots, func(i, j int) bool {
		a, b := slots[i], slots[j]
		return size[a] > size[b] || size[a] == size[b] && a < b
	})
	out := make([][]T, 0, len(slots))
	for _, s := range slots {
		out = append(out, by[s])
	}
	return out
}

// Bounds of one transaction of a TxnBatch: it commits once it holds
// TxnBatchBytes of records, TxnPartitionBytes of one partition's, or
// TxnBatchObjects whole objects (an object is never split). Enough that a
// topic of thousands of small partitions needs few transactions; small enough
// that a transaction ends well within the broker's transaction timeout and a
// retried one redoes little. The bound per partition keeps an aborted
// transaction's records of a partition, even two such side by side (a run
// killed twice), within one fetch response of a read_committed consumer: on
// kfake, aborted records that a consumer reaches in a later fetch than their
// transaction's first show as committed (franz-go's default fetch is 1 MiB per
// partition; found by TestRestoreKilled/twice-before-any-commit with
// 3,400-record transactions; an object larger than that is as exposed as
// when each object had a transaction of its own).
const (
	TxnBatchBytes     = 1 << 20
	TxnPartitionBytes = 128 << 10
	TxnBatchObjects   = 256
)

// TxnBatch gathers whole objects of several partitions into one transaction of
// a writer: their records and, at commit, every partition's progress in one
// TxnOffsetCommit. An object joins (Add) only once all its records are
// produced and checked; any failure aborts the whole transaction, so no
// partition's progress moves past records that are not committed with it.
// Not safe for concurrent use.
type TxnBatch struct {
	w          *kafka.TxnWriter
	maxObjects int
	begun      bool
	records    int64
	bytes      int64
	items      []batchItem
	// part is the partition last produced to and partBytes its bytes in
	// the transaction (a slot writes its partitions one after the other).
	part      kafka.TopicPartition
	partBytes int64
}

type batchItem struct {
	offsets func() []kafka.GroupOffset
	done    func()
}

// NewTxnBatch returns a batch writing through w whose transactions hold at
// most maxObjects objects (TxnBatchObjects when 0 or less; 1 gives a
// transaction per object, as kferry wrote before).
func NewTxnBatch(w *kafka.TxnWriter, maxObjects int) *TxnBatch {
	if maxObjects <= 0 {
		maxObjects = TxnBatchObjects
	}
	return &TxnBatch{w: w, maxObjects: maxObjects}
}

// Writer is the batch's writer.
func (b *TxnBatch) Writer() *kafka.TxnWriter { return b.w }

// Begin opens the transaction unless it is open.
func (b *TxnBatch) Begin() error {
	if b.begun {
		return nil
	}
	if err := b.w.Begin(); err != nil {
		return err
	}
	b.begun = true
	return nil
}

// Produce sends rec into the open transaction (Begin first).
func (b *TxnBatch) Produce(ctx context.Context, rec *record.Record, onAck func(int64)) {
	n := int64(rec.Size())
	if tp := (kafka.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}); tp != b.part {
		b.part, b.partBytes = tp, 0
	}
	b.records++
	b.bytes += n
	b.partBytes += n
	b.w.Produce(ctx, rec, onAck)
}

// Add joins a whole object: offsets, called at commit once every record of
// the transaction is acknowledged, returns its progress (and any other group
// offsets); done runs after the commit.
func (b *TxnBatch) Add(offsets func() []kafka.GroupOffset, done func()) {
	b.items = append(b.items, batchItem{offsets: offsets, done: done})
}

// Full reports whether the transaction reached its bounds and should commit.
func (b *TxnBatch) Full() bool {
	return b.bytes >= TxnBatchBytes || b.partBytes >= TxnPartitionBytes || len(b.items) >= b.maxObjects
}

// Commit commits the objects added: their records and offsets together. A
// transaction without records cannot carry offsets (franz-go does not commit
// one), so then the offsets are committed plainly: nothing was written, and the
// progress stays exact. On an error nothing of the transaction is visible.
func (b *TxnBatch) Commit(ctx context.Context) error {
	items := b.items
	records, begun := b.records, b.begun
	b.items, b.records, b.bytes, b.begun, b.partBytes = nil, 0, 0, false, 0
	if len(items) == 0 {
		if begun {
			b.w.Abort(ctx)
		}
		return nil
	}
	if err := b.w.Flush(ctx); err != nil {
		b.w.Abort(ctx)
		return err
	}
	var offsets []kafka.GroupOffset
	for _, it := range items {
		offsets = append(offsets, it.offsets()...)
	}
	var err error
	if records > 0 || !b.w.Transactional() {
		err = b.w.Commit(ctx, offsets)
	} else {
		if begun {
			b.w.Abort(ctx)
		}
		err = b.w.CommitPlain(ctx, offsets)
	}
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.done != nil {
			it.done()
		}
	}
	return nil
}

// Abort drops the open transaction and every object added to it.
func (b *TxnBatch) Abort(ctx context.Context) {
	if b.begun {
		b.w.Abort(ctx)
	}
	b.items, b.records, b.bytes, b.begun, b.partBytes = nil, 0, 0, false, 0
}
