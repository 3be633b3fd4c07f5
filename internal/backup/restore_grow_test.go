package backup_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
)

// TestRestoreFollowPartitionsAdded (issue 16.8): partitions added at the
// source are added to the standby's topic before any record of the backup is
// written (restore --follow wrote partitions 0-1 and then failed with a raw
// client error), and every record lands in its partition.
func TestRestoreFollowPartitionsAdded(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("grow", 2)
	e.Produce(append(testkit.Records("grow", 0, 3), testkit.Records("grow", 1, 2)...)...)
	e.MustBackup(backup.BackupOptions{})
	tg := e.NewTarget()
	group := backup.RestoreFollowGroup(e.URL, plan.Selector{}, nil)
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	if err := e.Cluster.AddPartitions(e.Ctx, "grow", 4); err != nil {
		t.Fatal(err)
	}
	e.Produce(append(testkit.Records("grow", 2, 4), testkit.Records("grow", 3, 1)...)...)
	e.Produce(testkit.Records("grow", 0, 5)[3:]...)
	e.MustBackup(backup.BackupOptions{})
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	testkit.WantSameTopic(t, e, testkit.Reconnect(e, tg), "grow", "grow")
}

// TestRestoreFollowFailureLimit (issue 16.8): restore --follow gives up after
// as many failed rounds in a row as backup --follow (it stopped after 2), and
// at once on a failure another round cannot cure.
func TestRestoreFollowFailureLimit(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.Put(map[string]string{manifest.Key("20990101T000000.000Z"): "{not json"})
	tg := e.NewTarget()
	_, err := backup.RestoreFollow(e.Ctx, tg.KC, e.B, e.URL, backup.RestoreFollowOptions{
		RestoreOptions: backup.RestoreOptions{Logger: testkit.DiscardLogger(), ProgressGroup: "limit"},
		PollInterval:   time.Millisecond,
	})
	testkit.WantErrContains(t, err, nil, fmt.Sprintf("failed %d times in a row", backup.MaxFailedRounds), "20990101T000000.000Z")
}
