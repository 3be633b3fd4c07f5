package plan

import (
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	p := &Plan{Command: "restore", From: "file:///b backup X", To: "cluster [k:9092]",
		Tasks: []Task{
			{Topic: "b", Partition: 1, From: 5, To: 9, Objects: 2, Bytes: 300, Records: 4, Target: "b2"},
			{Topic: "a", Partition: 0, From: 0, To: 3, Objects: 1, Bytes: 100, Records: 3, Target: "a"},
			{Topic: "b", Partition: 0, From: 0, To: 2, Objects: 1, Bytes: 50, Records: 2, Target: "b2"},
		},
		Topics:   []Topic{{Name: "b2", Partitions: 2, Action: "create"}},
		Groups:   []GroupOffset{{Group: "g", Topic: "b", Partition: 0, Offset: 1}, {Group: "g", Topic: "b", Partition: 1, Offset: 7}},
		Warnings: []string{"look out"},
	}
	var sb strings.Builder
	if err := p.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"restore plan: file:///b backup X → cluster [k:9092]",
		"total: 3 partitions, 9 records, 4 objects (450 bytes) to read from the bucket",
		"create  b2  2 partitions",
		"g  2 partitions",
		"warning: look out",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan table lacks %q:\n%s", want, out)
		}
	}
	// Topics sorted, partitions in order within a topic.
	if a, b := strings.Index(out, "\n  a "), strings.Index(out, "\n  b "); a < 0 || b < a {
		t.Errorf("topics not sorted:\n%s", out)
	}
	if !strings.Contains(out, "0:0-2 1:5-9") {
		t.Errorf("partitions of b not in order:\n%s", out)
	}
	unknown := &Plan{Command: "import", Tasks: []Task{{Topic: "a", Objects: 2, Bytes: 10, To: -1}}}
	sb.Reset()
	if err := unknown.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "? records") || !strings.Contains(sb.String(), "0:0-…") {
		t.Errorf("unknown record counts not shown as such:\n%s", sb.String())
	}
}
