package pipeline_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// windowSource fills three topics whose partitions differ wildly: empty ones,
// single records, hundreds of records of a few KiB, aborted transactions
// (also partitions that hold nothing but an aborted transaction and its
// marker) and a compacted topic with offset gaps.
func windowSource(t *testing.T, e *testkit.Env) []string {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e.CreateTopic("uneven", 40)
	var recs []record.Record
	for p := range int32(40) {
		n := 0
		switch {
		case p%5 == 0:
			n = 0
		case p%7 == 0:
			n = 300
		default:
			n = int(p % 4)
		}
		for i := range n {
			recs = append(recs, record.Record{Topic: "uneven", Partition: p, Key: fmt.Appendf(nil, "k%d", i),
				Value:     fmt.Appendf(nil, `{"p":%d,"i":%d,"pad":"%s"}`, p, i, strings.Repeat("x", int(p)*100)),
				Headers:   []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}},
				Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
	}
	e.Produce(recs...)
	e.CreateTopic("txn", 12)
	for p := range int32(12) {
		var plain []record.Record
		for i := range int(p) {
			plain = append(plain, record.Record{Topic: "txn", Partition: p, Key: []byte("k"), Value: fmt.Appendf(nil, `{"plain":%d}`, i)})
		}
		e.Produce(plain...)
		if err := e.Cluster.ProduceTxn(e.Ctx, fmt.Sprintf("atk-abort-%d", p), []record.Record{{Topic: "txn", Partition: p, Key: []byte("k"), Value: []byte(`{"aborted":1}`)}}, false); err != nil {
			t.Fatal(err)
		}
		if p%3 == 0 {
			if err := e.Cluster.ProduceTxn(e.Ctx, fmt.Sprintf("atk-commit-%d", p), []record.Record{{Topic: "txn", Partition: p, Key: []byte("k"), Value: []byte(`{"committed":1}`)}}, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.CreateTopicConfigs("compacted", 6, map[string]string{"cleanup.policy": "compact"})
	for round := range 4 {
		var recs []record.Record
		for p := range int32(6) {
			for k := range 5 {
				recs = append(recs, record.Record{Topic: "compacted", Partition: p, Key: fmt.Appendf(nil, "key%d", k%(int(p)+1)), Value: fmt.Appendf(nil, `{"r":%d,"k":%d}`, round, k)})
			}
		}
		e.Produce(recs...)
	}
	e.Cluster.Compact()
	return []string{"uneven", "txn", "compacted"}
}

// compactedRaw is how many records windowSource produces into "compacted"
// before compaction.
const compactedRaw = 4 * 6 * 5

// TestExportWindowsRoundTrip: with one worker and a window bound so small that
// every fetch pauses all but one partition, export reads windows of uneven
// partitions (empty, tiny, large, aborted-only, compacted) with rotation by
// records, bytes and time, gzip, keys and headers; importing the objects
// gives back every committed record, in its partition, in order.
func TestExportWindowsRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name  string
		bound int64
		o     pipeline.ExportOptions
	}{
		{"tiny bound flush", 1, pipeline.ExportOptions{FlushSize: 7, Gzip: true}},
		{"small bound bytes", 20 << 10, pipeline.ExportOptions{RotateBytes: 9 << 10}},
		{"interval", 50 << 10, pipeline.ExportOptions{RotateInterval: 17 * time.Second, Gzip: true}},
		{"default bound", 0, pipeline.ExportOptions{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bound > 0 {
				pipeline.SetWindowBuffer(t, tt.bound, nil)
			}
			e := testkit.New(t, "file")
			topics := windowSource(t, e)
			o := tt.o
			o.Format, o.StoreKeys, o.StoreHeaders, o.Naming, o.Parallelism = "json", true, true, layout.Naming{TopicsDir: "topics"}, 1
			exp, err := e.Export(o)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			imp, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, Strict: true, Renames: testkit.MustRenames(t, `(.*)=copy-$1`)})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			var total int
			for _, topic := range topics {
				want := e.TopicRecords(topic)
				total += len(want)
				if diff := cmp.Diff(want, e.TopicRecords("copy-"+topic)); diff != "" {
					t.Errorf("%s (-source +copy):\n%s", topic, diff)
				}
			}
			// kfake's cleaner may compact "compacted" (and its copy) further
			// after the export read it: the contents must match, and the
			// export may count the records compaction removed since, never
			// fewer than the source holds (CI saw 1,382 against 1,362).
			if exp.Records < int64(total) || imp.Records != exp.Records || exp.Records > int64(total)+compactedRaw {
				t.Errorf("export %d records, import %d, source %d", exp.Records, imp.Records, total)
			}
		})
	}
}

