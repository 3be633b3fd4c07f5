package pipeline_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/record"
)

// TestImportUnparsableNames: keys under topics/ that are not object names are
// skipped with a warning naming them, or refused with --strict before anything
// is created or produced.
func TestImportUnparsableNames(t *testing.T) {
	objects := map[string]string{
		"topics/orders/partition=3/orders+3+0000000040.json": fixtureValues,
		"topics/orders/partition=3/README.txt":               "notes",
	}
	t.Run("warning", func(t *testing.T) {
		e := testkit.New(t, "mem")
		e.Put(objects)
		s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "topics/orders/partition=3/README.txt") || !strings.Contains(s.Warnings[0], "--strict") {
			t.Errorf("warnings = %q, want one naming README.txt and --strict", s.Warnings)
		}
		if got := len(e.TopicRecords("orders")); got != 2 {
			t.Errorf("imported %d records, want the 2 of the valid object", got)
		}
	})
	t.Run("strict", func(t *testing.T) {
		e := testkit.New(t, "mem")
		e.Put(objects)
		_, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Strict: true})
		testkit.WantErrContains(t, err, catalog.ErrBadObjectName, "topics/orders/partition=3/README.txt")
		if _, ok := e.Partitions()["orders"]; ok {
			t.Error("strict import created the target although the bucket was refused")
		}
	})
}

// TestImportLeftoverTempFile: a file:// export killed mid-write leaves fileblob's
// temporary file next to the object's final name. Import skips it with a warning
// instead of taking it for a second values object.
func TestImportLeftoverTempFile(t *testing.T) {
	e := testkit.New(t, "file")
	const tmp = "topics/orders/partition=3/orders+3+0000000040.json.18c0ffee12345678.tmp"
	e.Put(map[string]string{
		"topics/orders/partition=3/orders+3+0000000040.json": fixtureValues,
		tmp: "{\"id\":1",
	})
	s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tmp) {
		t.Errorf("warnings = %q, want one naming %s", s.Warnings, tmp)
	}
	if got := len(e.TopicRecords("orders")); got != 2 {
		t.Errorf("imported %d records, want the 2 of the complete object", got)
	}
}

// TestImportBadObjects: content errors name the object and, for malformed lines,
// the line; records before the error may have been written, never after it.
func TestImportBadObjects(t *testing.T) {
	const dir = "topics/orders/partition=0/"
	tests := []struct {
		name    string
		objects map[string]string
		target  error
		has     []string
	}{
		{"malformed JSON line", map[string]string{dir + "orders+0+0000000000.json": "{\"a\":1}\n{\"a\":\n{\"a\":3}\n"},
			format.ErrMalformed, []string{dir + "orders+0+0000000000.json", "line 2"}},
		{"malformed line in a gzip object", map[string]string{dir + "orders+0+0000000000.json.gz": "1\n2\n3\n[\n"},
			format.ErrMalformed, []string{dir + "orders+0+0000000000.json.gz", "line 4"}},
		{"malformed keys sidecar", map[string]string{dir + "orders+0+0000000000.json": "1\n2\n", dir + "orders+0+0000000000.keys.json": "\"a\"\n\"b\n"},
			format.ErrMalformed, []string{dir + "orders+0+0000000000.keys.json", "line 2"}},
		{"keys sidecar with fewer records", map[string]string{dir + "orders+0+0000000000.json": "1\n2\n3\n", dir + "orders+0+0000000000.keys.json": "\"a\"\n\"b\"\n"},
			nil, []string{dir + "orders+0+0000000000.keys.json", "fewer records", dir + "orders+0+0000000000.json"}},
		{"headers sidecar with more records", map[string]string{dir + "orders+0+0000000000.json": "1\n", dir + "orders+0+0000000000.headers.json": "{\"headers\":[]}\n{\"headers\":[]}\n"},
			nil, []string{dir + "orders+0+0000000000.headers.json", "more records", dir + "orders+0+0000000000.json"}},
		{"gzip extension on plain content", map[string]string{dir + "orders+0+0000000000.json.gz": "plain"},
			nil, []string{dir + "orders+0+0000000000.json.gz", "gzip"}},
		{"unknown format extension", map[string]string{dir + "orders+0+0000000000.orc": "ORC"},
			format.ErrUnknownFormat, []string{dir + "orders+0+0000000000.orc", ".orc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			objects := map[string]string{}
			for k, v := range tt.objects {
				if strings.HasSuffix(k, ".gz") && tt.name != "gzip extension on plain content" {
					v = testkit.Gz(t, v)
				}
				objects[k] = v
			}
			e.Put(objects)
			_, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true})
			testkit.WantErrContains(t, err, tt.target, tt.has...)
		})
	}
}

