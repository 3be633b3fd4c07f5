package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/record"
)

// A writer whose slot succeeded serves the next slot with its batch limit; a
// writer whose slot failed is closed, never lent again; the pooled writers
// still write.
func TestWriterPoolLendsBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	var pool pipeline.WriterPool
	defer pool.Close()
	get := func(batchMax int32) *kafka.TxnWriter {
		t.Helper()
		w, err := pool.Get(ctx, c.Config(), batchMax, kafka.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	a, b := get(0), get(0)
	if a == b {
		t.Fatal("two writers lent at once are the same")
	}
	pool.Put(a, 0, true)
	pool.Put(b, 0, false)
	if got := get(1 << 20); got == a || got == b {
		t.Fatal("a writer of another batch limit was lent")
	} else {
		pool.Put(got, 1<<20, true)
	}
	again := get(0)
	if again != a {
		t.Fatal("the writer put back after success was not lent again")
	}
	if next := get(0); next == b {
		t.Fatal("the writer of a failed slot was lent again")
	} else {
		defer next.Close()
	}
	if err := again.Begin(); err != nil {
		t.Fatal(err)
	}
	rec := record.Record{Topic: "t", Value: []byte("v")}
	again.Produce(ctx, &rec, nil)
	if err := again.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Offset: 1}}); err != nil {
		t.Fatalf("a lent-again writer: %v", err)
	}
	got, err := c.ReadAll(ctx, "t")
	if err != nil || len(got[0]) != 1 {
		t.Fatalf("read back %d records (%v), want 1", len(got[0]), err)
	}
	pool.Put(again, 0, true)
}
