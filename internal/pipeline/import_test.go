package pipeline_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// The FORMATS.md sample objects: topic orders, partition 3, start offset 40.
const (
	fixtureValues  = "{\"id\":1,\"amount\":\"AZA=\"}\n{\"id\":2,\"amount\":\"AZA=\"}\n"
	fixtureHeaders = "{\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"}]}\n{\"headers\":[{\"key\":\"trace\",\"value\":\"def\"}]}\n"
	fixtureKeys    = "\"order-1\"\n\"order-2\"\n"
)

// orders3 builds the records expected in partition 3 of the target.
func orders3(kvh ...[3]string) []record.Record {
	out := make([]record.Record, len(kvh))
	for i, r := range kvh {
		out[i] = record.Record{Partition: 3, Value: []byte(r[1])}
		if r[0] != "" {
			out[i].Key = []byte(r[0])
		}
		if r[2] != "" {
			out[i].Headers = []record.Header{{Key: "trace", Value: []byte(r[2])}}
		}
	}
	return out
}

// TestImportConfluentBucket imports hand-laid Confluent buckets: the FORMATS.md
// fixtures plain and gzipped, other pad widths, objects whose start offsets sort
// wrongly as strings, the bytes format and another topics dir. Records land in
// partition 3 of a target created with 4 partitions, in offset order, with their
// keys and headers from the sidecars.
// (Longer than 80 lines on purpose: the fixture is one literal description
// of the data, record by record.)
func TestImportConfluentBucket(t *testing.T) {
	const dir = "topics/orders/partition=3/"
	tests := []struct {
		name      string
		topicsDir string
		objects   map[string]string
		want      []record.Record
		groups    int
		first     int64
		last      int64
		warning   string // the one warning expected, if any
	}{
		{name: "fixtures pad 10, plain then gzip", topicsDir: "topics", objects: map[string]string{
			dir + "orders+3+0000000040.json":         fixtureValues,
			dir + "orders+3+0000000040.keys.json":    fixtureKeys,
			dir + "orders+3+0000000040.headers.json": fixtureHeaders,
			dir + "orders+3+0000000042.json.gz":      "{\"id\":3}\n{\"id\":4}\n",
			dir + "orders+3+0000000042.keys.json.gz": "\"order-3\"\n{\"id\":4}\n",
			dir + "orders+3+0000000042.headers.json.gz": "{\"headers\":[{\"key\":\"trace\",\"value\":\"ghi\"}]}\n" +
				"{\"headers\":[{\"key\":\"trace\",\"value\":\"jkl\"}]}\n",
		}, want: orders3(
			[3]string{"order-1", `{"id":1,"amount":"AZA="}`, "abc"}, [3]string{"order-2", `{"id":2,"amount":"AZA="}`, "def"},
			[3]string{"order-3", `{"id":3}`, "ghi"}, [3]string{`{"id":4}`, `{"id":4}`, "jkl"},
		), groups: 2, first: 40, last: 43},
		{name: "pad 4, values only", topicsDir: "topics", objects: map[string]string{
			dir + "orders+3+0040.json": fixtureValues,
			dir + "orders+3+0042.json": "\"hello\"\n",
		}, want: orders3([3]string{"", `{"id":1,"amount":"AZA="}`, ""}, [3]string{"", `{"id":2,"amount":"AZA="}`, ""}, [3]string{"", `"hello"`, ""}),
			groups: 2, first: 40, last: 42},
		{name: "pad 1: 9 < 10 < 100 numerically, not as strings", topicsDir: "topics", objects: map[string]string{
			dir + "orders+3+10.json":       "\"ten\"\n\"eleven\"\n",
			dir + "orders+3+100.json":      "\"hundred\"\n",
			dir + "orders+3+100.keys.json": "\"k100\"\n",
			dir + "orders+3+9.json":        "\"nine\"\n",
		}, want: orders3([3]string{"", `"nine"`, ""}, [3]string{"", `"ten"`, ""}, [3]string{"", `"eleven"`, ""}, [3]string{"k100", `"hundred"`, ""}),
			groups: 3, first: 9, last: 100, warning: "orders/3: 2 of 3 objects have no .keys object beside them (first: topics/orders/partition=3/orders+3+9.json)"},
		{name: "bytes format with keys and json headers", topicsDir: "topics", objects: map[string]string{
			dir + "orders+3+0000000040.bin":          "abc\n\x01\xff\n",
			dir + "orders+3+0000000040.keys.bin":     "k1\nk2\n",
			dir + "orders+3+0000000040.headers.json": fixtureHeaders,
		}, want: orders3([3]string{"k1", "abc", "abc"}, [3]string{"k2", "\x01\xff", "def"}), groups: 1, first: 40, last: 41},
		{name: "other topics dir", topicsDir: "backups/kafka", objects: map[string]string{
			"backups/kafka/orders/partition=3/orders+3+0000000040.json": fixtureValues,
			"topics/orders/partition=3/orders+3+0000000000.json":        "\"elsewhere\"\n",
		}, want: orders3([3]string{"", `{"id":1,"amount":"AZA="}`, ""}, [3]string{"", `{"id":2,"amount":"AZA="}`, ""}),
			groups: 1, first: 40, last: 41},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			objects := map[string]string{}
			for k, v := range tt.objects {
				if strings.HasSuffix(k, ".gz") {
					v = testkit.Gz(t, v)
				}
				objects[k] = v
			}
			e.Put(objects)
			s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: tt.topicsDir, CreateTopics: true, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(testkit.ProjectAll(tt.want), e.TopicRecords("orders")); diff != "" {
				t.Errorf("records in the target (-want +got):\n%s", diff)
			}
			if n := e.Partitions()["orders"]; n != 4 {
				t.Errorf("target created with %d partitions, want 4 (partition 3 must exist)", n)
			}
			want := pipeline.TopicSummary{Topic: "orders", Target: "orders", Records: int64(len(tt.want)), Objects: tt.groups,
				Partitions: []pipeline.PartitionSummary{{Partition: 3, Records: int64(len(tt.want)), Objects: tt.groups, FirstOffset: tt.first, LastOffset: tt.last}}}
			for _, r := range tt.want {
				want.Bytes += int64(r.Size())
			}
			want.Partitions[0].Bytes = want.Bytes
			if diff := cmp.Diff([]pipeline.TopicSummary{want}, s.Topics); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if tt.warning == "" && len(s.Warnings) != 0 || tt.warning != "" && (len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tt.warning)) {
				t.Errorf("warnings: %q, want %q", s.Warnings, tt.warning)
			}
		})
	}
}
