package cli

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/pipeline"
)

// TestSummaryCapsTopicRows: a whole-cluster run's summary lists the topics that
// moved the most bytes and one line for the rest, not one line per topic, and
// the rest line and the total still count everything.
func TestSummaryCapsTopicRows(t *testing.T) {
	s := pipeline.Summary{Command: "export", Bucket: "file:///b"}
	for i := range 1000 {
		recs := int64(10)
		if i%100 == 7 { // ten big topics, spread out
			recs = 1000
		}
		s.Topics = append(s.Topics, pipeline.TopicSummary{Topic: fmt.Sprintf("t%04d", i), Records: recs, Bytes: recs * 100, Objects: 1,
			Partitions: []pipeline.PartitionSummary{{Partition: 0, Records: recs, FirstOffset: 0, LastOffset: recs - 1}}})
		s.Records += recs
		s.Objects++
	}
	var out bytes.Buffer
	if err := printSummary(&out, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// title, header, 20 topics, the rest, the total
	if len(lines) != summaryMaxTopics+4 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), summaryMaxTopics+4, out.String())
	}
	rows := lines[2 : 2+summaryMaxTopics]
	for i := range 10 {
		if name := fmt.Sprintf("t%04d", i*100+7); !strings.Contains(strings.Join(rows, "\n"), name) {
			t.Errorf("big topic %s not listed:\n%s", name, out.String())
		}
	}
	if !slices.IsSorted(rows) {
		t.Errorf("rows are not in the topics' order:\n%s", strings.Join(rows, "\n"))
	}
	// 990 small topics of 10 records: 10 of them listed, 980 in the rest.
	wantRest := "  … 980 more topics: 9800 records, 980000 bytes, 980 objects"
	if !strings.HasPrefix(lines[len(lines)-2], wantRest) {
		t.Errorf("rest line %q, want prefix %q", lines[len(lines)-2], wantRest)
	}
	if want := fmt.Sprintf("  total: %d records", s.Records); !strings.HasPrefix(lines[len(lines)-1], want) {
		t.Errorf("total line %q, want prefix %q", lines[len(lines)-1], want)
	}
}

// TestSummaryListsFewTopicsWhole: up to summaryMaxTopics topics, every one has
// its row and there is no rest line.
func TestSummaryListsFewTopicsWhole(t *testing.T) {
	s := pipeline.Summary{Command: "import", Bucket: "file:///b"}
	for i := range summaryMaxTopics {
		s.Topics = append(s.Topics, pipeline.TopicSummary{Topic: fmt.Sprintf("t%d", i), Records: 1})
	}
	var out bytes.Buffer
	if err := printSummary(&out, s); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != summaryMaxTopics+3 {
		t.Errorf("%d lines, want %d:\n%s", got, summaryMaxTopics+3, out.String())
	}
	if strings.Contains(out.String(), "more topics") {
		t.Errorf("a rest line although every topic fits:\n%s", out.String())
	}
}
