package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// watchers counts the goroutines of TxnWriter stall watchdogs.
func watchers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "kafka.(*TxnWriter).watch(")
}

// stallWriter opens a resumed transactional writer with a short Kafka timeout
// on c, whose topic "t" has one partition.
func stallWriter(t *testing.T, ctx context.Context, c *kafkatest.Cluster, timeout time.Duration, opts ...kafka.TxnOption) *kafka.TxnWriter {
	t.Helper()
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	cfg.Timeout = timeout
	w, err := kafka.NewTxnWriter(ctx, cfg, "stall-"+t.Name(), kafka.WriterOptions{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Resume(ctx, "g", kafka.TopicPartition{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// waitWatchers polls until the watchdog goroutines are back to want.
func waitWatchers(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	for watchers() > want {
		select {
		case <-ctx.Done():
			t.Fatalf("%d watchdog goroutines after Close, want %d: leaked", watchers(), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestTxnWriterStallsWithoutAcks: records whose produce requests are never
// answered fail Commit with ErrProduceStalled (Transient) instead of waiting
// for ever, nothing of the transaction is visible, and Close ends the
// writer's watchdog.
func TestTxnWriterStallsWithoutAcks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := watchers()
	c := kafkatest.NewCluster(t)
	w := stallWriter(t, ctx, c, 500*time.Millisecond)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // never answered
	})
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	rec := record.Record{Topic: "t", Value: []byte("v")}
	w.Produce(ctx, &rec, nil)
	err := w.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Offset: 1}})
	if !errors.Is(err, kafka.ErrProduceStalled) || !kafka.Transient(err) {
		t.Fatalf("commit of records never acknowledged: %v, want ErrProduceStalled, transient", err)
	}
	w.Close()
	waitWatchers(t, ctx, before)
}

// TestTxnWriterSlowAcksDoNotStall: a broker that answers every produce
// request late, but within the timeout, keeps a transaction that lasts many
// timeouts going: the watchdog measures the time since the last
// acknowledgement, not since the first record.
func TestTxnWriterSlowAcksDoNotStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := watchers()
	c := kafkatest.NewCluster(t)
	const timeout = 600 * time.Millisecond
	// Small batches: one produce request per few records, each answered
	// late.
	w := stallWriter(t, ctx, c, timeout, kafka.BatchMaxBytes(1024))
	var requests atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		requests.Add(1)
		c.SleepControl(func() { time.Sleep(timeout / 4) }) // a slow broker, not a synchronisation
		return nil, nil, false
	})
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	const n = 120
	began := time.Now()
	for i := range n {
		rec := record.Record{Topic: "t", Value: make([]byte, 200)}
		rec.Value[0] = byte(i)
		w.Produce(ctx, &rec, nil)
	}
	if err := w.Commit(ctx, []kafka.GroupOffset{{Group: "g", Topic: "t", Offset: n}}); err != nil {
		t.Fatalf("commit after %s of slow acknowledgements: %v", time.Since(began).Round(time.Millisecond), err)
	}
	took := time.Since(began)
	w.Close()
	got, err := c.ReadAll(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != n {
		t.Fatalf("%d records committed, want %d", len(got[0]), n)
	}
	// 8 requests answered timeout/4 late each last 2 timeouts at least.
	if r := requests.Load(); r < 8 {
		t.Fatalf("%d produce requests: too few to outlast the timeout", r)
	}
	t.Logf("%d produce requests answered %s late each: the transaction took %s (timeout %s)", requests.Load(), timeout/4, took.Round(time.Millisecond), timeout)
	waitWatchers(t, ctx, before)
}

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
			a := stallWriter(t, ctx, c, 500*time.Millisecond)
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
			b, err := kafka.NewTxnWriter(ctx, c.Config(), "stall-"+t.Name(), kafka.WriterOptions{})
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
