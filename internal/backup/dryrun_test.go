package backup_test

import (
	"slices"
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
