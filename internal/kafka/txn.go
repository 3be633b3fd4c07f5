package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/arena"
	"github.com/kferry/kferry/pkg/record"
)

// TxnWriter produces records inside Kafka transactions and commits consumer-group
// offsets in the same transaction, so records and progress land together or not
// at all. A restarted TxnWriter with the same transactional id fences the old one.
// It is not safe for concurrent use.
type TxnWriter struct {
	cl *kgo.Client
	// recs hands out the kgo.Records Produce queues: one allocation per
	// record was a tenth of a restore's CPU with 100-byte records.
	recs  arena.Arena[kgo.Record]
	adm   *kadm.Client
	txnID string
	ids   map[string][16]byte
	limit *RateLimit
	// timeout bounds the retries of a retriable error in commitOffsets.
	timeout time.Duration

	// stall ends when records wait for an acknowledgement and none has come
	// for timeout (watch): the brokers are gone, and kgo would retry them
	// forever. Flush and a Produce waiting for buffer space then give up.
	stall       context.Context
	stalled     context.CancelFunc
	outstanding atomic.Int64 // records produced and not yet acknowledged or failed
	lastAck     atomic.Int64 // unix nanoseconds of the last acknowledgement (or first record)

	mu      sync.Mutex
	err     error
	resumed bool // Resume fenced and read the progress
	// fenceOther, if set, fences another transactional id (FenceID).
	fenceOther func(context.Context) error
}

// TxnOption tunes a TxnWriter.
type TxnOption func(*txnOptions)

type txnOptions struct {
	batchMaxBytes int32
	fenceID       string
	resumed       *RunProgress
}

// ResumedBy makes a new writer count as resumed (Begin no longer refuses) when
// p fenced its transactional id before reading the progress: Client.ResumeRun
// did for the whole run what Resume does for one writer, in the same order.
func ResumedBy(p *RunProgress) TxnOption {
	return func(o *txnOptions) { o.resumed = p }
}

// FenceID makes Resume of a writer without a transactional id (at-least-once)
// fence id first: the id an exactly-once run of the same work used. A killed
// exactly-once run's open transaction is then aborted at once, instead of
// holding back read_committed readers of the partition (the last stable offset)
// until the broker's transaction timeout. Ignored by a transactional writer.
func FenceID(id string) TxnOption {
	return func(o *txnOptions) { o.fenceID = id }
}

// BatchMaxBytes sets the largest record batch the writer produces, 1 MiB by
// default. Set it to the target topic's max.message.bytes: a record larger than
// the batch limit is refused by the client even when the topic accepts it, and
// a batch larger than the topic's limit is refused by the broker. 0 keeps the
// default.
func BatchMaxBytes(n int32) TxnOption {
	return func(o *txnOptions) {
		if n > 0 {
			o.batchMaxBytes = n
		}
	}
}

// NewTxnWriter returns a writer with the given transactional id. An empty id
// gives an at-least-once writer with the same API: records are produced
// idempotently and offsets are committed with a plain OffsetCommit after them.
func NewTxnWriter(ctx context.Context, cfg Config, txnID string, o WriterOptions, opts ...TxnOption) (*TxnWriter, error) {
	to := txnOptions{batchMaxBytes: 1 << 20}
	for _, opt := range opts {
		opt(&to)
	}
	kopts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	codec, err := codecFor(o.Compression)
	if err != nil {
		return nil, err
	}
	if txnID != "" {
		kopts = append(kopts, kgo.TransactionalID(txnID))
	}
	kopts = append(kopts,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedBytes(max(16<<20, 2*int(to.batchMaxBytes))),
		kgo.ProducerBatchMaxBytes(to.batchMaxBytes),
	)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka transactional writer: %w", err)
	}
	w := &TxnWriter{cl: cl, adm: kadm.NewClient(cl), txnID: txnID, ids: map[string][16]byte{}, timeout: cfg.timeout(), limit: cfg.Limit}
	w.stall, w.stalled = context.WithCancel(context.Background())
	go w.watch()
	if to.resumed != nil {
		maps.Copy(w.ids, to.resumed.topicIDs)
	}
	if to.resumed != nil && to.resumed.fenced[txnID] {
		// The writer's own InitProducerId before its first transaction, as
		// Resume does: franz-go picks the transaction protocol (KIP-890)
		// from the broker versions it knows at BeginTransaction, and a
		// client that has not talked to a broker yet picks the old one,
		// whose transactions kfake then mixes up with the new (fenced
		// transactions of a killed run became visible).
		if err := w.fence(ctx); err != nil {
			w.Close()
			return nil, err
		}
		w.resumed = true
	}
	if txnID == "" && to.fenceID != "" {
		w.fenceOther = func(ctx context.Context) error { return fenceTxnID(ctx, kopts, to.fenceID) }
	}
	return w, nil
}

