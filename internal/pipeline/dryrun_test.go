package pipeline_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
)

// TestExportImportDryRun: a dry-run export writes no object and plans every
// partition's offsets; a dry-run import creates no topic, commits no progress
// and plans each partition's objects and the topic to create.
func TestExportImportDryRun(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("dry", 3)
	e.Produce(testkit.Records("dry", 0, 5)...)
	e.Produce(testkit.Records("dry", 2, 3)...)
	sel := plan.Selector{Names: []string{"dry"}}

	s, err := e.Export(pipeline.ExportOptions{Selector: sel, Format: "json", FlushSize: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.RawObjects(); len(got) != 0 {
		t.Fatalf("dry-run export wrote %d objects", len(got))
	}
	if s.Plan == nil || s.Records != 0 {
		t.Fatalf("dry-run export: plan %+v, %d records", s.Plan, s.Records)
	}
	want := map[int32][2]int64{0: {0, 5}, 1: {0, 0}, 2: {0, 3}}
	for _, task := range s.Plan.Tasks {
		if r := want[task.Partition]; task.From != r[0] || task.To != r[1] {
			t.Errorf("plan dry/%d: offsets %d-%d, want %d-%d", task.Partition, task.From, task.To, r[0], r[1])
		}
		delete(want, task.Partition)
	}
	if len(want) != 0 {
		t.Errorf("plan misses partitions %v", want)
	}

	if _, err := e.Export(pipeline.ExportOptions{Selector: sel, Format: "json", FlushSize: 2}); err != nil {
		t.Fatal(err)
	}
	before := len(e.RawObjects())
	renames := testkit.MustRenames(t, "dry=wet")
	group := "dry-run-import"
	s, err = e.ImportAll(pipeline.ImportOptions{Selector: sel, Renames: renames, CreateTopics: true, Group: group, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.KC.TopicIDs(e.Ctx, []string{"wet"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Errorf("dry-run import created topic wet")
	}
	if got, err := e.KC.CommittedOffsets(e.Ctx, group, []string{"wet"}); err != nil || len(got) != 0 {
		t.Errorf("dry-run import committed progress %v (%v)", got, err)
	}
	if after := len(e.RawObjects()); after != before {
		t.Errorf("dry-run import changed the bucket: %d objects, then %d", before, after)
	}
	if s.Plan == nil || len(s.Plan.Topics) != 1 || !cmp.Equal(s.Plan.Topics[0], plan.Topic{Name: "wet", Partitions: 3, Action: "create", ReplicationFactor: -1}) {
		t.Fatalf("dry-run import plans topics %+v, want wet created with 3 partitions", s.Plan)
	}
	objects := map[int32]int{}
	for _, task := range s.Plan.Tasks {
		objects[task.Partition] = task.Objects
		if task.Target != "wet" {
			t.Errorf("task %s/%d targets %q", task.Topic, task.Partition, task.Target)
		}
	}
	if objects[0] != 3 || objects[2] != 2 || len(objects) != 2 {
		t.Errorf("planned objects per partition %v, want 0:3 2:2", objects)
	}
}
