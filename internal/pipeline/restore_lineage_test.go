package pipeline_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/record"
)

// restoreFollowOnce runs restore --follow until it has restored the newest
// backup (nil) or fails (its error).
func (e *env) restoreFollowOnce(tg *target, group string) error {
	e.t.Helper()
	ids, err := catalog.ListBackups(e.ctx, e.b)
	if err != nil || len(ids) == 0 {
		e.t.Fatalf("backups: %v %v", ids, err)
	}
	newest := ids[len(ids)-1]
	ctx, stop := context.WithCancel(e.ctx)
	defer stop()
	_, err = pipeline.RestoreFollow(ctx, tg.kc, e.b, e.url, pipeline.RestoreFollowOptions{
		RestoreOptions: pipeline.RestoreOptions{Logger: discardLogger(), ProgressGroup: group, ReplicationFactor: -1},
		PollInterval:   20 * time.Millisecond,
		AfterRound: func(_ int, id string) {
			if id == newest {
				stop()
			}
		},
	})
	return err
}

// reconnect returns tg with a client of its own.
func (e *env) reconnect(tg *target) *target {
	e.t.Helper()
	kc, err := kafka.Dial(e.ctx, tg.cluster.Config())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(kc.Close)
	return &target{cluster: tg.cluster, kc: kc}
}

func valuesOn(t *testing.T, e *env, tg *target, topic string) []string {
	t.Helper()
	return values(readTopic(t, e.ctx, tg.cluster.Config(), topic)[0])
}

// recreatedUnderStandby backs up topic lx (5 records), restores it with
// restore --follow's progress group, then deletes and recreates lx at the
// source with 7 new records and backs it up again (lineage 1). It returns the
// standby, the group and the new lineage's values.
func recreatedUnderStandby(t *testing.T, e *env) (*target, string, []string) {
	t.Helper()
	e.createTopic("lx", 1)
	var old []record.Record
	for i := range 5 {
		old = append(old, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "old-%d", i)})
	}
	e.produce(old...)
	e.mustBackup(pipeline.BackupOptions{})
	tg := e.newTarget()
	group := pipeline.RestoreFollowGroup(e.url, plan.Selector{}, nil)
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	e.createTopic("lx", 1)
	var fresh []record.Record
	var want []string
	for i := range 7 {
		fresh = append(fresh, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "new-%d", i)})
		want = append(want, fmt.Sprintf("new-%d", i))
	}
	e.produce(fresh...)
	if m := e.mustBackup(pipeline.BackupOptions{}); partitionOf(t, m, "lx", 0).Lineage != 1 {
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
	e := newEnv(t, "file")
	tg, group, want := recreatedUnderStandby(t, e)

	start := time.Now()
	err := e.restoreFollowOnce(tg, group)
	wantErrContains(t, err, pipeline.ErrLineageChanged, "lineage 1", "lineage 0", "delete the target topic lx")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("restore --follow took %s to stop; a recreated topic is not cured by retrying", took)
	}
	if got := valuesOn(t, e, tg, "lx"); len(got) != 5 {
		t.Fatalf("standby holds %v after the refusal, want the 5 old records only", got)
	}

	// The operator deletes the standby's topic (Kafka drops the progress
	// group's offsets with it): the new lineage is restored from its start
	// into the topic restore creates again.
	if err := tg.cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	tg = e.reconnect(tg) // a new process: no topic metadata cached from before the deletion
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	if got := valuesOn(t, e, tg, "lx"); !slices.Equal(got, want) {
		t.Errorf("standby holds %v, want the new lineage %v", got, want)
	}
	e.produce(record.Record{Topic: "lx", Value: []byte("new-7")})
	e.mustBackup(pipeline.BackupOptions{})
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	if got := valuesOn(t, e, tg, "lx"); !slices.Equal(got, append(want, "new-7")) {
		t.Errorf("standby holds %v, want %v", got, append(want, "new-7"))
	}
}

