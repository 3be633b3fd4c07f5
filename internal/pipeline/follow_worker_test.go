package pipeline

import (
	"testing"

	"github.com/kferry/kferry/internal/kafka"
)

// TestWorkerStoppingIgnoresQueuedBatches (found by the review of the lane):
// once a partition is being given up, the batches queued behind one whose
// records were left move nothing, not even a batch of transaction markers
// only (an aborted transaction), whose Next finish would otherwise commit
// past the records left, so that the next owner skipped them.
func TestWorkerStoppingIgnoresQueuedBatches(t *testing.T) {
	w := &partWorker{pe: &PartitionExport{}, committed: 5, next: 5}
	w.stopping.Store(true)
	for _, b := range []kafka.Batch{laneBatch(8, 5, 6, 7), laneBatch(10)} {
		if err := w.add(b); err != nil {
			t.Fatal(err)
		}
	}
	if w.next != 5 || w.committed != 5 {
		t.Errorf("after a stop: next %d, committed %d; want 5 and 5 (records 5-7 were left)", w.next, w.committed)
	}
}
