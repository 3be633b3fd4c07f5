package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// ForeignRecords returns the first of ranges that holds committed records its
// progress group does not account for, or nil. ranges are partitions whose
// progress looked absent in a plain (unstable) read; a run killed right after
// its first commit may have left that commit in flight, its records visible
// before its progress is, so each partition found holding records is confirmed
// the way a writer resumes (kafka.Client.ResumeRun: fence the writers with
// txnIDs(range), then read the progress stable). A partition that turns out to
// have progress is this run's own; every other partition is confirmed on its
// own (its records may be another writer's even when a partition of the same
// topic is this run's). txnIDs returns none for writers without transactions.
func ForeignRecords(ctx context.Context, kc *kafka.Client, group string, txnIDs func(topic string, partition int32) []string, ranges []kafka.PartitionRange) (*kafka.PartitionRange, error) {
	for len(ranges) > 0 {
		r, err := FirstHoldingRecords(ctx, kc, ranges)
		if err != nil || r == nil {
			return nil, err
		}
		found := *r
		tp := kafka.TopicPartition{Topic: found.Topic, Partition: found.Partition}
		p, err := kc.ResumeRun(ctx, group, txnIDs(found.Topic, found.Partition), []kafka.TopicPartition{tp})
		if err != nil {
			return nil, err
		}
		done := p.Offsets
		if _, ours := done[tp]; !ours {
			return &found, nil
		}
		rest := ranges[:0:0]
		for _, o := range ranges {
			if o.Topic != found.Topic || o.Partition != found.Partition {
				rest = append(rest, o)
			}
		}
		ranges = rest
	}
	return nil, nil
}

// FirstHoldingRecords returns the first of ranges that holds a committed record,
// or nil. Offsets alone do not tell: a restore killed before its first commit
// leaves aborted transactions (records no reader sees, and their markers)
// behind, and its rerun must resume rather than refuse the target.
func FirstHoldingRecords(ctx context.Context, kc *kafka.Client, ranges []kafka.PartitionRange) (*kafka.PartitionRange, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	rd, err := kafka.NewReader(ctx, kc.Config())
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	errHeld := errors.New("holds a record")
	for i := range ranges {
		err := rd.Read(ctx, ranges[i], func([]*record.Record) error { return errHeld })
		if errors.Is(err, errHeld) {
			return &ranges[i], nil
		}
		if err != nil {
			return nil, fmt.Errorf("check that %s/%d is empty: %w", ranges[i].Topic, ranges[i].Partition, err)
		}
	}
	return nil, nil
}

// CheckTargetsEmpty refuses target partitions that hold committed records the
// progress group does not account for (this import did not write them), unless
// --append. Partitions with progress are this import's own and resume.
func CheckTargetsEmpty(ctx context.Context, kc *kafka.Client, group string, shard Shard, atLeastOnce, dryRun bool, targets []string, owned func(target string, p int32) bool) (string, error) {
	if len(targets) == 0 {
		return "", nil
	}
	ranges, err := kc.Ranges(ctx, targets)
	if err != nil {
		return "", err
	}
	done, err := kc.CommittedOffsets(ctx, group, targets)
	if err != nil {
		return "", err
	}
	var check []kafka.PartitionRange
	for _, r := range ranges {
		if _, ok := done[r.Topic][r.Partition]; ok || r.End <= r.Start || !owned(r.Topic, r.Partition) {
			continue
		}
		check = append(check, r)
	}
	// Records another copy of this import (or a killed run) committed may be
	// visible before their progress is: foreignRecords confirms each
	// partition found holding records with a fenced, stable read, fencing
	// the partition's slot writer and the per-partition writer of an older
	// kferry or of import --follow.
	txnIDs := func(topic string, p int32) []string {
		if atLeastOnce {
			return nil
		}
		return []string{SlotTxnID(group, shard, TxnSlot(topic, p)), importTxnID(group, topic, p)}
	}
	if dryRun {
		// No fencing in a dry run: it would abort a running copy's
		// transaction. Say what a real run will check instead.
		r, err := FirstHoldingRecords(ctx, kc, check)
		if err != nil || r == nil {
			return "", err
		}
		return fmt.Sprintf("%s partition %d already holds records at offsets %d–%d without progress of group %s: a real run refuses it unless an earlier run of this import wrote them (pass --append to add to it)", r.Topic, r.Partition, r.Start, r.End-1, group), nil
	}
	r, err := ForeignRecords(ctx, kc, group, txnIDs, check)
	if err != nil {
		return "", err
	}
	if r != nil {
		return "", fmt.Errorf("%w: %s partition %d already holds records at offsets %d–%d that progress group %s did not write; import into an empty topic, or pass --append to add to it", ErrTargetNotEmpty, r.Topic, r.Partition, r.Start, r.End-1, group)
	}
	return "", nil
}

// importTxnID is the transactional id of an import's writer of one target
// partition, shared by reruns and by every copy of the import: import --follow
// and migrate; one-shot import uses it as kferry before 0.x did, and only
// fences it now (see SlotTxnID and docs/operations.md).
func importTxnID(group, target string, partition int32) string {
	return fmt.Sprintf("%s-%s-%d", group, target, partition)
}
