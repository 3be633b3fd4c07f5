package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// TestRateLimit: a writer and a reader sharing a --max-rate limit move no
// faster than it, together. Only the lower bound is checked, which load
// cannot break: 512 KiB at 256 KiB/s after a 64 KiB burst take at least
// 1.75 s to write, and as long again to read through the same limit.
func TestRateLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 2); err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	cfg.Limit = kafka.NewRateLimit(256 << 10)
	if got := cfg.Limit.BytesPerSecond(); got != 256<<10 {
		t.Fatalf("limit %d B/s, want %d", got, 256<<10)
	}
	const records, size = 128, 4 << 10 // 512 KiB
	w, err := kafka.NewWriter(ctx, cfg, kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	began := time.Now()
	for i := range records {
		if err := w.Produce(ctx, &record.Record{Topic: "t", Partition: int32(i % 2), Value: make([]byte, size)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	least := 1750 * time.Millisecond
	if took := time.Since(began); took < least {
		t.Errorf("wrote 512 KiB in %s at 256 KiB/s, want at least %s", took, least)
	}

	kc, err := kafka.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ranges, err := kc.Ranges(ctx, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := kafka.NewReader(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	began = time.Now()
	n := 0
	for _, pr := range ranges {
		if err := rd.Read(ctx, pr, func(b []*record.Record) error { n += len(b); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n != records {
		t.Fatalf("read %d records, want %d", n, records)
	}
	if took := time.Since(began); took < least {
		t.Errorf("read 512 KiB in %s at 256 KiB/s, want at least %s", took, least)
	}
}
