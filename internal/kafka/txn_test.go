package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

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
	if _, err := w.Resume(ctx, "g", kafka.TopicPartition{Topic: "t", Partition: 1}); err != nil {
		t.Fatal(err)
	}

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

// TestTxnWriterResumeOrder: a writer killed with a transaction open that holds
// records and a progress offset (sent TxnOffsetCommit, never EndTxn) leaves the
// group's offsets pending. A plain stable read is held up by that transaction
// until it times out; Resume of a new writer with the same id fences it first
// (the open transaction is aborted), so its stable read answers at once with
// the last committed progress. A writer that was not resumed may not begin.
func TestTxnWriterResumeOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	cfg.Timeout = 2 * time.Second
	tp := kafka.TopicPartition{Topic: "t", Partition: 0}
	progress := func(w *kafka.TxnWriter, off int64) {
		t.Helper()
		if err := w.Begin(); err != nil {
			t.Fatal(err)
		}
		rec := record.Record{Topic: "t", Partition: 0, Value: []byte("v")}
		w.Produce(ctx, &rec, nil)
		if err := w.Commit(ctx, []kafka.GroupOffset{{Group: "p", Topic: "t", Partition: 0, Offset: off}}); err != nil {
			t.Fatal(err)
		}
	}

	old, err := kafka.NewTxnWriter(ctx, cfg, "p-t-0", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Begin(); !errors.Is(err, kafka.ErrNotResumed) {
		t.Fatalf("Begin before Resume: %v, want ErrNotResumed", err)
	}
	if done, err := old.Resume(ctx, "p", tp); err != nil || len(done) != 0 {
		t.Fatalf("first Resume = %v, %v; want no progress", done, err)
	}
	progress(old, 1)
	// The "killed" transaction: records and progress 2 sent, never ended.
	if err := old.Begin(); err != nil {
		t.Fatal(err)
	}
	rec := record.Record{Topic: "t", Partition: 0, Value: []byte("lost")}
	old.Produce(ctx, &rec, nil)
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := old.CommitOffsetsOnly(ctx, []kafka.GroupOffset{{Group: "p", Topic: "t", Partition: 0, Offset: 2}}); err != nil {
		t.Fatal(err)
	}

	kc, err := kafka.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.StableOffsets(ctx, "p", []kafka.TopicPartition{tp}); !errors.Is(err, kerr.UnstableOffsetCommit) {
		t.Fatalf("stable read with the transaction open: %v, want UNSTABLE_OFFSET_COMMIT after the timeout", err)
	}

	w, err := kafka.NewTxnWriter(ctx, cfg, "p-t-0", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done, err := w.Resume(ctx, "p", tp)
	if err != nil {
		t.Fatal(err)
	}
	if got := done[tp].Offset; got != 1 {
		t.Fatalf("progress after Resume = %d, want 1 (the open transaction aborted)", got)
	}
	progress(w, 2)
	got, err := c.ReadAll(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 2 {
		t.Fatalf("committed records %d, want 2 (the fenced writer's record aborted)", len(got[0]))
	}
}

// TestAtLeastOnceFencesTheExactlyOnceID: an exactly-once writer killed with a
// transaction open holds the partition's last stable offset back; an
// at-least-once writer of the same work (FenceID with that id) aborts it when it
// resumes, so read_committed readers see its records at once rather than after
// the broker's transaction timeout.
func TestAtLeastOnceFencesTheExactlyOnceID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	tp := kafka.TopicPartition{Topic: "t", Partition: 0}
	old, err := kafka.NewTxnWriter(ctx, c.Config(), "p-t-0", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Resume(ctx, "p", tp); err != nil {
		t.Fatal(err)
	}
	if err := old.Begin(); err != nil {
		t.Fatal(err)
	}
	rec := record.Record{Topic: "t", Partition: 0, Value: []byte("open")}
	old.Produce(ctx, &rec, nil)
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	stable := func() int64 {
		t.Helper()
		rs, err := kc.Ranges(ctx, []string{"t"})
		if err != nil || len(rs) != 1 {
			t.Fatalf("ranges %v, %v", rs, err)
		}
		return rs[0].End
	}
	if got := stable(); got != 0 {
		t.Fatalf("last stable offset with the transaction open = %d, want 0", got)
	}

	w, err := kafka.NewTxnWriter(ctx, c.Config(), "", kafka.WriterOptions{}, kafka.FenceID("p-t-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Resume(ctx, "p", tp); err != nil {
		t.Fatal(err)
	}
	if got := stable(); got < 1 {
		t.Fatalf("last stable offset after the at-least-once writer resumed = %d, want past the aborted transaction", got)
	}
}

// TestTxnWriterCommitLost: a commit the broker applied as an abort while
// answering success (what franz-go does by itself when it wrongly believes no
// record reached a broker) is an ErrCommitLost, a Transient error, never a
// success; the next transaction commits.
func TestTxnWriterCommitLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	const id = "kferry-test-lost"
	c.AbortCommits(id, 1)
	w, err := kafka.NewTxnWriter(ctx, c.Config(), id, kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Resume(ctx, "g", kafka.TopicPartition{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	commit := func(v string, next int64) error {
		if err := w.Begin(); err != nil {
			t.Fatal(err)
		}
		w.Produce(ctx, &record.Record{Topic: "t", Value: []byte(v)}, nil)
		return w.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Offset: next}})
	}
	err = commit("lost", 1)
	if !errors.Is(err, kafka.ErrCommitLost) || !kafka.Transient(err) {
		t.Fatalf("commit turned abort: err = %v, want a Transient ErrCommitLost", err)
	}
	if err := commit("kept", 1); err != nil {
		t.Fatalf("next commit: %v", err)
	}
	got, err := c.ReadAll(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 1 || string(got[0][0].Value) != "kept" {
		t.Errorf("records %+v, want only the second transaction's", got[0])
	}
}
