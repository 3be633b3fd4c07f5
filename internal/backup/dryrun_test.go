package backup_test

import (
	"time"

	"slices"
	"strconv"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/testkit"
)

// TestBackupRestoreDryRun: a dry-run backup writes nothing to the bucket, and
// a dry-run restore creates no topic and sets no group on the target, while
// both plans name every partition, the target topics and the groups.
func TestBackupRestoreDryRun(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	groups := testkit.GroupSource(t, e)

	s, m, err := e.Backup(backup.BackupOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if m != nil || len(e.RawObjects()) != 0 {
		t.Fatalf("dry-run backup wrote: manifest %v, objects %v", m, e.RawObjects())
	}
	if s.Plan == nil || s.Plan.Command != "backup" {
		t.Fatalf("dry-run backup returned no plan: %+v", s)
	}
	planned := map[string]int64{}
	for _, task := range s.Plan.Tasks {
		planned[task.Topic] += task.To - task.From
	}
	for _, topic := range []string{"orders", "payments"} {
		end := testkit.EndOffsets(t, e.Ctx, e.KC, topic)
		if planned[topic] != end[0] {
			t.Errorf("plan covers %d offsets of %s, the topic ends at %d", planned[topic], topic, end[0])
		}
	}

	e.MustBackup(backup.BackupOptions{FlushSize: 2})
	before := e.RawObjects()
	tg := e.NewTarget()
	s, err = e.Restore(tg, backup.RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Plan == nil || len(s.Plan.Tasks) == 0 || s.Records != 0 {
		t.Fatalf("dry-run restore: plan %+v, %d records", s.Plan, s.Records)
	}
	// Asked by name: a listing of every topic has missed topics kfake
	// created with configs.
	ids, err := tg.KC.TopicIDs(e.Ctx, []string{"orders", "payments"})
	if err != nil {
		t.Fatal(err)
	}
	for name := range ids {
		t.Errorf("dry-run restore created topic %s on the target", name)
	}
	for g := range groups {
		got, err := tg.KC.CommittedOffsets(e.Ctx, g, []string{"orders", "payments"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("dry-run restore set group %s on the target: %v", g, got)
		}
	}
	var created []string
	for _, pt := range s.Plan.Topics {
		if pt.Action == "create" {
			created = append(created, pt.Name)
		}
	}
	slices.Sort(created)
	if !slices.Equal(created, []string{"orders", "payments"}) {
		t.Errorf("plan creates topics %v, want orders and payments", created)
	}
	var planGroups []string
	for _, g := range s.Plan.Groups {
		if !slices.Contains(planGroups, g.Group) {
			planGroups = append(planGroups, g.Group)
		}
	}
	for g := range groups {
		if !slices.Contains(planGroups, g) {
			t.Errorf("plan does not set group %s (plans %v)", g, planGroups)
		}
	}
	if after := e.RawObjects(); len(after) != len(before) {
		t.Errorf("dry-run restore changed the bucket: %d objects before, %d after", len(before), len(after))
	}
}

// TestRestoreDryRunAfterRestore: a dry run of a restore that already finished
// plans what a real rerun does, which is nothing: every partition's progress
// is past its last object (the plan used to promise every record again).
func TestRestoreDryRunAfterRestore(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	testkit.GroupSource(t, e)
	e.MustBackup(backup.BackupOptions{FlushSize: 2})
	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	rerun := e.MustRestore(tg, backup.RestoreOptions{})
	if rerun.Records != 0 {
		t.Fatalf("the rerun of a finished restore wrote %d records", rerun.Records)
	}
	s, err := e.Restore(tg, backup.RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range s.Plan.Tasks {
		if task.Records != 0 || task.Objects != 0 {
			t.Errorf("plan restores %d records from %d objects of %s/%d (offsets %d-%d); a real run restores none", task.Records, task.Objects, task.Topic, task.Partition, task.From, task.To)
		}
	}
	from := map[string]int64{}
	for _, task := range s.Plan.Tasks {
		from[task.Topic+"/"+strconv.Itoa(int(task.Partition))] = task.From
	}
	for _, g := range s.Plan.Groups {
		// The rerun places only the groups at or past its resume point.
		if at := from[g.Topic+"/"+strconv.Itoa(int(g.Partition))]; g.Offset < at {
			t.Errorf("plan sets group %s on %s/%d (offset %d), which went out before offset %d", g.Group, g.Topic, g.Partition, g.Offset, at)
		}
	}
}

// TestRestoreWarnsLogAppendTimeTarget: restoring into an existing target topic
// that stamps LogAppendTime replaces the backed-up timestamps, as restoring a
// LogAppendTime topic does: both warn (in the plan and in the real run), not
// only the one whose backed-up configs say so.
func TestRestoreWarnsLogAppendTimeTarget(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("ts", 1)
	e.Produce(testkit.Records("ts", 0, 3)...)
	e.MustBackup(backup.BackupOptions{})
	tg := e.NewTarget()
	if _, err := tg.KC.CreateTopicWithConfigs(e.Ctx, "ts", 1, -1, map[string]string{"message.timestamp.type": "LogAppendTime"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Restore(tg, backup.RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !testkit.HasWarning(s.Plan.Warnings, "ts", "LogAppendTime") {
		t.Errorf("plan warnings %q: want one that ts stamps LogAppendTime", s.Plan.Warnings)
	}
	s = e.MustRestore(tg, backup.RestoreOptions{})
	if !testkit.HasWarning(s.Warnings, "ts", "LogAppendTime") {
		t.Errorf("restore warnings %q: want one that ts stamps LogAppendTime", s.Warnings)
	}
}

// TestRestoreWarnsExpiredRecords: records older than what the target topic's
// retention keeps are written, and Kafka deletes them right after; the plan
// and the run say so with the count, unless the target keeps them (retention.ms
// -1) or --since leaves them out.
func TestRestoreWarnsExpiredRecords(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("old", 1)
	month := time.Now().Add(-30 * 24 * time.Hour)
	recs := testkit.Records("old", 0, 5)
	for i := range recs {
		recs[i].Timestamp = month.Add(time.Duration(i) * time.Second)
	}
	recs[4].Timestamp = time.Now()
	e.Produce(recs...)
	e.MustBackup(backup.BackupOptions{FlushSize: 2}) // objects: 2 old, 2 old, 1 new

	expired := func(warnings []string) bool {
		return testkit.HasWarning(warnings, "old keeps records for 168h0m0s (retention.ms): 4 records", "retention.ms (-1: for ever)")
	}
	tg := e.NewTarget()
	s, err := e.Restore(tg, backup.RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !expired(s.Plan.Warnings) {
		t.Errorf("plan warnings %q: want one that 4 records are older than old's 7 days", s.Plan.Warnings)
	}
	if s = e.MustRestore(tg, backup.RestoreOptions{}); !expired(s.Warnings) {
		t.Errorf("restore warnings %q: want one that 4 records are older than old's 7 days", s.Warnings)
	}

	keeps := e.NewTarget()
	if _, err := keeps.KC.CreateTopicWithConfigs(e.Ctx, "old", 1, -1, map[string]string{"retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	if s = e.MustRestore(keeps, backup.RestoreOptions{}); len(s.Warnings) != 0 {
		t.Errorf("restore into a topic that keeps records for ever warns %q", s.Warnings)
	}
	if s = e.MustRestore(e.NewTarget(), backup.RestoreOptions{Since: time.Now().Add(-time.Hour)}); len(s.Warnings) != 0 {
		t.Errorf("restore --since an hour ago warns %q", s.Warnings)
	}
}
