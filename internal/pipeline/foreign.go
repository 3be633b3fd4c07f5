package pipeline

import (
	"context"

	"github.com/kferry/kferry/internal/kafka"
)

// foreignRecords returns the first of ranges that holds committed records its
// progress group does not account for, or nil. ranges are partitions whose
// progress looked absent in a plain (unstable) read; a run killed right after
// its first commit may have left that commit in flight, its records visible
// before its progress is, so each partition found holding records is confirmed
// the way a writer resumes (kafka.TxnWriter.Resume: fence the writer with
// txnID(range), then read the progress stable). A partition that turns out to
// have progress is this run's own; every other partition is confirmed on its
// own (its records may be another writer's even when a partition of the same
// topic is this run's). txnID returns "" for writers without transactions.
func foreignRecords(ctx context.Context, kc *kafka.Client, group string, txnID func(topic string, partition int32) string, ranges []kafka.PartitionRange) (*kafka.PartitionRange, error) {
	for len(ranges) > 0 {
		r, err := firstHoldingRecords(ctx, kc, ranges)
		if err != nil || r == nil {
			return nil, err
		}
		found := *r
		w, err := kafka.NewTxnWriter(ctx, kc.Config(), txnID(found.Topic, found.Partition), kafka.WriterOptions{})
		if err != nil {
			return nil, err
		}
		tp := kafka.TopicPartition{Topic: found.Topic, Partition: found.Partition}
		done, err := w.Resume(ctx, group, tp)
		w.Close()
		if err != nil {
			return nil, err
		}
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
