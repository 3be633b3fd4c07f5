package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/manifest"
)

// TestRestoreFollowPartitionsAdded (issue 16.8): partitions added at the
// source are added to the standby's topic before any record of the backup is
// written (restore --follow wrote partitions 0-1 and then failed with a raw
// client error), and every record lands in its partition.
func TestRestoreFollowPartitionsAdded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "file")
	e.createTopic("grow", 2)
	e.produce(append(mkRecs("grow", 0, 3), mkRecs("grow", 1, 2)...)...)
	e.mustBackup(pipeline.BackupOptions{})
	tg := e.newTarget()
	group := pipeline.RestoreFollowGroup(e.url, plan.Selector{}, nil)
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.AddPartitions(e.ctx, "grow", 4); err != nil {
		t.Fatal(err)
	}
	e.produce(append(mkRecs("grow", 2, 4), mkRecs("grow", 3, 1)...)...)
	e.produce(mkRecs("grow", 0, 5)[3:]...)
	e.mustBackup(pipeline.BackupOptions{})
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	wantSameTopic(t, e, e.reconnect(tg), "grow", "grow")
}

// TestRestoreFollowFailureLimit (issue 16.8): restore --follow gives up after
// as many failed rounds in a row as backup --follow (it stopped after 2), and
// at once on a failure another round cannot cure.
func TestRestoreFollowFailureLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "file")
	e.put(map[string]string{manifest.Key("20990101T000000.000Z"): "{not json"})
	tg := e.newTarget()
	_, err := pipeline.RestoreFollow(e.ctx, tg.kc, e.b, e.url, pipeline.RestoreFollowOptions{
		RestoreOptions: pipeline.RestoreOptions{Logger: discardLogger(), ProgressGroup: "limit"},
		PollInterval:   time.Millisecond,
	})
	wantErrContains(t, err, nil, fmt.Sprintf("failed %d times in a row", pipeline.MaxFailedRounds), "20990101T000000.000Z")
}
