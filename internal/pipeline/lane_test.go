package pipeline

import (
	"testing"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

func laneBatch(next int64, offsets ...int64) kafka.Batch {
	b := kafka.Batch{Next: next}
	for _, o := range offsets {
		b.Records = append(b.Records, &record.Record{Offset: o, Value: []byte("0123456789")})
	}
	return b
}

func takeAll(l *Lane) map[kafka.TopicPartition]*LaneRun {
	return l.Take(func(kafka.TopicPartition, *LaneRun) LaneVerdict { return LaneTake })
}

// TestLaneRuns: a run grows only with batches that continue it (a
// transaction marker between batches is no gap); a batch that does not
// continue it, or does not fit, ends it, so a run never claims offsets it
// did not see.
func TestLaneRuns(t *testing.T) {
	tp := kafka.TopicPartition{Topic: "t", Partition: 0}
	l := NewLane(50) // five records of 10 bytes
	l.Offer(tp, 10, false, laneBatch(13, 10, 11, 12))
	l.Offer(tp, 13, false, laneBatch(15, 14)) // 13 was a marker
	if bytes, _ := l.Held(); bytes != 40 {
		t.Fatalf("held %d bytes, want 40", bytes)
	}
	runs := takeAll(l)
	if r := runs[tp]; r == nil || r.From != 10 || r.Next != 15 || len(r.Records) != 4 {
		t.Fatalf("run = %+v, want 10-15 with 4 records", r)
	}
	if bytes, _ := l.Held(); bytes != 0 {
		t.Fatalf("held %d bytes after Take, want 0", bytes)
	}

	l.Offer(tp, 15, false, laneBatch(17, 15, 16))
	l.Offer(tp, 20, false, laneBatch(22, 20, 21)) // a gap: 17-19 were not offered
	runs = takeAll(l)
	if r := runs[tp]; r == nil || r.From != 20 || r.Next != 22 || len(r.Records) != 2 {
		t.Fatalf("run after a gap = %+v, want a new one 20-22", r)
	}
	if _, dropped := l.Held(); dropped != 1 {
		t.Errorf("dropped %d runs, want 1", dropped)
	}

	l.Offer(tp, 22, false, laneBatch(26, 22, 23, 24, 25))
	// 60 bytes: over the bound. The older run goes (the importer, behind,
	// takes the records from the bucket) and the batch starts a new one.
	l.Offer(tp, 26, false, laneBatch(28, 26, 27))
	if r := takeAll(l)[tp]; r == nil || r.From != 26 || len(r.Records) != 2 {
		t.Fatalf("run after an overflow = %+v, want a new one from 26", r)
	}
	l.Offer(tp, 28, false, laneBatch(34, 28, 29, 30, 31, 32, 33)) // larger than the lane
	if r := takeAll(l)[tp]; r != nil {
		t.Fatalf("batch larger than the lane = %+v, want none", r)
	}

	// An unknown start (no committed offset) is the first record's, and so
	// is a start claimed past it.
	l.Offer(tp, -1, false, laneBatch(32, 30, 31))
	if r := takeAll(l)[tp]; r == nil || r.From != 30 {
		t.Fatalf("run of unknown start = %+v, want from 30", r)
	}
	l.Offer(tp, 40, false, laneBatch(37, 35, 36))
	if r := takeAll(l)[tp]; r == nil || r.From != 35 {
		t.Fatalf("run claiming a start past its records = %+v, want from 35", r)
	}
	l.Offer(tp, 50, false, laneBatch(51)) // markers only: nothing to carry
	if r := takeAll(l)[tp]; r != nil {
		t.Fatalf("run of markers only = %+v, want none", r)
	}
}

// TestLaneVerdicts: a kept run stays and grows, a dropped one is gone, and
// Forget drops a partition's run.
func TestLaneVerdicts(t *testing.T) {
	a, b := kafka.TopicPartition{Topic: "t", Partition: 0}, kafka.TopicPartition{Topic: "t", Partition: 1}
	l := NewLane(0)
	l.Offer(a, 0, false, laneBatch(2, 0, 1))
	l.Offer(b, 0, false, laneBatch(2, 0, 1))
	runs := l.Take(func(tp kafka.TopicPartition, _ *LaneRun) LaneVerdict {
		if tp == a {
			return LaneKeep
		}
		return LaneDrop
	})
	if len(runs) != 0 {
		t.Fatalf("took %d runs, want 0", len(runs))
	}
	l.Offer(a, 2, false, laneBatch(3, 2))
	l.Offer(b, 2, false, laneBatch(3, 2))
	runs = takeAll(l)
	if r := runs[a]; r == nil || r.From != 0 || len(r.Records) != 3 {
		t.Errorf("kept run = %+v, want 0-3 with 3 records", r)
	}
	if r := runs[b]; r == nil || r.From != 2 {
		t.Errorf("run after a drop = %+v, want a new one from 2", r)
	}
	l.Offer(a, 3, false, laneBatch(4, 3))
	l.Forget(a)
	if bytes, _ := l.Held(); bytes != 0 || len(takeAll(l)) != 0 {
		t.Errorf("after Forget: %d bytes held, runs left", bytes)
	}
}
