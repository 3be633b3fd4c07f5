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
