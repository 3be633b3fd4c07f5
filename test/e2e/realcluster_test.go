package e2e

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/test/realkafka"
)

// realCluster is a single-node Apache Kafka broker that a test leased from the
// pool: the test has it to itself until its cleanup, which empties it for the
// next test (brokerPool.wipe).
type realCluster struct {
	rk    *realkafka.Cluster
	addrs []string // what kferry is given: the broker, or a proxy in front of it
	proxy *kafkaProxy
}

var _ holdCluster = (*realCluster)(nil)

func (c *realCluster) ListenAddrs() []string { return c.addrs }

func (c *realCluster) Config() kafka.Config {
	return kafka.Config{Brokers: c.addrs, ClientID: "kferry-test"}
}

// admin is a client of the broker itself (not of a proxy in front of it).
func (c *realCluster) admin() (*kgo.Client, *kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.rk.Addrs()...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

func (c *realCluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	return c.CreateTopicConfigs(ctx, topic, partitions, nil)
}

func (c *realCluster) CreateTopicConfigs(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	cl, adm, err := c.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, partitions, -1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return c.rk.WaitTopicID(ctx, topic, resp.ID)
}

func (c *realCluster) DeleteTopic(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, adm, err := c.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := adm.DeleteTopics(ctx, topic)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return poll(ctx, "topic "+topic+" gone", func() (bool, error) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err
		}
		return !td.Has(topic), nil
	})
}

func (c *realCluster) AddPartitions(ctx context.Context, topic string, total int) error {
	cl, adm, err := c.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := adm.UpdatePartitions(ctx, total, topic)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("add partitions to %s: %w", topic, err)
	}
	return poll(ctx, fmt.Sprintf("%s with %d led partitions", topic, total), func() (bool, error) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil || td.Error() != nil {
			return false, cmp.Or(err, td.Error())
		}
		d := td[topic]
		if len(d.Partitions) != total {
			return false, nil
		}
		for _, p := range d.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false, p.Err
			}
		}
		return true, nil
	})
}

func (c *realCluster) Produce(ctx context.Context, recs []record.Record) error {
	w, err := kafka.NewWriter(ctx, c.Config(), kafka.WriterOptions{KeepTimestamps: true})
	if err != nil {
		return err
	}
	defer w.Close()
	for i := range recs {
		if err := w.Produce(ctx, &recs[i]); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

func (c *realCluster) ProduceTxn(ctx context.Context, txnID string, recs []record.Record, commit bool) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin %s: %w", txnID, err)
	}
	var kr []*kgo.Record
	for i := range recs {
		rec := &recs[i]
		r := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		kr = append(kr, r)
	}
	if err := cl.ProduceSync(ctx, kr...).FirstErr(); err != nil {
		return fmt.Errorf("produce in %s: %w", txnID, err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		return fmt.Errorf("end %s (commit %v): %w", txnID, commit, err)
	}
	var topics []string
	for _, r := range recs {
		if !slices.Contains(topics, r.Topic) {
			topics = append(topics, r.Topic)
		}
	}
	// As ProduceTxn promises: Kafka answers EndTxn once the coordinator has
	// logged its decision and writes the markers after, so a produce right
	// after could land before them (kfake writes them before it answers).
	return awaitStable(ctx, c.Config(), topics...)
}

// awaitStable waits until no transaction is open in any partition of topics:
// each partition's last stable offset has reached its high watermark. On
// Apache Kafka a transaction's markers land a moment after its EndTxn
// answer, and read_committed sees its records only then: after a kferry run
// that ended its transactions, this waits for them to become visible.
func awaitStable(ctx context.Context, cfg kafka.Config, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	return poll(ctx, "no open transaction in "+strings.Join(topics, ", "), func() (bool, error) {
		hwm, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false, err
		}
		lso, err := adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			return false, err
		}
		if err := cmp.Or(hwm.Error(), lso.Error()); err != nil {
			return false, err
		}
		stable := true
		hwm.Each(func(h kadm.ListedOffset) {
			if l, ok := lso.Lookup(h.Topic, h.Partition); !ok || l.Offset < h.Offset {
				stable = false
			}
		})
		return stable, nil
	})
}

// waitStable is awaitStable for a test, which it ends when the wait fails.
func waitStable(t *testing.T, cfg kafka.Config, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := awaitStable(ctx, cfg, topics...); err != nil {
		t.Fatal(err)
	}
}

func (c *realCluster) ReadAll(ctx context.Context, topic string) (map[int32][]record.Record, error) {
	out := map[int32][]record.Record{}
	err := kafkatest.EachRecord(ctx, c.Config(), topic, func(rec *record.Record) error {
		out[rec.Partition] = append(out[rec.Partition], *rec)
		return nil
	})
	return out, err
}

func (c *realCluster) DeleteRecordsBefore(ctx context.Context, topic string, partition int32, offset int64) error {
	cl, adm, err := c.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset})
	resp, err := adm.DeleteRecords(ctx, os)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// Compact waits for the log cleaner, which looks every second on the pool's
// brokers (log.cleaner.backoff.ms) for closed segments to compact, until the
// topic holds want records.
func (c *realCluster) Compact(ctx context.Context, topic string, want int) error {
	var got int
	err := poll(ctx, fmt.Sprintf("compaction of %s to %d records", topic, want), func() (bool, error) {
		parts, err := c.ReadAll(ctx, topic)
		got = 0
		for _, recs := range parts {
			got += len(recs)
		}
		return err == nil && got == want, err
	})
	if err != nil {
		return fmt.Errorf("%w: %d records", err, got)
	}
	return nil
}

// Hold holds requests in the proxy that the cluster's addresses lead to; it
// needs a cluster from leaseHold.
func (c *realCluster) Hold(key kmsg.Key, match func(kmsg.Request) bool) {
	if c.proxy == nil {
		panic("Hold on a cluster without a proxy: get it from newHoldCluster")
	}
	c.proxy.hold(int16(key), match)
}

// poll calls cond every 50 ms until it holds, failing with its last error
// when ctx ends.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %w)", what, ctx.Err(), err)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}
