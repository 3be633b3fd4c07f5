package pipeline_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

func TestExportUnknownTopic(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("orders", 1)
	e.Produce(testkit.Records("orders", 0, 2)...)
	_, err := e.Export(pipeline.ExportOptions{Selector: plan.Selector{Names: []string{"orders", "nope"}}, Format: "json", FlushSize: 1})
	testkit.WantErrContains(t, err, plan.ErrUnknownTopic, "nope")
	if got := e.Objects(); len(got) != 0 {
		t.Errorf("export of an unknown topic wrote %v", slices.Sorted(maps.Keys(got)))
	}
}

func TestExportBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   pipeline.ExportOptions
		target error
		has    []string
	}{
		{"unknown format", pipeline.ExportOptions{Format: "orc"}, format.ErrUnknownFormat, []string{`"orc"`}},
		{"unknown keys format", pipeline.ExportOptions{Format: "json", StoreKeys: true, KeysFormat: "xml"}, format.ErrUnknownFormat, []string{"--keys-format"}},
		{"bytes headers", pipeline.ExportOptions{Format: "bytes", StoreHeaders: true, HeadersFormat: "bytes"}, format.ErrUnsupported, []string{"--headers-format bytes"}},
	}
	e := testkit.New(t, "mem")
	e.CreateTopic("orders", 1)
	e.Produce(testkit.Records("orders", 0, 2)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Export(tt.opts)
			testkit.WantErrContains(t, err, tt.target, tt.has...)
			if got := e.Objects(); len(got) != 0 {
				t.Errorf("export with bad options wrote %v", slices.Sorted(maps.Keys(got)))
			}
		})
	}
}

// TestExportNonJSONValue: a value that is not JSON stops the export with an error
// naming topic, partition and offset. The objects completed before it are whole
// and counted; nothing of the object holding the bad record, or after it, exists.
func TestExportNonJSONValue(t *testing.T) {
	for _, bucket := range []string{"mem", "file"} {
		t.Run(bucket, func(t *testing.T) {
			e := testkit.New(t, bucket)
			e.CreateTopic("mixed", 2)
			recs := testkit.Records("mixed", 0, 8)
			recs[5].Value = []byte("not json")
			recs = append(recs, testkit.Records("mixed", 1, 2)...)
			e.Produce(recs...)
			// One worker: the larger partition 0 goes first and fails, so
			// partition 1 is never started.
			s, err := e.Export(pipeline.ExportOptions{
				Format: "json", StoreKeys: true, StoreHeaders: true, Naming: layout.Naming{TopicsDir: "topics"},
				FlushSize: 2, Parallelism: 1,
			})
			testkit.WantErrContains(t, err, format.ErrUnsupported, "mixed/0", "offset 5", "--format bytes")

			const p0 = "topics/mixed/partition=0/mixed+0+"
			var want []string
			for _, start := range []string{"0000000000", "0000000002"} {
				want = append(want, p0+start+".headers.json", p0+start+".json", p0+start+".keys.json")
			}
			got := e.Objects()
			if diff := cmp.Diff(want, slices.Sorted(maps.Keys(got))); diff != "" {
				t.Errorf("objects after the failed export (-want +got):\n%s", diff)
			}
			if body := got[p0+"0000000002.json"]; body != "{\"n\":2}\n{\"n\":3}\n" {
				t.Errorf("last complete object = %q, want records 2 and 3", body)
			}
			// The summary describes what the completed objects hold.
			var done int64
			for _, r := range recs[:4] {
				done += int64(r.Size())
			}
			want0 := pipeline.PartitionSummary{Partition: 0, Records: 4, Bytes: done, Objects: 2, FirstOffset: 0, LastOffset: 3}
			want1 := pipeline.PartitionSummary{Partition: 1, FirstOffset: -1, LastOffset: -1}
			if len(s.Topics) != 1 {
				t.Fatalf("summary topics: %+v", s.Topics)
			}
			if diff := cmp.Diff([]pipeline.PartitionSummary{want0, want1}, s.Topics[0].Partitions); diff != "" {
				t.Errorf("partition summaries (-want +got):\n%s", diff)
			}
			if s.Objects != 2 || s.Records != 4 {
				t.Errorf("summary: %d objects, %d records; want the 2 completed objects of 4 records", s.Objects, s.Records)
			}
		})
	}
}

// TestExportNullKey: Confluent cannot store a null key with keys stored, and
// neither can kferry; without --store-keys the same topic exports.
func TestExportNullKey(t *testing.T) {
	for _, name := range []string{"json", "bytes"} {
		t.Run(name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			e.CreateTopic("nk", 1)
			recs := testkit.Records("nk", 0, 3)
			recs[1].Key = nil
			for i := range recs {
				recs[i].Value = fmt.Appendf(nil, "%d", i) // JSON and newline-free bytes
			}
			e.Produce(recs...)
			o := pipeline.ExportOptions{Format: name, StoreKeys: true, Naming: layout.Naming{TopicsDir: "topics"}, FlushSize: 10}
			_, err := e.Export(o)
			testkit.WantErrContains(t, err, format.ErrUnsupported, "nk/0", "null key", "offset 1")
			if got := e.Objects(); len(got) != 0 {
				t.Errorf("objects after the failed export: %v", slices.Sorted(maps.Keys(got)))
			}
			o.StoreKeys = false
			s, err := e.Export(o)
			if err != nil || s.Records != 3 {
				t.Errorf("export without keys: %d records, %v; want 3 records", s.Records, err)
			}
		})
	}
}

// TestExportSeparatorInBytesValue: the bytes format refuses a value holding its
// separator instead of writing an object that reads back wrong.
func TestExportSeparatorInBytesValue(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("lines", 1)
	e.Produce(record.Record{Topic: "lines", Value: []byte("one")}, record.Record{Topic: "lines", Value: []byte("two\nlines")})
	_, err := e.Export(pipeline.ExportOptions{Format: "bytes", Naming: layout.Naming{TopicsDir: "topics"}})
	testkit.WantErrContains(t, err, format.ErrUnsupported, "lines/0", "offset 1", "separator")
	for k := range e.Objects() {
		if strings.HasPrefix(k, "topics/") {
			t.Errorf("object %s written although its record was refused", k)
		}
	}
}
