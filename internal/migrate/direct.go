package migrate

import (
	"context"
	"fmt"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
)

// summarize is the migration's summary: the importer's, with the exporter's
// warnings and object counts.
func summarize(imp, exp pipeline.Summary, bucketName string, started time.Time) pipeline.Summary {
	s := imp
	s.Command, s.Bucket, s.Started = "migrate", bucketName, started
	s.Seconds = time.Since(started).Seconds()
	s.Warnings = append(s.Warnings, exp.Warnings...)
	objectsOf(&s, exp)
	if s.Seconds > 0 {
		s.MBPerSec = float64(s.Bytes) / 1e6 / s.Seconds
	}
	return s
}

// deleteImported runs the importer once more, for one scan of the bucket,
// after both sides stopped: with Direct the target may have caught up through
// the lane before a scan saw the objects, which --delete-imported removes
// only when a scan finds them below the progress.
// Only the partitions this copy owned are scanned: another copy's importer
// may still be writing the others.
func (mg *migration) deleteImported(ctx context.Context, dst *kafka.Client, b *blob.Bucket, bucketName string, owned map[partKey]bool) error {
	io := mg.o.Import
	io.Lane, io.Wake, io.Metrics, io.OnCommit = nil, nil, nil, nil
	io.Owns = func(topic string, partition int32) bool { return owned[partKey{topic, partition}] }
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	io.AfterScan = func(int) { stop() }
	if _, err := pipeline.ImportFollow(sctx, dst, b, bucketName, io); err != nil {
		return fmt.Errorf("deleting the imported objects: %w", err)
	}
	return nil
}

// objectsOf sets the object counts of s (the importer's summary) to the
// exporter's: the objects that went through the bucket. With Direct the
// importer writes most records before their object exists.
func objectsOf(s *pipeline.Summary, exp pipeline.Summary) {
	written := map[partKey]int{}
	byTopic := map[string]int{}
	for _, t := range exp.Topics {
		byTopic[t.Topic] = t.Objects
		for _, p := range t.Partitions {
			written[partKey{t.Topic, p.Partition}] = p.Objects
		}
	}
	s.Objects = exp.Objects
	for i := range s.Topics {
		t := &s.Topics[i]
		t.Objects = byTopic[t.Topic]
		for j := range t.Partitions {
			t.Partitions[j].Objects = written[partKey{t.Topic, t.Partitions[j].Partition}]
		}
	}
}
