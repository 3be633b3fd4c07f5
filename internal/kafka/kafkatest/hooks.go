package kafkatest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/pkg/record"
)

// BeforeFetch runs fn once, inside the broker, when the first fetch request that
// asks for topic/partition arrives, before the broker answers it. fn may call the
// cluster's admin methods (DeleteRecords, Compact…): a test changes the log
// deterministically between a client capturing offsets and reading them.
func (c *Cluster) BeforeFetch(topic string, partition int32, fn func()) {
	var id [16]byte
	if ti := c.TopicInfo(topic); ti != nil {
		id = ti.TopicID
	}
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fr, ok := req.(*kmsg.FetchRequest)
		if !ok {
			return nil, nil, false
		}
		for _, t := range fr.Topics {
			if t.Topic != topic && t.TopicID != id {
				continue
			}
			for _, p := range t.Partitions {
				if p.Partition == partition {
					c.DropControl()
					fn()
					return nil, nil, false
				}
			}
		}
		return nil, nil, false // not handled: the control stays for the next fetch
	})
}

// FailFetches makes the broker answer the next count fetches of
// topic/partition (-1: every one) with the Kafka error code: a retriable one
// (6, NOT_LEADER_OR_FOLLOWER) the client retries, a fatal one (29,
// TOPIC_AUTHORIZATION_FAILED) it reports.
func (c *Cluster) FailFetches(topic string, partition int32, code int16, count int) {
	var ke *kerr.Error // stays nil for code 0: kfake then answers UNKNOWN_SERVER_ERROR
	errors.As(kerr.ErrorForCode(code), &ke)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Partitions: []int32{partition}, Err: ke, Count: count})
}

// ProduceBatch writes recs, all of one topic and partition, as one record batch
// in one produce request (timestamps kept when set), and checks that the broker
// received exactly that: tests of record timestamps far apart inside one batch
// rely on it.
func (c *Cluster) ProduceBatch(ctx context.Context, recs []record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	w := c.watchBatches(recs[0].Topic, recs[0].Partition)
	defer w.stop()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Minute),   // nothing leaves before Flush: one batch
		kgo.ProducerBatchMaxBytes(64<<20), // records as large as the topic allows
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := w.produce(ctx, cl, recs); err != nil {
		return err
	}
	return w.check(cl.Flush(ctx), len(recs))
}

// batchWatch sees, inside the broker, the record batches of one partition
// that produce requests carry while ProduceBatch runs.
type batchWatch struct {
	c         *Cluster
	topic     string
	partition int32
	id        [16]byte // requests may name the topic by id instead
	mu        sync.Mutex
	batches   []int32 // records per batch the broker received
	done      bool
	err       error // the first error reading a batch or producing a record
}

// watchBatches starts watching topic/partition's batches; stop ends it.
func (c *Cluster) watchBatches(topic string, partition int32) *batchWatch {
	w := &batchWatch{c: c, topic: topic, partition: partition}
	if ti := c.TopicInfo(topic); ti != nil {
		w.id = ti.TopicID
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		w.observe(req)
		return nil, nil, false // not handled: the broker answers every request
	})
	return w
}

// observe records the partition's batches in a produce request; once stopped,
// it drops the control at the next request instead.
func (w *batchWatch) observe(req kmsg.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		w.c.DropControl()
		return
	}
	pr, ok := req.(*kmsg.ProduceRequest)
	if !ok {
		return
	}
	for _, t := range pr.Topics {
		if t.Topic != w.topic && t.TopicID != w.id {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition != w.partition {
				continue
			}
			var b kmsg.RecordBatch
			if err := b.ReadFrom(p.Records); err != nil {
				w.err = cmp.Or(w.err, err)
				continue
			}
			w.batches = append(w.batches, b.NumRecords)
		}
	}
}

// stop ends the watch: the control drops itself at the next produce request.
func (w *batchWatch) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// produce hands recs to cl, which holds them until Flush.
func (w *batchWatch) produce(ctx context.Context, cl *kgo.Client, recs []record.Record) error {
	for i := range recs {
		rec := &recs[i]
		if rec.Topic != w.topic || rec.Partition != w.partition {
			return fmt.Errorf("ProduceBatch: record %d is for %s/%d, not %s/%d", i, rec.Topic, rec.Partition, w.topic, w.partition)
		}
		kr := &kgo.Record{Topic: w.topic, Partition: w.partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		cl.Produce(ctx, kr, func(_ *kgo.Record, err error) {
			if err != nil {
				w.mu.Lock()
				w.err = cmp.Or(w.err, err)
				w.mu.Unlock()
			}
		})
	}
	return nil
}

// check returns the flush's error or the first one seen, or an error unless
// the broker received one batch of n records.
func (w *batchWatch) check(flushErr error, n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := cmp.Or(flushErr, w.err); err != nil {
		return fmt.Errorf("produce one batch to %s/%d: %w", w.topic, w.partition, err)
	}
	if len(w.batches) != 1 || int(w.batches[0]) != n {
		return fmt.Errorf("produce one batch to %s/%d: the broker received batches of %v records, want one of %d", w.topic, w.partition, w.batches, n)
	}
	return nil
}

// JoinGroup starts a consumer that joins group, subscribed to topics, and returns
// once the group is stable with it as the only member; leave stops it. The
// topics must exist: franz-go joins a group only for topics it can consume.
func (c *Cluster) JoinGroup(ctx context.Context, group string, topics ...string) (leave func(), err error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
	)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() { // polling keeps the member alive the way a real consumer does
		defer close(polled)
		for pctx.Err() == nil {
			cl.PollFetches(pctx)
		}
	}()
	leave = func() {
		cancel()
		<-polled
		cl.Close()
	}
	if _, err := c.WaitGroupStable(ctx, group, 1); err != nil {
		leave()
		return nil, fmt.Errorf("join group %s: %w", group, err)
	}
	return leave, nil
}

// AddPartitions grows topic to total partitions.
func (c *Cluster) AddPartitions(ctx context.Context, topic string, total int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).UpdatePartitions(ctx, total, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("add partitions to %s: %w", topic, err)
	}
	return nil
}

// CountRequests counts every request the brokers get from now on, by request
// name ("Metadata", "Fetch", ...); the returned func reads the counts so far. A
// test bounds the round trips of a job over many topics with it.
func (c *Cluster) CountRequests() func() map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		counts[kmsg.NameForKey(req.Key())]++
		mu.Unlock()
		return nil, nil, false
	})
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(counts)
	}
}