// TestExportWindowsRetentionMidRead: retention removes the head of every
// partition in the middle of the export, while most of the window is paused
// (tiny bound): every record exported sits at its own offset, in order, once,
// and every offset not exported is reported as a gap.
func TestExportWindowsRetentionMidRead(t *testing.T) {
	e := testkit.New(t, "file")
	const parts, per = 12, 400
	e.CreateTopic("ret", parts)
	var recs []record.Record
	pad := strings.Repeat("r", 2000)
	for p := range int32(parts) {
		for i := range per {
			recs = append(recs, record.Record{Topic: "ret", Partition: p, Value: fmt.Appendf(nil, `{"p":%d,"i":%d,"pad":"%s"}`, p, i, pad)})
		}
	}
	e.Produce(recs...)
	polls := 0
	pipeline.SetWindowBuffer(t, 1, func(int64, int) {
		if polls++; polls == 3 {
			for p := range int32(parts) {
				if err := e.Cluster.DeleteRecords("ret", p, per-50); err != nil {
					t.Errorf("delete records: %v", err)
				}
			}
		}
	})
	s, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Parallelism: 1, FlushSize: 33})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32][]int{}
	for key, body := range e.Objects() {
		if !strings.HasPrefix(key, "topics/") {
			continue
		}
		obj, err := layout.Parse(key, "topics")
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			var p, i int
			if _, err := fmt.Sscanf(line, `{"p":%d,"i":%d,`, &p, &i); err != nil || int32(p) != obj.Partition || (n == 0 && int64(i) != obj.StartOffset) {
				t.Fatalf("%s line %d: %q (%v)", key, n, line[:20], err)
			}
			got[obj.Partition] = append(got[obj.Partition], i)
		}
	}
	missing := 0
	for p := range int32(parts) {
		offs := got[p]
		slices.Sort(offs)
		seen := map[int]bool{}
		for _, o := range offs {
			if seen[o] {
				t.Errorf("ret/%d offset %d exported twice", p, o)
			}
			seen[o] = true
		}
		for o := range per {
			if seen[o] {
				continue
			}
			missing++
			covered := false
			for _, w := range s.Warnings {
				var wp, from, to int
				if _, err := fmt.Sscanf(w, "ret/%d: offsets %d to %d", &wp, &from, &to); err == nil && int32(wp) == p && from <= o && o <= to {
					covered = true
				}
			}
			if !covered {
				t.Errorf("ret/%d offset %d is neither exported nor reported missing (warnings %q)", p, o, s.Warnings)
				break
			}
		}
	}
	if missing == 0 || s.Records != int64(parts*per-missing) {
		t.Errorf("%d offsets missing, summary %d records; want some removed mid-read and the rest counted", missing, s.Records)
	}
}

// TestExportWindowsFetchFaults: in a window whose ranges are mostly paused, a
// partition's fetches fail, or every leader moves to another broker in the
// middle of it. Retriable errors and moves cost nothing; a fatal error stops
// the export with an error naming the partition, and no object of the window
// is left but whole ones.
func TestExportWindowsFetchFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(e *testkit.Env)
		mid   bool // at the second fetch, not before the first
		fatal bool
	}{
		{"not leader", func(e *testkit.Env) {
			e.Cluster.FailFetches("flt", 5, 6, 3) // NOT_LEADER_OR_FOLLOWER
		}, false, false},
		{"moved", func(e *testkit.Env) {
			for p := range int32(10) {
				if err := e.Cluster.MoveTopicPartition("flt", p, (e.Cluster.LeaderFor("flt", p)+1)%3); err != nil {
					e.T.Errorf("move: %v", err)
				}
			}
		}, true, false},
		{"denied", func(e *testkit.Env) {
			e.Cluster.FailFetches("flt", 5, 29, -1) // TOPIC_AUTHORIZATION_FAILED
		}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := testkit.New(t, "file")
			e.CreateTopic("flt", 10)
			var recs []record.Record
			counts := map[int32]int64{}
			pad := strings.Repeat("f", 3000)
			for p := range int32(10) {
				counts[p] = 1000 // 3 MB: several fetches
				for i := range 1000 {
					recs = append(recs, record.Record{Topic: "flt", Partition: p, Value: fmt.Appendf(nil, `{"p":%d,"i":%d,"pad":"%s"}`, p, i, pad)})
				}
			}
			e.Produce(recs...)
			polls := 0
			pipeline.SetWindowBuffer(t, 1, func(int64, int) {
				if polls++; polls == 2 && tt.mid {
					tt.fault(e)
				}
			})
			if !tt.mid {
				tt.fault(e)
			}
			s, err := e.Export(pipeline.ExportOptions{Format: "json", Naming: layout.Naming{TopicsDir: "topics"}, Parallelism: 1, FlushSize: 100})
			if tt.fatal {
				testkit.WantErrContains(t, err, nil, "flt/5", "TOPIC_AUTHORIZATION_FAILED")
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q spans lines", err)
				}
				for key, body := range e.Objects() {
					if strings.HasPrefix(key, "topics/") && strings.Count(body, "\n") != 100 {
						t.Errorf("%s holds %d records after the failure, want a whole object of 100", key, strings.Count(body, "\n"))
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertContiguous(t, e.Objects(), "topics", map[string]map[int32]int64{"flt": counts})
			if s.Records != 10000 {
				t.Errorf("summary: %d records, want 10000", s.Records)
			}
		})
	}
}
