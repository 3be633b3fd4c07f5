package pipeline_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// TestExportTransactions: a one-shot export reads committed records only. It must
// finish when aborted records or transaction markers sit right before the end
// offset, and stop at the last stable offset while a transaction is still open.
// Flush size 1 names every object after its record's offset, so the keys show
// which offsets were exported (transaction markers take an offset each).
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestExportTransactions(t *testing.T) {
	vals := func(prefix string, n int) []record.Record {
		out := make([]record.Record, n)
		for i := range out {
			out[i] = record.Record{Topic: "txn", Value: []byte(`"` + prefix + string(rune('0'+i)) + `"`)}
		}
		return out
	}
	type step struct {
		recs []record.Record
		txn  string // "" plain, "commit", "abort", "open"
	}
	tests := []struct {
		name   string
		steps  []step
		starts []int64
		values []string
	}{
		{"aborted then committed", []step{{vals("p", 2), ""}, {vals("a", 3), "abort"}, {vals("c", 2), "commit"}},
			// p 0-1, aborted 2-4, marker 5, committed 6-7, marker 8
			[]int64{0, 1, 6, 7}, []string{`"p0"`, `"p1"`, `"c0"`, `"c1"`}},
		{"committed then aborted last", []step{{vals("p", 2), ""}, {vals("c", 3), "commit"}, {vals("a", 2), "abort"}},
			// p 0-1, committed 2-4, marker 5, aborted 6-7, marker 8
			[]int64{0, 1, 2, 3, 4}, []string{`"p0"`, `"p1"`, `"c0"`, `"c1"`, `"c2"`}},
		{"open transaction at the end", []step{{vals("p", 2), ""}, {vals("c", 2), "commit"}, {vals("o", 2), "open"}},
			// p 0-1, committed 2-3, marker 4, open 5-6: the last stable offset is 5
			[]int64{0, 1, 2, 3}, []string{`"p0"`, `"p1"`, `"c0"`, `"c1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			e.CreateTopic("txn", 1)
			for i, st := range tt.steps {
				id := "kferry-test-" + string(rune('a'+i))
				switch st.txn {
				case "":
					e.Produce(st.recs...)
				case "open":
					x, err := e.Cluster.BeginTxn(e.Ctx, id, st.recs)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { endTxn(t, x) })
				default:
					if err := e.Cluster.ProduceTxn(e.Ctx, id, st.recs, st.txn == "commit"); err != nil {
						t.Fatal(err)
					}
				}
			}
			// A hang here would be a reader waiting for offsets that never come.
			ctx, cancel := context.WithTimeout(e.Ctx, 20*time.Second*testkit.RaceSlowdown)
			defer cancel()
			s, err := pipeline.Export(ctx, e.KC, e.B, e.URL, pipeline.ExportOptions{
				Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, FlushSize: 1, Logger: testkit.DiscardLogger(),
			})
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			objs := e.Objects()
			var starts []int64
			var values []string
			for _, k := range slices.Sorted(maps.Keys(objs)) {
				o, err := layout.Parse(k, "topics")
				if err != nil {
					continue // the topic metadata
				}
				starts = append(starts, o.StartOffset)
				values = append(values, strings.TrimSuffix(objs[k], "\n"))
			}
			if diff := cmp.Diff(tt.starts, starts); diff != "" {
				t.Errorf("object start offsets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.values, values); diff != "" {
				t.Errorf("exported values (-want +got):\n%s", diff)
			}
			if s.Records != int64(len(tt.values)) {
				t.Errorf("summary: %d records, want %d", s.Records, len(tt.values))
			}
		})
	}
}

// endTxn aborts a transaction left open by a test, so the cluster can stop.
func endTxn(t *testing.T, x *kafkatest.Txn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second*testkit.RaceSlowdown)
	defer cancel()
	if err := x.End(ctx, false); err != nil {
		t.Errorf("abort the open transaction: %v", err)
	}
}