// ErrProduceStalled means records waited longer than the Kafka timeout
// without any being acknowledged: the brokers that lead their partitions are
// down. It is Transient: a new writer may succeed once they are back.
var ErrProduceStalled = errors.New("produce stalled")

// watch ends w.stall once records have waited for timeout with no
// acknowledgement, or when the writer is closed.
func (w *TxnWriter) watch() {
	tick := time.NewTicker(max(w.timeout/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-w.stall.Done():
			return
		case <-tick.C:
		}
		if w.outstanding.Load() > 0 && time.Since(time.Unix(0, w.lastAck.Load())) > w.timeout {
			w.stalled()
			return
		}
	}
}

// stallErr is the error of a writer whose records stalled.
func (w *TxnWriter) stallErr() error {
	return fmt.Errorf("%w: no record acknowledged for %s (raise --timeout if the brokers are slow rather than gone)", ErrProduceStalled, w.timeout)
}

// Close releases the writer; an open transaction is aborted by the broker
// after its timeout, or at once by the next writer with the same id.
func (w *TxnWriter) Close() {
	w.stalled()
	w.cl.Close()
}

// Begin starts a transaction. A transactional writer refuses (ErrNotResumed)
// until Resume has fenced its predecessor and read the progress.
func (w *TxnWriter) Begin() error {
	w.mu.Lock()
	w.err = nil
	resumed := w.resumed
	w.mu.Unlock()
	if w.txnID == "" {
		return nil
	}
	if !resumed {
		return fmt.Errorf("begin transaction %s: %w", w.txnID, ErrNotResumed)
	}
	if err := w.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	return nil
}

// Produce queues rec in the open transaction with its own timestamp; onAck, if
// not nil, receives the offset the record got.
func (w *TxnWriter) Produce(ctx context.Context, rec *record.Record, onAck func(offset int64)) {
	kr := w.recs.New()
	*kr = kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	if len(rec.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(rec.Headers))
		for i, h := range rec.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	// The wait starts now. The time goes first: watch, seeing the count
	// before the time, would measure from an acknowledgement long past (the
	// writer idle since) and report a stall that is none. With nothing
	// outstanding no callback runs, so nothing else changes either here.
	// A wait here ends early when ctx does; the record is then produced
	// anyway, and the Flush that follows reports the end of the run.
	_ = w.limit.wait(ctx, rec.Size())
	if w.outstanding.Load() == 0 {
		w.lastAck.Store(time.Now().UnixNano())
	}
	w.outstanding.Add(1)
	// kgo uses the context only while the buffer is full; the writer's own
	// ends when the records stall, so that a dead cluster cannot block here
	// for good. The caller's ends the run, which Flush then sees.
	w.cl.Produce(w.stall, kr, func(r *kgo.Record, err error) {
		w.lastAck.Store(time.Now().UnixNano())
		w.outstanding.Add(-1)
		if err != nil && w.stall.Err() != nil && errors.Is(err, context.Canceled) {
			err = w.stallErr() // refused while the buffer was full: the stall is the cause
		}
		if err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = fmt.Errorf("produce to %s/%d: %w", r.Topic, r.Partition, err)
			}
			w.mu.Unlock()
			return
		}
		if onAck != nil {
			onAck(r.Offset)
		}
	})
}

