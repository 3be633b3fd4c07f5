package kafka

import "context"

// CommitOffsetsOnly sends AddOffsetsToTxn and TxnOffsetCommit without ending
// the transaction: what a writer killed just before EndTxn leaves behind.
func (w *TxnWriter) CommitOffsetsOnly(ctx context.Context, offsets []GroupOffset) error {
	return w.commitOffsets(ctx, offsets)
}
