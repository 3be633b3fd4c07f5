package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// TestTxnWriterFencedErrorSaysSo: two copies of one command write the same
// partition; the one fenced by the other fails with ErrWriterFenced, whose text says
// another copy took over, not only the broker's PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH.
func TestTxnWriterFencedErrorSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	tp := kafka.TopicPartition{Topic: "t", Partition: 0}
	open := func() *kafka.TxnWriter {
		w, err := kafka.NewTxnWriter(ctx, cfg, "g-t-0", kafka.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		if _, err := w.Resume(ctx, "g", tp); err != nil {
			t.Fatal(err)
		}
		return w
	}
	a := open()
	open() // the second copy fences the first
	if err := a.Begin(); err != nil {
		t.Fatal(err)
	}
	rec := record.Record{Topic: "t", Partition: 0, Value: []byte("v")}
	a.Produce(ctx, &rec, nil)
	err := a.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Partition: 0, Offset: 1}})
	if !errors.Is(err, kafka.ErrWriterFenced) {
		t.Fatalf("commit of the fenced copy: %v, want ErrWriterFenced", err)
	}
}
