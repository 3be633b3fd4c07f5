package migrate_test

import (
	"regexp"
	"testing"

	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
)

// TestMigrateDryRun: a dry-run migration creates no target topic, writes no
// object and commits no group, and plans the source partitions with their
// renamed targets.
func TestMigrateDryRun(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("mx", 2)
	e.Produce(testkit.Records("mx", 1, 4)...)
	tg := e.NewTarget()
	o := migrateOptions(e, migrate.Once, []string{"mx"}, "mx=my")
	o.DryRun = true
	s, err := migrate.Run(e.Ctx, e.KC, tg.KC, e.B, e.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tg.KC.TopicIDs(e.Ctx, []string{"my"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Error("dry-run migrate created the target topic")
	}
	if got := e.RawObjects(); len(got) != 0 {
		t.Errorf("dry-run migrate wrote %d objects", len(got))
	}
	if got, err := e.KC.CommittedOffsets(e.Ctx, o.Export.Group, []string{"mx"}); err != nil || len(got) != 0 {
		t.Errorf("dry-run migrate committed its group on the source: %v (%v)", got, err)
	}
	if s.Plan == nil || len(s.Plan.Tasks) != 2 || len(s.Plan.Topics) != 1 || s.Plan.Topics[0].Action != "create" {
		t.Fatalf("plan %+v", s.Plan)
	}
	for _, task := range s.Plan.Tasks {
		if task.Target != "my" || (task.Partition == 1 && task.To != 4) {
			t.Errorf("task %+v: want target my, partition 1 up to offset 4", task)
		}
	}
}

// TestMigrateFollowDryRunNothingMatchedYet: a continuous migration whose regex
// matches no source topic yet copies nothing until one appears, so its plan
// holds no partition; it must not plan every topic of the source cluster (an
// offset listing of no topics lists them all).
func TestMigrateFollowDryRunNothingMatchedYet(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("other", 2)
	e.Produce(testkit.Records("other", 1, 3)...)
	tg := e.NewTarget()
	o := migrateOptions(e, migrate.Follow, nil)
	o.Export.Selector = plan.Selector{Regex: regexp.MustCompile(`\A(?:later-.*)\z`)}
	o.DryRun = true
	s, err := migrate.Run(e.Ctx, e.KC, tg.KC, e.B, e.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Plan == nil {
		t.Fatal("no plan")
	}
	for _, task := range s.Plan.Tasks {
		t.Errorf("plan moves %s/%d (target %q), which the selection does not take", task.Topic, task.Partition, task.Target)
	}
}
