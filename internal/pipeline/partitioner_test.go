package pipeline_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// partitionedExport exports topic "events" with the partitioner of cfg and
// returns the value objects' keys, sorted.
func partitionedExport(t *testing.T, e *testkit.Env, cfg pipeline.PartitionerConfig) []string {
	t.Helper()
	folder, _, err := cfg.Partitioner()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", StoreKeys: true, Naming: layout.Naming{TopicsDir: "topics"}, FlushSize: 3, Folder: folder}); err != nil {
		t.Fatalf("export: %v", err)
	}
	var keys []string
	for k := range e.Objects() {
		if strings.HasPrefix(k, "topics/") && strings.HasSuffix(k, ".json") && !strings.Contains(k, ".keys.") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestTimePartitionerRoundTrip: objects go to the folder of their records'
// hour in the zone given (a late record starts a new object in an earlier
// folder, so each object still holds consecutive offsets), and an import with
// the same settings finds them all and writes every record back in order; an
// import with the default layout finds none and says which settings it lacks.
func TestTimePartitionerRoundTrip(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("events", 2)
	base := time.Date(2026, 11, 30, 17, 58, 0, 0, time.UTC)
	minutes := []int{0, 1, 2, 3, 4, 40, -10, 70, 71, 72, 73}
	var recs []record.Record
	for i, m := range minutes {
		recs = append(recs, record.Record{Topic: "events", Partition: 0, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: base.Add(time.Duration(m) * time.Minute)})
	}
	recs = append(recs, record.Record{Topic: "events", Partition: 1, Key: []byte("k"), Value: []byte(`{"n":100}`), Timestamp: base})
	e.Produce(recs...)
	cfg := pipeline.PartitionerConfig{Kind: "hourly", Timezone: "Europe/Berlin", Locale: "en"}
	got := partitionedExport(t, e, cfg)
	// Berlin is UTC+1 in November: 17:58Z is 18:58 local.
	want := []string{
		"topics/events/year=2026/month=11/day=30/hour=18/events+0+0000000000.json", // offsets 0-1
		"topics/events/year=2026/month=11/day=30/hour=18/events+0+0000000006.json", // the late record
		"topics/events/year=2026/month=11/day=30/hour=18/events+1+0000000000.json",
		"topics/events/year=2026/month=11/day=30/hour=19/events+0+0000000002.json", // 2-4: flush size 3
		"topics/events/year=2026/month=11/day=30/hour=19/events+0+0000000005.json",
		"topics/events/year=2026/month=11/day=30/hour=20/events+0+0000000007.json", // 7-9
		"topics/events/year=2026/month=11/day=30/hour=20/events+0+0000000010.json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("object keys (-want +got):\n%s", diff)
	}
	if _, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `events=plain`)}); err == nil ||
		!strings.Contains(err.Error(), "--partitioner") {
		t.Errorf("strict import with the default layout: %v, want an error that names --partitioner", err)
	}
	_, l, err := cfg.Partitioner()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Layout: l, CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `events=copy`)})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if diff := cmp.Diff(e.TopicRecords("events"), e.TopicRecords("copy")); diff != "" || s.Records != int64(len(recs)) {
		t.Errorf("copy holds %d records (-source +copy):\n%s", s.Records, diff)
	}
}

// TestFieldPartitionerRoundTrip: one folder level per field, values as
// Confluent writes them (numbers, booleans, null); a record without the
// field stops the export naming its offset.
func TestFieldPartitionerRoundTrip(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("events", 1)
	values := []string{`{"region":"eu","tier":1}`, `{"region":"eu","tier":1}`, `{"region":"us","tier":2}`, `{"region":null,"tier":true}`}
	var recs []record.Record
	for _, v := range values {
		recs = append(recs, record.Record{Topic: "events", Partition: 0, Key: []byte("k"), Value: []byte(v)})
	}
	e.Produce(recs...)
	cfg := pipeline.PartitionerConfig{Kind: "field", Fields: []string{"region", "tier"}}
	got := partitionedExport(t, e, cfg)
	want := []string{
		"topics/events/region=eu/tier=1/events+0+0000000000.json",
		"topics/events/region=null/tier=true/events+0+0000000003.json",
		"topics/events/region=us/tier=2/events+0+0000000002.json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("object keys (-want +got):\n%s", diff)
	}
	_, l, _ := cfg.Partitioner()
	if _, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Layout: l, CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `events=copy`)}); err != nil {
		t.Fatalf("import: %v", err)
	}
	if diff := cmp.Diff(e.TopicRecords("events"), e.TopicRecords("copy")); diff != "" {
		t.Errorf("copy (-source +copy):\n%s", diff)
	}

	e.Produce(record.Record{Topic: "events", Partition: 0, Key: []byte("k"), Value: []byte(`{"tier":3}`)})
	folder, _, _ := cfg.Partitioner()
	_, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "other"}, Folder: folder})
	if err == nil || !strings.Contains(err.Error(), `offset 4`) || !strings.Contains(err.Error(), `no field "region"`) {
		t.Errorf("export of a record without the field: %v", err)
	}
}