// TestImportTargetChecks: every target is checked before the first record moves,
// so a refused import leaves the cluster as it was.
func TestImportTargetChecks(t *testing.T) {
	bucket := map[string]string{"topics/orders/partition=3/orders+3+0000000040.json": fixtureValues}
	existing := record.Record{Topic: "orders", Partition: 0, Key: []byte("old"), Value: []byte("old")}
	tests := []struct {
		name      string
		bucket    map[string]string
		setup     func(e *testkit.Env)
		opts      pipeline.ImportOptions
		target    error
		has       []string
		wantParts map[string]int // partitions of the targets afterwards; 0 = absent
		wantRecs  []record.Record
	}{
		{name: "too few partitions", bucket: bucket, setup: func(e *testkit.Env) { e.CreateTopic("orders", 2) },
			opts: pipeline.ImportOptions{CreateTopics: true}, target: pipeline.ErrTargetPartitions,
			has: []string{"orders has 2 partitions", "4"}, wantParts: map[string]int{"orders": 2}},
		{name: "not empty", bucket: bucket, setup: func(e *testkit.Env) { e.CreateTopic("orders", 4); e.Produce(existing) },
			opts: pipeline.ImportOptions{CreateTopics: true}, target: pipeline.ErrTargetNotEmpty,
			has: []string{"orders partition 0", "holds records at offsets 0–0", "--append"}, wantParts: map[string]int{"orders": 4},
			wantRecs: []record.Record{existing}},
		{name: "not empty with append", bucket: bucket, setup: func(e *testkit.Env) { e.CreateTopic("orders", 4); e.Produce(existing) },
			opts: pipeline.ImportOptions{CreateTopics: true, Append: true}, wantParts: map[string]int{"orders": 4},
			wantRecs: []record.Record{existing,
				{Partition: 3, Value: []byte(`{"id":1,"amount":"AZA="}`)}, {Partition: 3, Value: []byte(`{"id":2,"amount":"AZA="}`)}}},
		{name: "missing without create-topics", bucket: bucket, opts: pipeline.ImportOptions{CreateTopics: false},
			target: pipeline.ErrTargetMissing, has: []string{"orders does not exist", "4 partitions"}, wantParts: map[string]int{"orders": 0}},
		{name: "two sources renamed onto one target", bucket: map[string]string{
			"topics/a-1/partition=0/a-1+0+0000000000.json": "1\n",
			"topics/a-2/partition=0/a-2+0+0000000000.json": "2\n",
		}, opts: pipeline.ImportOptions{CreateTopics: true, Renames: testkit.MustRenames(t, `a-\d=merged`)},
			has: []string{"a-1", "a-2", "merged", "--rename"}, wantParts: map[string]int{"merged": 0}},
		{name: "unknown source topic", bucket: bucket, opts: pipeline.ImportOptions{CreateTopics: true, Selector: plan.Selector{Names: []string{"nope"}}},
			target: plan.ErrUnknownTopic, has: []string{"nope"}, wantParts: map[string]int{"orders": 0}},
		{name: "empty bucket", bucket: map[string]string{"elsewhere/x.json": "1\n"}, opts: pipeline.ImportOptions{CreateTopics: true},
			target: plan.ErrNothingSelected, has: []string{`"topics"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			e.Put(tt.bucket)
			if tt.setup != nil {
				tt.setup(e)
			}
			tt.opts.TopicsDir = "topics"
			_, err := e.ImportAll(tt.opts)
			if tt.target == nil && len(tt.has) == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				testkit.WantErrContains(t, err, tt.target, tt.has...)
			}
			parts := e.Partitions()
			for topic, want := range tt.wantParts {
				if parts[topic] != want {
					t.Errorf("%s has %d partitions afterwards, want %d", topic, parts[topic], want)
				}
				if want == 0 {
					continue
				}
				if diff := cmp.Diff(testkit.ProjectAll(tt.wantRecs), e.TopicRecords(topic)); diff != "" {
					t.Errorf("%s afterwards (-want +got):\n%s", topic, diff)
				}
			}
		})
	}
}
