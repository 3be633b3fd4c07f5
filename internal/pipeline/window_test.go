package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// TestExportWindowBounded: one reader fetches three partitions of 5 MiB at
// once; above the window's memory bound one of them streams into the bucket
// and the others pause, so what waits in memory stays near the bound plus one
// fetch (without the pauses the two others would each hold all their 5 MiB),
// and every record still lands once, in order, in its partition's objects.
func TestExportWindowBounded(t *testing.T) {
	const bound = 1 << 20
	var most int64
	pipeline.SetWindowBuffer(t, bound, func(held int64) { most = max(most, held) })
	e := testkit.New(t, "file")
	const parts, perPart = 6, 500
	e.CreateTopic("wide", parts)
	var recs []record.Record
	pad := strings.Repeat("x", 10<<10)
	for p := range int32(parts) {
		for i := range perPart {
			recs = append(recs, record.Record{Topic: "wide", Partition: p, Value: fmt.Appendf(nil, `{"p":%d,"i":%d,"pad":"%s"}`, p, i, pad)})
		}
	}
	e.Produce(recs...)
	s, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for p := range int32(parts) {
		want[p] = perPart
	}
	assertContiguous(t, e.Objects(), "topics", map[string]map[int32]int64{"wide": want})
	if s.Records != parts*perPart {
		t.Errorf("summary: %d records, want %d", s.Records, parts*perPart)
	}
	for key, body := range e.Objects() {
		if !strings.HasPrefix(key, "topics/") {
			continue
		}
		var p, i int
		for n, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			if _, err := fmt.Sscanf(line, `{"p":%d,"i":%d,`, &p, &i); err != nil || i != n || !strings.Contains(key, fmt.Sprintf("wide+%d+", p)) {
				t.Fatalf("%s line %d is record %d of partition %d (%v)", key, n, i, p, err)
			}
		}
	}
	// One fetch is at most 4 MiB; a streaming partition keeps at most 256 KiB.
	if limit := int64(bound + 4<<20 + 256<<10); most > limit || most <= bound {
		t.Errorf("a window held at most %d bytes after a fetch, want more than the bound %d (the pauses were exercised) and at most %d", most, bound, limit)
	}
}

// TestExportWindowGap: retention removes the head of two partitions of one
// window after the export captured their ranges; the window reports each gap,
// goes on at the new log start, and finishes its other partitions whole.
func TestExportWindowGap(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("ret", 4)
	var recs []record.Record
	for p := range int32(4) {
		recs = append(recs, testkit.Records("ret", p, 10)...)
	}
	e.Produce(recs...)
	for p, below := range map[int32]int64{0: 4, 3: 2} {
		e.Cluster.BeforeFetch("ret", p, func() {
			if err := e.Cluster.DeleteRecords("ret", p, below); err != nil {
				t.Errorf("delete records: %v", err)
			}
		})
	}
	s, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Parallelism: 1}) // windows of two
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 40-4-2 || !testkit.HasWarning(s.Warnings, "ret/0: offsets 0 to 3") || !testkit.HasWarning(s.Warnings, "ret/3: offsets 0 to 1") {
		t.Errorf("summary: %d records, warnings %q; want 34 and gaps ret/0 0-3, ret/3 0-1", s.Records, s.Warnings)
	}
	firsts := map[string]bool{}
	for key := range e.Objects() {
		if strings.HasPrefix(key, "topics/") {
			firsts[key[strings.LastIndex(key, "/")+1:]] = true
		}
	}
	for _, want := range []string{"ret+0+0000000004.json", "ret+1+0000000000.json", "ret+2+0000000000.json", "ret+3+0000000002.json"} {
		if !firsts[want] {
			t.Errorf("objects %v: want %s", firsts, want)
		}
	}
}
