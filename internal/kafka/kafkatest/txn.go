package kafkatest

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/pkg/record"
)

// Txn is an open producer transaction holding records that no read_committed
// reader sees until End commits it.
type Txn struct {
	cl *kgo.Client
	id string
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
	)
	for i := range recs {
		rec := &recs[i]
		kr := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		cl.Produce(ctx, kr, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = cmp.Or(perr, err)
				mu.Unlock()
			}
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
	return &Txn{cl: cl, id: txnID}, nil
}

// End commits the transaction, or aborts it when commit is false, and closes its
// client; the transaction's markers are written when End returns.
func (x *Txn) End(ctx context.Context, commit bool) error {
	defer x.cl.Close()
	how := kgo.TryAbort
	if commit {
		how = kgo.TryCommit
	}
	if err := x.cl.EndTransaction(ctx, how); err != nil {
		return fmt.Errorf("end %s (commit %v): %w", x.id, commit, err)
	}
	return nil
}

// ProduceTxn writes recs in one transaction under txnID and commits it, or aborts
// it when commit is false.
func (c *Cluster) ProduceTxn(ctx context.Context, txnID string, recs []record.Record, commit bool) error {
	x, err := c.BeginTxn(ctx, txnID, recs)
	if err != nil {
		return err
	}
	return x.End(ctx, commit)
}