// Flush waits for every queued record of the transaction; afterwards every
// onAck has run.
func (w *TxnWriter) Flush(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.stall, cancel)()
	if err := w.cl.Flush(fctx); err != nil {
		if ctx.Err() == nil && w.stall.Err() != nil {
			err = w.stallErr()
		}
		return fmt.Errorf("flush: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fenced(w.err)
}

// Commit flushes, adds the group offsets to the transaction and commits it. The
// transaction must hold at least one record when offsets are given (a
// transaction of offsets only is not committed by franz-go's EndTransaction).
// On any error the transaction is aborted and nothing of it is visible.
func (w *TxnWriter) Commit(ctx context.Context, offsets []GroupOffset) error {
	if w.txnID == "" {
		if err := w.Flush(ctx); err != nil {
			return err
		}
		return w.CommitPlain(ctx, offsets)
	}
	err := w.Flush(ctx)
	if err == nil {
		err = w.commitOffsets(ctx, offsets)
	}
	if err != nil {
		// Bounded: after a stall the brokers may not answer the abort either.
		actx, cancel := context.WithTimeout(ctx, w.timeout)
		w.Abort(actx)
		cancel()
		return w.fenced(err)
	}
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return w.fenced(fmt.Errorf("commit transaction: %w", err))
	}
	return w.checkCommitted(ctx, offsets)
}

// ErrCommitLost means a transaction reported committed was aborted instead:
// its progress did not move. franz-go ends a transaction with an abort, and
// returns no error, when it believes none of its records reached a broker;
// under load it has believed so of records the broker had acknowledged (found
// by TestImportSlotKilledAfterEndTxn on kfake: six acknowledged records
// aborted, their import reported done). Nothing of the transaction is visible,
// so it is Transient: the work restarts from the committed progress.
var ErrCommitLost = errors.New("the transaction was aborted although its commit reported success (its progress did not move); nothing of it is visible, so it is written again")

// checkCommitted reads back the progress a commit carried: the proof that the
// transaction committed rather than ended aborted. It reads the group of the
// first offset, the writer's own progress (the callers put it first), which
// only moves forward and which the fence keeps other writers away from; other
// groups in the commit (consumer groups a restore translates) may have
// consumers of their own. The commit happened when any of its offsets is there:
// they are applied together or not at all. A plain read first: it holds the
// commit once the broker applied it (kfake before answering EndTxn); else a
// stable read, which waits for the commit's markers (Apache Kafka writes them
// after answering) and then is final. Stable first would wait on kfake for
// every writer of the group: it answers UNSTABLE_OFFSET_COMMIT for a whole
// group while any transaction holds offsets of it.
func (w *TxnWriter) checkCommitted(ctx context.Context, offsets []GroupOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	group := offsets[0].Group
	var parts []TopicPartition
	for _, o := range offsets {
		if o.Group == group {
			parts = append(parts, TopicPartition{Topic: o.Topic, Partition: o.Partition})
		}
	}
	committed := func(got map[TopicPartition]GroupOffset) bool {
		for _, o := range offsets {
			if o.Group == group && got[TopicPartition{Topic: o.Topic, Partition: o.Partition}].Offset == o.Offset {
				return true
			}
		}
		return false
	}
	got := map[TopicPartition]GroupOffset{}
	rctx, cancel := context.WithTimeout(ctx, w.timeout)
	_, err := fetchOffsetsOnce(rctx, w.cl, group, parts, got, false)
	cancel()
	if err == nil && committed(got) {
		return nil
	}
	if got, err = stableOffsets(ctx, w.cl, w.timeout, group, parts); err != nil {
		return fmt.Errorf("check the commit of transaction %s: %w", w.txnID, err)
	}
	if committed(got) {
		return nil
	}
	o := offsets[0]
	return fmt.Errorf("transaction %s: group %s holds %d for %s/%d, the commit carried %d: %w", w.txnID, group,
		got[TopicPartition{Topic: o.Topic, Partition: o.Partition}].Offset, o.Topic, o.Partition, o.Offset, ErrCommitLost)
}

// ErrWriterFenced means a newer writer with the same transactional id took over:
// another copy of the command, or a newer run of it, writes the partition now.
var ErrWriterFenced = errors.New("a newer writer with the same transactional id took over (another copy of this command, or a newer run of it, is writing this partition; this one stops, nothing of its open transaction is committed)")

// fenced names what a fenced writer's error means.
func (w *TxnWriter) fenced(err error) error {
	if err == nil || w.txnID == "" || errors.Is(err, ErrWriterFenced) {
		return err
	}
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w: %w", err, ErrWriterFenced)
	}
	return err
}

