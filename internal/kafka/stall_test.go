package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// TestStalledTransactionNeverVisible: a writer whose produce request the
// broker holds past --timeout gives up (ErrProduceStalled) and aborts; the
// request is then answered late, at one of several moments relative to the
// next writer of the same transactional id. Read committed, the partition
// must hold only what the next writer committed.
func TestStalledTransactionNeverVisible(t *testing.T) {
	// (Held past the next writer's commit is not a case kfake can play: the
	// next writer's own produce waits behind the held one.)
	for _, release := range []string{"after the abort", "after the next writer's fence"} {
		t.Run(release, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := kafkatest.NewCluster(t)
			if err := c.CreateTopic(ctx, "t", 1); err != nil {
				t.Fatal(err)
			}
			held := make(chan struct{})
			hold := make(chan struct{})
			var once sync.Once
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				once.Do(func() {
					close(held)
					c.SleepControl(func() { <-hold })
				})
				return nil, nil, false // then handled as usual, late
			})
			cfg := c.Config()
			cfg.Timeout = 500 * time.Millisecond
			tp := kafka.TopicPartition{Topic: "t", Partition: 0}
			write := func(w *kafka.TxnWriter, tag string) error {
				if err := w.Begin(); err != nil {
					return err
				}
				for i := range 5 {
					w.Produce(ctx, &record.Record{Topic: "t", Value: fmt.Appendf(nil, "%s-%d", tag, i)}, nil)
				}
				return w.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Partition: 0, Offset: 5}})
			}
			a, err := kafka.NewTxnWriter(ctx, cfg, "stall-txn", kafka.WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Resume(ctx, "g", tp); err != nil {
				t.Fatal(err)
			}
			if err := write(a, "stalled"); !errors.Is(err, kafka.ErrProduceStalled) {
				t.Fatalf("the held writer's commit: %v, want ErrProduceStalled", err)
			}
			<-held
			a.Close()
			releaseOnce := func() {
				select {
				case <-hold:
				default:
					close(hold)
				}
			}
			defer releaseOnce()
			if release == "after the abort" {
				releaseOnce()
			}
			b, err := kafka.NewTxnWriter(ctx, c.Config(), "stall-txn", kafka.WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if _, err := b.Resume(ctx, "g", tp); err != nil {
				t.Fatal(err)
			}
			if release == "after the next writer's fence" {
				releaseOnce()
			}
			if err := write(b, "next"); err != nil {
				t.Fatal(err)
			}
			releaseOnce()
			got, err := c.ReadAll(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			var vals []string
			for _, r := range got[0] {
				vals = append(vals, string(r.Value))
			}
			if len(vals) != 5 || vals[0] != "next-0" {
				t.Errorf("read committed: %q, want next-0 … next-4 only", vals)
			}
		})
	}
}
