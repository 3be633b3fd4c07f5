package backup_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// restoreFollowOnce runs restore --follow until it has restored the newest
// backup (nil) or fails (its error).
func restoreFollowOnce(e *testkit.Env, tg *testkit.Target, group string) error {
	e.T.Helper()
	ids, err := catalog.ListBackups(e.Ctx, e.B)
	if err != nil || len(ids) == 0 {
		e.T.Fatalf("backups: %v %v", ids, err)
	}
	newest := ids[len(ids)-1]
	ctx, stop := context.WithCancel(e.Ctx)
	defer stop()
	_, err = backup.RestoreFollow(ctx, tg.KC, e.B, e.URL, backup.RestoreFollowOptions{
		RestoreOptions: backup.RestoreOptions{Logger: testkit.DiscardLogger(), ProgressGroup: group, ReplicationFactor: -1},
		PollInterval:   20 * time.Millisecond,
		AfterRound: func(_ int, id string) {
			if id == newest {
				stop()
			}
		},
	})
	return err
}

// recreatedUnderStandby backs up topic lx (5 records), restores it with
// restore --follow's progress group, then deletes and recreates lx at the
// source with 7 new records and backs it up again (lineage 1). It returns the
// standby, the group and the new lineage's values.
func recreatedUnderStandby(t *testing.T, e *testkit.Env) (*testkit.Target, string, []string) {
	t.Helper()
	e.CreateTopic("lx", 1)
	var old []record.Record
	for i := range 5 {
		old = append(old, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "old-%d", i)})
	}
	e.Produce(old...)
	e.MustBackup(backup.BackupOptions{})
	tg := e.NewTarget()
	group := backup.RestoreFollowGroup(e.URL, plan.Selector{}, nil)
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	if err := e.Cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	e.CreateTopic("lx", 1)
	var fresh []record.Record
	var want []string
	for i := range 7 {
		fresh = append(fresh, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "new-%d", i)})
		want = append(want, fmt.Sprintf("new-%d", i))
	}
	e.Produce(fresh...)
	if m := e.MustBackup(backup.BackupOptions{}); testkit.PartitionOf(t, m, "lx", 0).Lineage != 1 {
		t.Fatal("the second backup does not start lineage 1")
	}
	return tg, group, want
}

// TestRestoreFollowNewLineage (issue 16.1): the source topic is deleted and
// recreated under a running standby. restore --follow stops at once, with an
// error saying what to do, instead of restoring the new lineage from the old
// one's offset (which skipped its first records and mixed both in one topic);
// once the standby's topic is deleted, it restores the new lineage from its
// start and goes on from there.
func TestRestoreFollowNewLineage(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	tg, group, want := recreatedUnderStandby(t, e)

	start := time.Now()
	err := restoreFollowOnce(e, tg, group)
	testkit.WantErrContains(t, err, pipeline.ErrLineageChanged, "lineage 1", "lineage 0", "delete the target topic lx")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("restore --follow took %s to stop; a recreated topic is not cured by retrying", took)
	}
	if got := testkit.ValuesOn(t, e, tg, "lx"); len(got) != 5 {
		t.Fatalf("standby holds %v after the refusal, want the 5 old records only", got)
	}

	// The operator deletes the standby's topic (Kafka drops the progress
	// group's offsets with it): the new lineage is restored from its start
	// into the topic restore creates again.
	if err := tg.Cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	tg = testkit.Reconnect(e, tg) // a new process: no topic metadata cached from before the deletion
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	if got := testkit.ValuesOn(t, e, tg, "lx"); !slices.Equal(got, want) {
		t.Errorf("standby holds %v, want the new lineage %v", got, want)
	}
	e.Produce(record.Record{Topic: "lx", Value: []byte("new-7")})
	e.MustBackup(backup.BackupOptions{})
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	if got := testkit.ValuesOn(t, e, tg, "lx"); !slices.Equal(got, append(want, "new-7")) {
		t.Errorf("standby holds %v, want %v", got, append(want, "new-7"))
	}
}

// TestRestoreNewLineageIntoEmptiedTarget: the progress still names the old
// lineage, but the standby's topic holds no records any more (deleted
// records, retention): nothing can mix, so the new lineage is restored from
// its start.
func TestRestoreNewLineageIntoEmptiedTarget(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	tg, group, want := recreatedUnderStandby(t, e)
	if err := tg.Cluster.DeleteRecordsBefore(e.Ctx, "lx", 0, 5); err != nil {
		t.Fatal(err)
	}
	if err := restoreFollowOnce(e, tg, group); err != nil {
		t.Fatal(err)
	}
	if got := testkit.ValuesOn(t, e, tg, "lx"); !slices.Equal(got, want) {
		t.Errorf("standby holds %v, want the new lineage %v", got, want)
	}
}

// TestImportRefusesBackupBucket (issue 16.4): import pointed at a backup
// bucket wrote a deleted topic's old lineage and skipped the current one
// (under topics/lineage=1/) with a warning; it is refused, advising restore,
// before any topic is created or record written (import --follow too).
func TestImportRefusesBackupBucket(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	recreatedUnderStandby(t, e)
	tg := e.NewTarget()
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Logger: testkit.DiscardLogger()}
	_, err := pipeline.Import(e.Ctx, tg.KC, e.B, e.URL, o)
	testkit.WantErrContains(t, err, pipeline.ErrBackupBucket, "kferry restore", "2 manifests")
	_, err = pipeline.ImportFollow(e.Ctx, tg.KC, e.B, e.URL, pipeline.ImportFollowOptions{ImportOptions: o})
	testkit.WantErrContains(t, err, pipeline.ErrBackupBucket, "kferry restore")
	if n := len(partitionsOf(testkit.Reconnect(e, tg), t, e)); n != 0 {
		t.Errorf("import created %d topics on the target, want none", n)
	}
}

// partitionsOf lists the target's topics.
func partitionsOf(tg *testkit.Target, t *testing.T, e *testkit.Env) map[string]kafka.TopicInfo {
	t.Helper()
	ts, err := tg.KC.Topics(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
