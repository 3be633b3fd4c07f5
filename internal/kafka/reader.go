package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/pkg/record"
)

// ErrStalled means a partition delivered nothing for too long although records
// up to the captured end offset exist.
var ErrStalled = errors.New("partition read stalled")

// Reader reads partition ranges, one at a time, with one client. It is not safe
// for concurrent use; run one Reader per worker.
type Reader struct {
	cl   *kgo.Client
	idle time.Duration
	recs []record.Record
	ptrs []*record.Record
}

// NewReader returns a Reader that reads committed records only (aborted
// transactions are skipped), as a one-shot export must.
func NewReader(ctx context.Context, cfg Config) (*Reader, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records are kept so offsets advance past transaction markers
		// that sit right before the captured end offset.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka reader: %w", err)
	}
	return &Reader{cl: cl, idle: max(6*cfg.timeout(), time.Minute)}, nil
}

// Close releases the reader's connections.
func (r *Reader) Close() { r.cl.Close() }

// Read delivers the records of pr in offset order, in batches, to fn, and returns
// when the record before pr.End has been delivered. The batch and its records are
// reused after fn returns. If retention already removed offsets from pr.Start on,
// reading starts at the log start and the first record's offset shows the gap.
func (r *Reader) Read(ctx context.Context, pr PartitionRange, fn func(batch []*record.Record) error) error {
	if pr.Start >= pr.End {
		return nil
	}
	r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{pr.Topic: {pr.Partition: kgo.NewOffset().At(pr.Start)}})
	defer r.cl.RemoveConsumePartitions(map[string][]int32{pr.Topic: {pr.Partition}})

	next := pr.Start
	for next < pr.End {
		pctx, cancel := context.WithTimeout(ctx, r.idle)
		fetches := r.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w: nothing for %s at offset %d (end %d)", ErrStalled, r.idle, next, pr.End)
			}
			if ferr == nil {
				ferr = fmt.Errorf("read %s/%d at offset %d: %w", pr.Topic, pr.Partition, next, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		r.recs, r.ptrs = r.recs[:0], r.ptrs[:0]
		fetches.EachRecord(func(kr *kgo.Record) {
			if kr.Topic != pr.Topic || kr.Partition != pr.Partition || kr.Offset < next || kr.Offset >= pr.End {
				return
			}
			next = kr.Offset + 1
			if kr.Attrs.IsControl() {
				return
			}
			r.recs = append(r.recs, fromKgo(kr))
		})
		for i := range r.recs {
			r.ptrs = append(r.ptrs, &r.recs[i])
		}
		if len(r.ptrs) > 0 {
			if err := fn(r.ptrs); err != nil {
				return err
			}
		}
	}
	return nil
}

func fromKgo(kr *kgo.Record) record.Record {
	rec := record.Record{
		Topic:         kr.Topic,
		Partition:     kr.Partition,
		Offset:        kr.Offset,
		Timestamp:     kr.Timestamp,
		TimestampType: record.TimestampType(kr.Attrs.TimestampType()),
		Key:           kr.Key,
		Value:         kr.Value,
	}
	if len(kr.Headers) > 0 {
		rec.Headers = make([]record.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			rec.Headers[i] = record.Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}
