package backup_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// TestBackupWholeClusterBoundedRequests (issue 12): a backup of a whole
// cluster (--topic-regex '.*') of 1,000 topics asks for metadata, configs,
// offsets and group offsets in batches, not once or more per topic, and every
// topic is in the manifest.
func TestBackupWholeClusterBoundedRequests(t *testing.T) {
	t.Parallel()
	const topics = 1000
	e := testkit.New(t, "mem")
	var recs []record.Record
	for i := range topics {
		name := fmt.Sprintf("t%04d", i)
		e.CreateTopic(name, 1)
		recs = append(recs, testkit.Records(name, 0, 1)...)
	}
	e.Produce(recs...)

	requests := e.Cluster.CountRequests()
	s, m, err := e.Backup(backup.BackupOptions{Selector: plan.Selector{Regex: regexp.MustCompile(`^(?:.*)$`)}, Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Topics) != topics || s.Records != topics {
		t.Fatalf("manifest has %d topics, summary %d records; want %d each", len(m.Topics), s.Records, topics)
	}
	counts := requests()
	// Per-topic calls would be >= 1,000 of a kind. Fetch sessions and the
	// metadata refreshes they cause are per window of up to 64 partitions:
	// 1,000 partitions over 4 workers is about 16 windows.
	limits := map[string]int{
		"Metadata":        60, // 20 measured
		"DescribeConfigs": 5,  // 1
		"ListOffsets":     20, // 6
		"OffsetFetch":     20,
		"DescribeGroups":  20,
		"Fetch":           400, // 119
		"ApiVersions":     150, // one per connection: 59
	}
	for name, limit := range limits {
		if counts[name] > limit {
			t.Errorf("%d %s requests for %d topics, want at most %d", counts[name], name, topics, limit)
		}
	}
	if counts["Fetch"] == 0 || counts["Metadata"] == 0 {
		t.Errorf("requests counted: %v; the count sees nothing", counts)
	}
	t.Logf("requests: %v", counts)
}