// TestRestoreNewLineageIntoEmptiedTarget: the progress still names the old
// lineage, but the standby's topic holds no records any more (deleted
// records, retention): nothing can mix, so the new lineage is restored from
// its start.
func TestRestoreNewLineageIntoEmptiedTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "file")
	tg, group, want := recreatedUnderStandby(t, e)
	if err := tg.cluster.DeleteRecordsBefore(e.ctx, "lx", 0, 5); err != nil {
		t.Fatal(err)
	}
	if err := e.restoreFollowOnce(tg, group); err != nil {
		t.Fatal(err)
	}
	if got := valuesOn(t, e, tg, "lx"); !slices.Equal(got, want) {
		t.Errorf("standby holds %v, want the new lineage %v", got, want)
	}
}

// TestMigrateFollowTopicRecreated (issue 16.1, migrate): the source topic is
// deleted and recreated during migrate --follow. The migration stops with
// ErrLineageChanged before any record of the new topic reaches the bucket or
// the target (its offsets start over, so the importer would have taken them
// for the old topic's continuation); a rerun with the same flags refuses too.
func TestMigrateFollowTopicRecreated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "file")
	e.createTopic("lx", 1)
	var old []record.Record
	for i := range 5 {
		old = append(old, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "old-%d", i)})
	}
	e.produce(old...)
	tg := e.newTarget()
	o := e.migrateOptions(pipeline.MigrateFollow, []string{"lx"})
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.Migrate(e.ctx, e.kc, tg.kc, e.b, e.url, o)
		done <- err
	}()
	waitFor(t, e.ctx, "the old records on the target", func() (bool, error) {
		return len(valuesOn(t, e, tg, "lx")) == 5, nil
	})
	if err := e.cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	e.createTopic("lx", 1)
	var fresh []record.Record
	for i := range 7 {
		fresh = append(fresh, record.Record{Topic: "lx", Value: fmt.Appendf(nil, "new-%d", i)})
	}
	e.produce(fresh...)
	select {
	case err := <-done:
		wantErrContains(t, err, pipeline.ErrLineageChanged, "lx", "topic id")
	case <-e.ctx.Done():
		t.Fatal("migrate --follow went on after the source topic was recreated")
	}
	if got := valuesOn(t, e, tg, "lx"); !slices.Equal(got, []string{"old-0", "old-1", "old-2", "old-3", "old-4"}) {
		t.Errorf("target holds %v, want the old records only", got)
	}
	if keys := e.objects(); slices.ContainsFunc(slices.Collect(maps.Values(keys)), func(body string) bool { return strings.Contains(body, "new-") }) {
		t.Errorf("the bucket holds records of the new topic")
	}
	_, err := pipeline.Migrate(e.ctx, e.kc, e.reconnect(tg).kc, e.b, e.url, e.migrateOptions(pipeline.MigrateOnce, []string{"lx"}))
	wantErrContains(t, err, pipeline.ErrLineageChanged, "lx")
}

// TestImportRefusesBackupBucket (issue 16.4): import pointed at a backup
// bucket wrote a deleted topic's old lineage and skipped the current one
// (under topics/lineage=1/) with a warning; it is refused, advising restore,
// before any topic is created or record written (import --follow too).
func TestImportRefusesBackupBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "file")
	recreatedUnderStandby(t, e)
	tg := e.newTarget()
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Logger: discardLogger()}
	_, err := pipeline.Import(e.ctx, tg.kc, e.b, e.url, o)
	wantErrContains(t, err, pipeline.ErrBackupBucket, "kferry restore", "2 manifests")
	_, err = pipeline.ImportFollow(e.ctx, tg.kc, e.b, e.url, pipeline.ImportFollowOptions{ImportOptions: o})
	wantErrContains(t, err, pipeline.ErrBackupBucket, "kferry restore")
	if n := len(e.reconnect(tg).partitionsOf(t, e)); n != 0 {
		t.Errorf("import created %d topics on the target, want none", n)
	}
}

// partitionsOf lists the target's topics.
func (tg *target) partitionsOf(t *testing.T, e *env) map[string]kafka.TopicInfo {
	t.Helper()
	ts, err := tg.kc.Topics(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
