package pipeline

import (
	"context"
	"sync"

	"github.com/kferry/kferry/internal/kafka"
)

// WriterPool lends at-least-once writers (no transactional id) to slot after
// slot, so that a one-shot run opens about --parallelism Kafka clients rather
// than one per slot (up to 64). Each client connects to every broker and
// reads the metadata of its topics: on a topic of 2,000 small partitions that
// was a quarter of an at-least-once import's CPU. Exactly-once slots need a
// client per transactional id and never come here.
//
// Writers are kept by their batch limit (restore writes each target
// max.message.bytes through writers of its own). Only a writer whose work
// ended without an error goes back (Put); the zero WriterPool is ready, and it
// is safe for concurrent use.
type WriterPool struct {
	mu   sync.Mutex
	free map[int32][]*kafka.TxnWriter
}

// Get lends a writer with batch limit batchMax (0: the default), made with
// kafka.NewTxnWriter(ctx, cfg, "", o, opts...) when none is free.
func (p *WriterPool) Get(ctx context.Context, cfg kafka.Config, batchMax int32, o kafka.WriterOptions, opts ...kafka.TxnOption) (*kafka.TxnWriter, error) {
	p.mu.Lock()
	if ws := p.free[batchMax]; len(ws) > 0 {
		w := ws[len(ws)-1]
		p.free[batchMax] = ws[:len(ws)-1]
		p.mu.Unlock()
		return w, nil
	}
	p.mu.Unlock()
	if batchMax > 0 {
		opts = append(opts, kafka.BatchMaxBytes(batchMax))
	}
	return kafka.NewTxnWriter(ctx, cfg, "", o, opts...)
}

// Put takes back a writer Get lent: for the next slot when its work succeeded
// (nothing buffered, no error kept), closed otherwise.
func (p *WriterPool) Put(w *kafka.TxnWriter, batchMax int32, ok bool) {
	if !ok {
		w.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = map[int32][]*kafka.TxnWriter{}
	}
	p.free[batchMax] = append(p.free[batchMax], w)
}

// Close closes the writers in the pool.
func (p *WriterPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ws := range p.free {
		for _, w := range ws {
			w.Close()
		}
	}
	p.free = nil
}
