package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/pkg/record"
)

// WriterOptions tune a Writer.
type WriterOptions struct {
	// Compression of produced batches: none, gzip, snappy, lz4 or zstd.
	Compression string
	// KeepTimestamps sends each record's own timestamp (CreateTime) instead of
	// letting the producer stamp it with the current time.
	KeepTimestamps bool
}

// Writer produces records into exactly the partition each record names, in the
// order Produce is called per partition, idempotently with acks=all. Produce may be
// called from several goroutines; per partition, calls must come from one.
type Writer struct {
	cl      *kgo.Client
	keep    bool
	limit   *RateLimit
	promise func(*kgo.Record, error)

	mu      sync.Mutex
	err     error
	records int64
	bytes   int64
}

// NewWriter returns a Writer on the cluster.
func NewWriter(ctx context.Context, cfg Config, o WriterOptions) (*Writer, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	codec, err := codecFor(o.Compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedBytes(64<<20),
		kgo.ProducerBatchMaxBytes(1<<20),
	)
	if !o.KeepTimestamps {
		// kgo measures the delivery timeout from each record's Timestamp, so with
		// kept timestamps every record older than the timeout would fail at once.
		opts = append(opts, kgo.RecordDeliveryTimeout(5*time.Minute))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka writer: %w", err)
	}
	w := &Writer{cl: cl, keep: o.KeepTimestamps, limit: cfg.Limit}
	w.promise = w.delivered
	return w, nil
}

func codecFor(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown producer compression %q (none, gzip, snappy, lz4, zstd)", name)
}

// Produce queues rec (copied; the caller may reuse it) and returns the first
// delivery error seen so far, if any. It blocks while the producer buffer is full.
func (w *Writer) Produce(ctx context.Context, rec *record.Record) error {
	if err := w.Err(); err != nil {
		return err
	}
	if err := w.limit.wait(ctx, rec.Size()); err != nil {
		return err
	}
	kr := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value}
	if w.keep && !rec.Timestamp.IsZero() {
		kr.Timestamp = rec.Timestamp
	}
	if len(rec.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(rec.Headers))
		for i, h := range rec.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	w.cl.Produce(ctx, kr, w.promise)
	return nil
}

// delivered records the outcome of one record; w.promise is this method's value,
// made once so that Produce allocates no closure per record.
func (w *Writer) delivered(r *kgo.Record, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("produce to %s/%d: %w", r.Topic, r.Partition, err)
		}
		return
	}
	size := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		size += len(h.Key) + len(h.Value)
	}
	w.records++
	w.bytes += int64(size)
}

// Err returns the first delivery error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Delivered returns how many records and bytes the brokers acknowledged.
func (w *Writer) Delivered() (records, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records, w.bytes
}

// Flush waits until every queued record is acknowledged and returns the first
// delivery error.
func (w *Writer) Flush(ctx context.Context) error {
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return w.Err()
}

// Close releases the writer's connections; unflushed records are failed.
func (w *Writer) Close() { w.cl.Close() }