// Abort ends the open transaction without committing.
func (w *TxnWriter) Abort(ctx context.Context) {
	// Also when ctx has ended (a run cancelled by another partition's error,
	// or by SIGINT): a transaction left open holds back every read_committed
	// reader of its partitions until the broker's transaction timeout. And
	// bounded: with its brokers gone (records stalled) nothing answers the
	// abort, and AbortBufferedRecords waits for every record in flight; what
	// is left open then, the next writer's fence (or the timeout) aborts.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(w.timeout, time.Second))
	defer cancel()
	_ = w.cl.AbortBufferedRecords(ctx)
	if w.txnID == "" {
		return
	}
	_ = w.cl.EndTransaction(ctx, kgo.TryAbort)
}

// commitOffsets sends AddOffsetsToTxn and TxnOffsetCommit for each group, the
// two requests a consume-transform-produce client sends, outside of any group
// membership (generation -1).
func (w *TxnWriter) commitOffsets(ctx context.Context, offsets []GroupOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	pid, epoch, err := w.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("producer id: %w", err)
	}
	byGroup := map[string]map[string][]GroupOffset{}
	var topics []string
	for _, o := range offsets {
		if byGroup[o.Group] == nil {
			byGroup[o.Group] = map[string][]GroupOffset{}
		}
		if _, seen := w.ids[o.Topic]; !seen {
			topics = append(topics, o.Topic)
		}
		byGroup[o.Group][o.Topic] = append(byGroup[o.Group][o.Topic], o)
	}
	if err := w.loadTopicIDs(ctx, topics); err != nil {
		return err
	}
	for group, byTopic := range byGroup {
		add := kmsg.NewPtrAddOffsetsToTxnRequest()
		add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = w.txnID, pid, epoch, group
		err := retriable(ctx, w.timeout, func() error {
			addResp, err := add.RequestWith(ctx, w.cl)
			if err == nil {
				err = kerr.ErrorForCode(addResp.ErrorCode)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("add offsets of group %s to transaction: %w", group, err)
		}
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = w.txnID, group, pid, epoch
		req.Generation, req.MemberID = -1, ""
		for topic, os := range byTopic {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic, rt.TopicID = topic, w.ids[topic]
			for _, o := range os {
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, -1
				if o.Metadata != "" {
					md := o.Metadata
					rp.Metadata = &md
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		err = retriable(ctx, w.timeout, func() error {
			resp, err := req.RequestWith(ctx, w.cl)
			if err != nil {
				return fmt.Errorf("commit offsets of group %s in transaction: %w", group, err)
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
						return fmt.Errorf("commit offset of group %s on %s/%d in transaction: %w", group, w.topicName(t.Topic, t.TopicID), p.Partition, err)
					}
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

// CommitPlain commits offsets outside any transaction (at-least-once mode, and
// offsets that no record accompanies).
func (w *TxnWriter) CommitPlain(ctx context.Context, offsets []GroupOffset) error {
	byGroup := map[string]kadm.Offsets{}
	for _, o := range offsets {
		os := byGroup[o.Group]
		if os == nil {
			os = kadm.Offsets{}
			byGroup[o.Group] = os
		}
		os.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1, Metadata: o.Metadata})
	}
	for group, os := range byGroup {
		resp, err := w.adm.CommitOffsets(ctx, group, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
	}
	return nil
}

// topicName is name, or the topic whose id is id when a response names topics
// by id only.
func (w *TxnWriter) topicName(name string, id [16]byte) string {
	if name != "" {
		return name
	}
	for topic, tid := range w.ids {
		if tid == id {
			return topic
		}
	}
	return fmt.Sprintf("topic id %x", id)
}

// Transactional reports whether the writer uses transactions.
func (w *TxnWriter) Transactional() bool { return w.txnID != "" }

func (w *TxnWriter) loadTopicIDs(ctx context.Context, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	td, err := listTopics(ctx, w.cl, topics...)
	if err != nil {
		return fmt.Errorf("topic ids: %w", err)
	}
	for name, t := range td {
		w.ids[name] = t.ID
	}
	return nil
}
