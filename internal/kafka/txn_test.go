package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

func TestTxnWriterCommitsRecordsAndOffsetsTogether(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 2); err != nil {
		t.Fatal(err)
	}
	w, err := kafka.NewTxnWriter(ctx, c.Config(), "kferry-test-txn", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	ts := time.UnixMilli(1_600_000_000_000)
	produce := func(vals ...string) []int64 {
		var offs []int64
		for _, v := range vals {
			rec := record.Record{Topic: "t", Partition: 1, Value: []byte(v), Timestamp: ts}
			w.Produce(ctx, &rec, func(o int64) { offs = append(offs, o) })
		}
		return offs
	}
	// A committed transaction: records and the group offset become visible.
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	produce("a", "b")
	if err := w.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Partition: 1, Offset: 2}}); err != nil {
		t.Fatal(err)
	}
	// An aborted one: neither the record nor the new group offset is.
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	produce("c")
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.Abort(ctx)

	got, err := c.ReadAll(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got[1]) != 2 || string(got[1][0].Value) != "a" || string(got[1][1].Value) != "b" {
		t.Fatalf("committed records = %+v, want a, b", got[1])
	}
	if !got[1][0].Timestamp.Equal(ts) {
		t.Errorf("timestamp = %v, want %v (CreateTime kept)", got[1][0].Timestamp, ts)
	}
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	offs, err := kc.CommittedOffsets(ctx, "g", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if offs["t"][1] != 2 {
		t.Errorf("group g offset = %v, want 2", offs)
	}
}
