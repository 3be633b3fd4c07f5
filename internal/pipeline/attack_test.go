package pipeline_test

import (
	"errors"
	"testing"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// TestImportForeignCheckEachPartition: a rerun's plain (unstable) progress read
// misses partition 0's progress (a commit of the killed run still in flight), so
// the target check confirms partition 0 with a fenced, stable read and finds it
// is this import's own. Partition 1 of the same topic holds a record someone
// else produced and has no progress: the import must still refuse it, not take
// the whole topic for its own because partition 0 turned out to be.
func TestImportForeignCheckEachPartition(t *testing.T) {
	e := testkit.New(t, "mem")
	const group = "atk-foreign"
	e.CreateTopic("fc", 2)
	// A first run imported partition 0 only (partition 1's objects were not
	// there yet).
	putObjects(e, "fc", 1, 0, 6, 3)
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Group: group}
	if _, err := e.ImportAll(o); err != nil {
		t.Fatal(err)
	}
	done, err := e.KC.CommittedOffsets(e.Ctx, group, []string{"fc"})
	if err != nil || len(done["fc"]) != 1 || done["fc"][0] != 6 {
		t.Fatalf("progress after the first run = %v, %v; want fc/0 at 6", done, err)
	}
	putObjects(e, "fc", 2, 0, 6, 3)
	// Someone else writes to partition 1.
	e.Produce(record.Record{Topic: "fc", Partition: 1, Value: []byte("foreign")})
	// Plain (not require_stable) offset fetches of the group see nothing, as
	// while the killed run's commit is still being written out.
	e.Cluster.HidePlainOffsets(group)
	_, err = e.ImportAll(o)
	if !errors.Is(err, pipeline.ErrTargetNotEmpty) {
		t.Fatalf("rerun with foreign records in fc/1: err = %v, want ErrTargetNotEmpty (target now %d records)", err, len(e.TopicRecords("fc")))
	}
	testkit.WantErrContains(t, err, pipeline.ErrTargetNotEmpty, "fc partition 1")
}
