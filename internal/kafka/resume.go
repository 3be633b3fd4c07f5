package kafka

// Fence, then read, then write: the order every exactly-once writer follows
// (Resume for one writer, ResumeRun for a run of many, FenceTxnIDs below both).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"golang.org/x/sync/errgroup"
)

// ErrNotResumed means a transaction was begun on a writer whose previous
// writer was not fenced and whose progress was not read: see Resume.
var ErrNotResumed = errors.New("transactional writer used before Resume")

// Resume is the one way a transactional writer learns where to go on from. It
// does three things in this order, and the order is the whole point:
//
//  1. fence: InitProducerId with the writer's transactional id. An earlier
//     writer with the same id (a killed run, another copy) can commit no more;
//     a transaction it left open is aborted, and one whose commit it had sent
//     is completed, before the broker answers.
//  2. read the group's offsets on parts with RequireStable (StableOffsets):
//     a commit of the fenced writer that is still being written out is waited
//     for, not missed.
//  3. only then may the caller write (Begin refuses before Resume).
//
// Reading the progress first (or without RequireStable) lets a commit still in
// flight from a killed run go unseen, and its records go in a second time.
// Without a transactional id (at-least-once) there is nothing to fence and the
// read is still stable. Partitions without a commit are absent from the result.
func (w *TxnWriter) Resume(ctx context.Context, group string, parts ...TopicPartition) (map[TopicPartition]GroupOffset, error) {
	if err := w.fence(ctx); err != nil {
		return nil, err
	}
	done, err := stableOffsets(ctx, w.cl, w.timeout, group, parts)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.resumed = true
	w.mu.Unlock()
	return done, nil
}

// RunProgress is the progress of a run read by ResumeRun, after every
// transactional id of the run was fenced.
type RunProgress struct {
	fenced map[string]bool
	// Offsets holds the committed progress of the partitions read; those
	// without a commit are absent.
	Offsets map[TopicPartition]GroupOffset
	// topicIDs are the ids of the partitions' topics, which a writer's
	// TxnOffsetCommit names: read once for the run instead of once per writer
	// (a metadata answer for a topic of thousands of partitions each).
	topicIDs map[string][16]byte
}

// ResumeRun is Resume for a run of many writers: it fences every id in ids
// (FenceTxnIDs) and only then reads the group's offsets on parts with
// RequireStable, once for all of them. Writers created afterwards with one of
// ids and ResumedBy(the result) may write at once. One stable read after every
// fence also spares brokers that answer UNSTABLE_OFFSET_COMMIT for a whole group
// (kfake) a wait on a writer of the same run that already writes.
func (c *Client) ResumeRun(ctx context.Context, group string, ids []string, parts []TopicPartition) (*RunProgress, error) {
	if err := c.FenceTxnIDs(ctx, ids); err != nil {
		return nil, err
	}
	done, err := stableOffsets(ctx, c.cl, c.cfg.timeout(), group, parts)
	if err != nil {
		return nil, err
	}
	p := &RunProgress{fenced: make(map[string]bool, len(ids)+1), Offsets: done, topicIDs: map[string][16]byte{}}
	// Without the ids (a failed metadata answer), each writer reads its own.
	if td, err := listTopics(ctx, c.cl, TopicsOf(parts)...); err == nil {
		for name, t := range td {
			if t.Err == nil {
				p.topicIDs[name] = t.ID
			}
		}
	}
	p.fenced[""] = true // an at-least-once writer has nothing to fence
	for _, id := range ids {
		p.fenced[id] = true
	}
	return p, nil
}

// fence registers the writer's transactional id with the coordinator now
// (InitProducerId). A no-op without an id.
func (w *TxnWriter) fence(ctx context.Context) error {
	if w.txnID == "" {
		if w.fenceOther != nil {
			ctx, cancel := context.WithTimeout(ctx, w.timeout)
			defer cancel()
			return w.fenceOther(ctx)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if _, _, err := w.cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("init transactional id %s: %w", w.txnID, err)
	}
	return nil
}

// fenceTxnID registers id with its coordinator (InitProducerId) from a client
// of its own, so an earlier writer with that id is fenced and its open
// transaction aborted.
func fenceTxnID(ctx context.Context, base []kgo.Opt, id string) error {
	cl, err := kgo.NewClient(append(base[:len(base):len(base)], kgo.TransactionalID(id))...)
	if err != nil {
		return fmt.Errorf("fence transactional id %s: %w", id, err)
	}
	defer cl.Close()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("fence transactional id %s: %w", id, err)
	}
	return nil
}

// FenceTxnIDs registers each transactional id with its coordinator
// (InitProducerId), as a new writer with that id does when it resumes: an
// earlier writer with the id can commit no more, and a transaction it left open
// is aborted. A run fences every partition's id before it starts writing, so a
// killed run's open transaction is gone before any partition reads progress
// with RequireStable: brokers that answer UNSTABLE_OFFSET_COMMIT for a whole
// group while any of its offsets is pending (not Kafka, which answers per
// partition) would otherwise hold every partition's resume until that
// transaction times out.
func (c *Client) FenceTxnIDs(ctx context.Context, ids []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(gctx, c.cfg.timeout())
			defer cancel()
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID = &id
			req.TransactionTimeoutMillis = 60_000
			req.ProducerID, req.ProducerEpoch = -1, -1
			err := retriable(ctx, c.cfg.timeout(), func() error {
				resp, err := req.RequestWith(ctx, c.cl)
				if err == nil {
					err = kerr.ErrorForCode(resp.ErrorCode)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("fence transactional id %s: %w", id, err)
			}
			return nil
		})
	}
	return g.Wait()
}
