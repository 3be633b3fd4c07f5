package kafka

import "context"

// CommitOffsetsOnly sends AddOffsetsToTxn and TxnOffsetCommit without ending
// the transaction: what a writer killed just before EndTxn leaves behind.
func (w *TxnWriter) CommitOffsetsOnly(ctx context.Context, offsets []GroupOffset) error {
	return w.commitOffsets(ctx, offsets)
}

// PausedPartitions is what the reader's client holds paused.
func (r *Reader) PausedPartitions() map[string][]int32 { return r.cl.PauseFetchPartitions(nil) }
