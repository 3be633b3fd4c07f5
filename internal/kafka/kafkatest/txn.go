package kafkatest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// Txn is an open producer transaction holding records that no read_committed
// reader sees until End commits it.
type Txn struct {
	cl   *kgo.Client
	id   string
	last map[kafka.TopicPartition]int64 // the offset of the last record written to each partition
	seed []string
}

// BeginTxn starts a transaction under txnID, writes recs into it (each into the
// partition it names, timestamps kept when set) and waits until the brokers hold
// them, leaving the transaction open.
func (c *Cluster) BeginTxn(ctx context.Context, txnID string, recs []record.Record) (*Txn, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.TransactionalID(txnID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		return nil, fmt.Errorf("transactional client %s: %w", txnID, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return nil, fmt.Errorf("begin %s: %w", txnID, err)
	}
	var (
		mu   sync.Mutex
		perr error
		last = map[kafka.TopicPartition]int64{}
	)
	for i := range recs {
		rec := &recs[i]
		kr := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		cl.Produce(ctx, kr, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				perr = cmp.Or(perr, err)
				return
			}
			tp := kafka.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			last[tp] = max(last[tp], r.Offset)
		})
	}
	err = cl.Flush(ctx)
	mu.Lock()
	err = cmp.Or(err, perr)
	mu.Unlock()
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("produce in %s: %w", txnID, err)
	}
	return &Txn{cl: cl, id: txnID, last: last, seed: c.ListenAddrs()}, nil
}

// End commits the transaction, or aborts it when commit is false, and closes its
// client; the transaction's markers are written when End returns. It checks
// the markers: franz-go aborts in a commit's stead, without an error, when it
// believes no record of the transaction reached a broker, and has believed so
// of acknowledged records under load (then End fails with errCommitLost).
func (x *Txn) End(ctx context.Context, commit bool) error {
	defer x.cl.Close()
	how := kgo.TryAbort
	if commit {
		how = kgo.TryCommit
	}
	pid, _, err := x.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("end %s: producer id: %w", x.id, err)
	}
	if err := x.cl.EndTransaction(ctx, how); err != nil {
		return fmt.Errorf("end %s (commit %v): %w", x.id, commit, err)
	}
	for tp, last := range x.last {
		committed, err := x.marker(ctx, tp, last, pid)
		if err != nil {
			return fmt.Errorf("end %s: %w", x.id, err)
		}
		if committed != commit {
			return fmt.Errorf("end %s: %s ended with commit %v, want %v: %w", x.id, tp, committed, commit, errCommitLost)
		}
	}
	return nil
}

// errCommitLost: the transaction ended otherwise than asked.
var errCommitLost = errors.New("transaction ended otherwise than asked")

// marker reads tp from the record at last on and reports whether the first
// transaction marker of producer pid after it is a commit.
func (x *Txn) marker(ctx context.Context, tp kafka.TopicPartition, last, pid int64) (bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(x.seed...), kgo.KeepControlRecords(), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(last)}}))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false, fmt.Errorf("no marker of producer %d after %s@%d: %w", pid, tp, last, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			return false, err
		}
		for _, r := range fs.Records() {
			// A control record's key is a version and a type: 0 abort, 1 commit.
			if r.Attrs.IsControl() && r.ProducerID == pid && r.Offset > last && len(r.Key) >= 4 {
				return r.Key[3] == 1, nil
			}
		}
	}
}

// ProduceTxn writes recs in one transaction under txnID and commits it, or aborts
// it when commit is false. A transaction franz-go ended otherwise than asked is
// written again (its records are aborted, and so invisible).
func (c *Cluster) ProduceTxn(ctx context.Context, txnID string, recs []record.Record, commit bool) error {
	for tries := 0; ; tries++ {
		x, err := c.BeginTxn(ctx, txnID, recs)
		if err != nil {
			return err
		}
		if err := x.End(ctx, commit); !errors.Is(err, errCommitLost) || tries == 2 {
			return err
		}
	}
}
