package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

func TestReaderReportsRetentionGap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for i := range 10 {
		recs = append(recs, record.Record{Topic: "t", Value: []byte{byte('0' + i)}})
	}
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ranges, err := kc.Ranges(ctx, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if ranges[0].Start != 0 || ranges[0].End != 10 {
		t.Fatalf("range = %+v", ranges[0])
	}
	// Retention strikes after the range was captured, before it is read.
	if err := c.DeleteRecordsBefore(ctx, "t", 0, 6); err != nil {
		t.Fatal(err)
	}
	rd, err := kafka.NewReader(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var gaps [][2]int64
	rd.OnGap = func(_ kafka.PartitionRange, from, to int64) { gaps = append(gaps, [2]int64{from, to}) }
	var got []int64
	err = rd.Read(ctx, ranges[0], func(batch []*record.Record) error {
		for _, r := range batch {
			got = append(got, r.Offset)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0] != [2]int64{0, 6} {
		t.Errorf("gaps = %v, want [[0 6]]", gaps)
	}
	if len(got) != 4 || got[0] != 6 || got[3] != 9 {
		t.Errorf("offsets read = %v, want 6..9", got)
	}
}
