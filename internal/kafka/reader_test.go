package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
	ranges := rangesOf(ctx, t, c, "t")
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

// A range whose last offsets the log cleaner removed ends at the first record
// after it: nothing of the range is left to wait for. Before, the read waited
// for the removed offsets until its idle limit failed the run (a one-shot
// migrate of a compacted topic whose cleaner ran during the read).
func TestReaderRangeEndCompactedAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := kafkatest.NewCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	compact := "compact"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "t"); err != nil {
		t.Fatal(err)
	}
	// Offsets 3 and 4 (keys d, e) are superseded by 5 and 6; one batch each,
	// as kfake compacts whole batches and never the last one.
	for _, k := range []string{"a", "b", "c", "d", "e", "d", "e", "f"} {
		if err := c.Produce(ctx, []record.Record{{Topic: "t", Key: []byte(k), Value: []byte("v-" + k)}}); err != nil {
			t.Fatal(err)
		}
	}
	c.Compact()
	r, err := kafka.NewReader(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []int64
	err = r.Read(ctx, kafka.PartitionRange{Topic: "t", Start: 0, End: 5}, func(batch []*record.Record) error {
		for _, rec := range batch {
			got = append(got, rec.Offset)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read of a range whose end was compacted away: %v", err)
	}
	if want := []int64{0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("read offsets %v, want %v (3 and 4 compacted away)", got, want)
	}
}

// rangeCounter counts each range's records; its first Polled pauses range 0
// while another is read, and its second resumes it, as an export's window does.
type rangeCounter struct {
	rd     *kafka.Reader
	ranges []kafka.PartitionRange
	n      []int
	done   []bool
	polls  int
}

func (h *rangeCounter) Records(i int, batch []*record.Record) error { h.n[i] += len(batch); return nil }
func (h *rangeCounter) Done(i int) error                            { h.done[i] = true; return nil }
func (h *rangeCounter) Polled() error {
	h.polls++
	switch {
	case h.polls == 1 && slices.Contains(h.done[1:], false):
		// Only while another range is read: with every range left
		// paused, ReadRanges fails.
		h.rd.Pause(h.ranges[0])
	case h.polls == 2:
		h.rd.Resume(h.ranges[0])
	}
	return nil
}

// Ranges read to their end are paused until ReadRanges returns (removing them
// one by one made franz-go stop fetching the others now and then), and then
// removed and resumed: the client holds nothing paused, and a second
// ReadRanges of the same partitions reads every record again.
func TestReaderRangesLeaveNothingPaused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	if err := c.CreateTopic(ctx, "t", 4); err != nil {
		t.Fatal(err)
	}
	sizes := []int{300, 1, 5, 0}
	var recs []record.Record
	for p, n := range sizes {
		for range n {
			recs = append(recs, record.Record{Topic: "t", Partition: int32(p), Value: make([]byte, 100)})
		}
	}
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	ranges := rangesOf(ctx, t, c, "t")
	rd, err := kafka.NewReader(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for round := range 2 {
		h := &rangeCounter{rd: rd, ranges: ranges, n: make([]int, len(ranges)), done: make([]bool, len(ranges))}
		if err := rd.ReadRanges(ctx, ranges, h); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, r := range ranges {
			if want := sizes[r.Partition]; h.n[i] != want || !h.done[i] {
				t.Errorf("round %d: partition %d: %d records, done %t; want %d, done", round, r.Partition, h.n[i], h.done[i], want)
			}
		}
		if p := rd.PausedPartitions(); len(p) != 0 {
			t.Errorf("round %d: the client still holds %v paused", round, p)
		}
	}
}

// rangesOf captures the partition ranges of topic on c.
func rangesOf(ctx context.Context, t *testing.T, c *kafkatest.Cluster, topic string) []kafka.PartitionRange {
	t.Helper()
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ranges, err := kc.Ranges(ctx, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	return ranges
}
