package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// TestWriterKeepsOldTimestamps: records whose own timestamps are far in the past
// are delivered with those timestamps. (kgo measures its delivery timeout from a
// record's Timestamp, so a delivery timeout would fail every one of them.)
func TestWriterKeepsOldTimestamps(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "old", 2); err != nil {
		t.Fatal(err)
	}
	ts := []time.Time{
		time.Date(2019, 1, 2, 3, 4, 5, 6e6, time.UTC),
		time.Date(2024, 6, 5, 12, 0, 0, 0, time.UTC),
	}
	w, err := kafka.NewWriter(ctx, c.Config(), kafka.WriterOptions{KeepTimestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, at := range ts {
		rec := record.Record{Topic: "old", Partition: int32(i), Value: []byte("v"), Timestamp: at}
		if err := w.Produce(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("flush records with old timestamps: %v", err)
	}
	if n, _ := w.Delivered(); n != int64(len(ts)) {
		t.Errorf("delivered %d records, want %d", n, len(ts))
	}
	got, err := c.ReadAll(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	for p, at := range ts {
		recs := got[int32(p)]
		if len(recs) != 1 || !recs[0].Timestamp.Equal(at) || recs[0].TimestampType != record.TimestampCreateTime {
			t.Errorf("partition %d: %+v, want one record with CreateTime %v", p, recs, at)
		}
	}
}
