// Package kafkatest runs in-process Kafka clusters (franz-go's kfake) for tests,
// the demo and benchmarks, bound to 127.0.0.1 only.
package kafkatest

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// Cluster is a running in-process cluster.
type Cluster struct {
	*kfake.Cluster
	// security is what clients need to connect (NewSASLCluster).
	security kafka.Security
}

// Start starts a cluster of n brokers on free loopback ports; Close stops it.
func Start(n int, opts ...kfake.Opt) (*Cluster, error) {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(n)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &Cluster{Cluster: c}, nil
}

// NewCluster starts a 3-broker cluster for the test and stops it at cleanup.
func NewCluster(t TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c, err := Start(3, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewSASLCluster starts a 3-broker cluster for the test that admits only the
// SCRAM-SHA-256 superuser user with password, and stops it at cleanup. Config
// carries the credentials, so the helpers built on it (CreateTopic, Produce,
// ReadAll, Each) work on this cluster; the others connect without them.
func NewSASLCluster(t TB, user, password string) *Cluster {
	t.Helper()
	c := NewCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, password))
	c.security = kafka.Security{SASLMechanism: "scram-sha-256", SASLUsername: user, SASLPassword: password}
	return c
}

// Config returns a kafka.Config that reaches the cluster.
func (c *Cluster) Config() kafka.Config {
	return kafka.Config{Brokers: c.ListenAddrs(), ClientID: "kferry-test", Security: c.security}
}

// CreateTopic creates a topic with the given partition count.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		return err
	}
	defer kc.Close()
	_, err = kc.CreateTopic(ctx, topic, partitions, -1)
	return err
}

// Produce writes recs, each into the partition it names, in order, and waits
// for every acknowledgement. Timestamps are kept when set.
func (c *Cluster) Produce(ctx context.Context, recs []record.Record) error {
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

// ReadAll returns every committed record of topic, per partition, in order.
func (c *Cluster) ReadAll(ctx context.Context, topic string) (map[int32][]record.Record, error) {
	out := map[int32][]record.Record{}
	err := c.Each(ctx, topic, func(rec *record.Record) error {
		cp := *rec
		out[rec.Partition] = append(out[rec.Partition], cp)
		return nil
	})
	return out, err
}

// Each streams every committed record of topic to fn, partition by partition.
func (c *Cluster) Each(ctx context.Context, topic string, fn func(*record.Record) error) error {
	return EachRecord(ctx, c.Config(), topic, fn)
}

// EachRecord streams every committed record of topic on any cluster to fn,
// partition by partition, in offset order.
func EachRecord(ctx context.Context, cfg kafka.Config, topic string, fn func(*record.Record) error) error {
	kc, err := kafka.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer kc.Close()
	ranges, err := kc.Ranges(ctx, []string{topic})
	if err != nil {
		return err
	}
	rd, err := kafka.NewReader(ctx, cfg)
	if err != nil {
		return err
	}
	defer rd.Close()
	for _, pr := range ranges {
		err := rd.Read(ctx, pr, func(batch []*record.Record) error {
			for _, rec := range batch {
				if err := fn(rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteRecordsBefore advances the log start of topic/partition to offset, as
// retention would.
func (c *Cluster) DeleteRecordsBefore(ctx context.Context, topic string, partition int32, offset int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset})
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, os)
	if err == nil {
		err = resp.Error()
	}
	return err
}

// TB is the part of testing.TB the helpers use. It is an interface of its own
// so that this package does not import testing: internal/demo starts clusters
// with Start, and the kferry binary must not link the testing package.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
	TempDir() string
}
