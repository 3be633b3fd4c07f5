package pipeline_test

import (
	"testing"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// TestExportShards: three one-shot exports with shards 0/3, 1/3 and 2/3 write
// every partition exactly once between them, and each only its own.
func TestExportShards(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("s", 9)
	var recs []record.Record
	for p := range int32(9) {
		recs = append(recs, record.Record{Topic: "s", Partition: p, Value: []byte(`{"p":1}`)})
	}
	e.Produce(recs...)
	seen := map[int32]int{}
	for i := range 3 {
		shard := pipeline.Shard{Index: i, Count: 3}
		s, err := e.Export(pipeline.ExportOptions{Selector: plan.Selector{Names: []string{"s"}}, Format: "json", Shard: shard})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range s.Topics {
			for _, ps := range ts.Partitions {
				if ps.Records == 0 {
					continue
				}
				if !shard.Owns("s", ps.Partition) {
					t.Errorf("shard %s exported partition %d it does not own", shard, ps.Partition)
				}
				seen[ps.Partition]++
			}
		}
	}
	for p := range int32(9) {
		if seen[p] != 1 {
			t.Errorf("partition %d exported %d times, want once", p, seen[p])
		}
	}
}