// TestImportOtherLayout: an import whose layout does not read some of the
// selected topics' objects refuses before writing anything, naming the topic,
// an object and the flag, rather than import the rest and look complete;
// topics left out of the selection do not matter.
func TestImportOtherLayout(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("plain", 1)
	e.CreateTopic("events", 1)
	e.Produce(append(testkit.Records("plain", 0, 3), testkit.Records("events", 0, 2)...)...)
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Selector: plan.Selector{Names: []string{"plain"}}}); err != nil {
		t.Fatal(err)
	}
	folder, _, err := pipeline.PartitionerConfig{Kind: "daily", Timezone: "UTC"}.Partitioner()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Selector: plan.Selector{Names: []string{"events"}}, Folder: folder}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Renames: testkit.MustRenames(t, `(.*)=copy-$1`)})
	testkit.WantErrContains(t, err, pipeline.ErrOtherLayout, "topic events", "topics/events/year=", "--partitioner")
	if parts := e.Partitions(); parts["copy-plain"] != 0 {
		t.Errorf("copy-plain was created (%d partitions) by an import that refused", parts["copy-plain"])
	}
	s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Selector: plan.Selector{Names: []string{"plain"}}, Renames: testkit.MustRenames(t, `(.*)=copy-$1`)})
	if err != nil || s.Records != 3 {
		t.Errorf("import of the default layout's topic alone: %d records, %v", s.Records, err)
	}
}

// TestPartitionerHostile: what a field value or an import's settings could
// lose is refused with a message that says why. A field value holding "/" or
// ".." stops the export at its record (import could not find its object); an
// import in another zone than the export's finds an hour that does not exist
// there and refuses; a Confluent bucket whose objects interleave offsets
// across folders is refused without advice that would lose records.
func TestPartitionerHostile(t *testing.T) {
	t.Run("field values", func(t *testing.T) {
		for _, v := range []string{`"eu/west"`, `"../../x"`, `"a//b"`, `"x/"`} {
			e := testkit.New(t, "mem")
			e.CreateTopic("events", 1)
			e.Produce(record.Record{Topic: "events", Partition: 0, Key: []byte("k"), Value: []byte(`{"region":"eu"}`)},
				record.Record{Topic: "events", Partition: 0, Key: []byte("k"), Value: []byte(`{"region":` + v + `}`)})
			folder, _, err := pipeline.PartitionerConfig{Kind: "field", Fields: []string{"region"}}.Partitioner()
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Folder: folder})
			if err == nil || !strings.Contains(err.Error(), "offset 1") || !strings.Contains(err.Error(), "import could not find") {
				t.Errorf("region %s: %v, want an error at offset 1 saying import could not find the object", v, err)
			}
		}
	})
	t.Run("zone", func(t *testing.T) {
		e := testkit.New(t, "mem")
		e.CreateTopic("events", 1)
		// 02:30 UTC on the day Berlin's clocks skip from 02:00 to 03:00.
		for i, ts := range []time.Time{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC)} {
			e.Produce(record.Record{Topic: "events", Partition: 0, Key: []byte("k"), Value: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: ts})
		}
		partitionedExport(t, e, pipeline.PartitionerConfig{Kind: "hourly", Timezone: "UTC"})
		_, berlin, err := pipeline.PartitionerConfig{Kind: "hourly", Timezone: "Europe/Berlin"}.Partitioner()
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Layout: berlin, CreateTopics: true, Renames: testkit.MustRenames(t, `events=copy`)})
		testkit.WantErrContains(t, err, pipeline.ErrOtherLayout, "hour=02", "--timezone")
	})
	t.Run("interleaved", func(t *testing.T) {
		e := testkit.New(t, "mem")
		e.Put(map[string]string{
			"topics/events/region=eu/events+0+0000000000.json": "{\"n\":0}\n{\"n\":2}\n{\"n\":4}\n",
			"topics/events/region=us/events+0+0000000001.json": "{\"n\":1}\n{\"n\":3}\n{\"n\":5}\n",
		})
		_, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Layout: layout.FieldLayout{Names: []string{"region"}}, CreateTopics: true})
		testkit.WantErrContains(t, err, nil, "interleaved", "export the topic again with kferry")
		if err != nil && strings.Contains(err.Error(), "--contiguous-offsets") {
			t.Errorf("the error advises --contiguous-offsets, which would drop records here: %v", err)
		}
	})
}
