package backup_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// oooSource fills "ooo" with out-of-order timestamps (seconds after base) per
// partition, and returns base. Partition 3 holds a committed transaction, so its
// offsets have a gap.
func oooSource(t *testing.T, e *testkit.Env) (time.Time, map[int32][]int) {
	t.Helper()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	stamps := map[int32][]int{
		0: {10, 30, 20, 40, 25, 50, 15},
		1: {50, 10, 20},
		2: {10, 20, 30},
		3: {10, 35, 5, 31, 30},
	}
	e.CreateTopic("ooo", 5) // partition 4 stays empty
	for p, ss := range stamps {
		var recs []record.Record
		for i, s := range ss {
			recs = append(recs, record.Record{Topic: "ooo", Partition: p, Value: fmt.Appendf(nil, "p%d-%d@%d", p, i, s), Timestamp: base.Add(time.Duration(s) * time.Second)})
		}
		if p == 3 {
			e.Produce(recs[:2]...)
			if err := e.Cluster.ProduceTxn(e.Ctx, "ooo-txn", recs[2:4], true); err != nil {
				t.Fatal(err)
			}
			e.Produce(recs[4:]...)
			continue
		}
		e.Produce(recs...)
	}
	return base, stamps
}

// TestRestorePointInTime: --until restores, per partition, everything before
// the first record stamped after T, and --since everything from the first record
// stamped at or after T, with out-of-order timestamps. The counts agree with
// Kafka's offsets-for-times on the source (ListOffsets by timestamp: the first
// offset stamped at or after a time).
func TestRestorePointInTime(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	base, stamps := oooSource(t, e)
	e.MustBackup(backup.BackupOptions{FlushSize: 2}) // stops fall inside later objects
	src := testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), "ooo")
	starts := map[int32]int64{4: 0}
	for p := range stamps {
		starts[p] = src[p][0].Offset
	}
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }

	tests := []struct {
		name         string
		since, until int // seconds after base; 0 = not set
		want         map[int32][]int
	}{
		// Until 30 s, which some records carry exactly: they are kept.
		{"until", 0, 30, map[int32][]int{0: {10, 30, 20}, 1: {}, 2: {10, 20, 30}, 3: {10}}},
		{"since", 30, 0, map[int32][]int{0: {30, 20, 40, 25, 50, 15}, 1: {50, 10, 20}, 2: {30}, 3: {35, 5, 31, 30}}},
		{"since and until", 20, 30, map[int32][]int{0: {30, 20}, 1: {}, 2: {20, 30}, 3: {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := backup.RestoreOptions{Renames: renames(t, "ooo=restored-ooo")}
			if tt.since > 0 {
				o.Since = at(tt.since)
			}
			if tt.until > 0 {
				o.Until = at(tt.until)
			}
			tg := e.NewTarget()
			e.MustRestore(tg, o)
			got := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "restored-ooo")
			for p, ss := range stamps {
				var want []record.Record
				for _, s := range tt.want[p] {
					want = append(want, src[p][slices.Index(ss, s)])
				}
				if diff := cmp.Diff(testkit.Fulls(want), testkit.Fulls(got[p])); diff != "" {
					t.Errorf("ooo/%d (stamps %v) restored (-want +got):\n%s", p, ss, diff)
				}
			}
			// Kafka's offsets-for-times on the source gives the same cut: --until T
			// keeps what lies before the first offset stamped at or after T+1 ms,
			// --since T starts at the first offset stamped at or after T.
			ends := testkit.EndOffsets(t, e.Ctx, e.KC, "ooo")
			cut, from := ends, starts
			if tt.until > 0 {
				cut = offsetsAt(t, e, at(tt.until).Add(time.Millisecond))
			}
			if tt.since > 0 {
				from = offsetsAt(t, e, at(tt.since))
			}
			for p := range int32(5) {
				if p == 3 {
					continue // a transaction marker takes an offset: offsets and records differ
				}
				if want := max(cut[p]-from[p], 0); int64(len(got[p])) != want {
					t.Errorf("ooo/%d: %d records restored, offsets-for-times gives %d", p, len(got[p]), want)
				}
			}
		})
	}
}

// offsetsAt returns, per partition of ooo on the source, the first offset
// stamped at or after ts (the end offset when none is).
func offsetsAt(t *testing.T, e *testkit.Env, ts time.Time) map[int32]int64 {
	t.Helper()
	got, err := e.KC.OffsetsAfter(e.Ctx, ts.UnixMilli(), []string{"ooo"})
	if err != nil {
		t.Fatal(err)
	}
	return got["ooo"]
}

// TestRestoreSinceResumes: a restore with --since interrupted after its first
// object and run again restores every record from the --since point exactly
// once, including records stamped before --since that follow it.
func TestRestoreSinceResumes(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	e.CreateTopic("late", 1)
	stamps := []int{10, 30, 20, 40, 25, 50, 15}
	var recs []record.Record
	for i, s := range stamps {
		recs = append(recs, record.Record{Topic: "late", Value: fmt.Appendf(nil, "%d@%d", i, s), Timestamp: base.Add(time.Duration(s) * time.Second)})
	}
	e.Produce(recs...)
	e.MustBackup(backup.BackupOptions{FlushSize: 2}) // objects [0,1] [2,3] [4,5] [6]
	tg := e.NewTarget()
	o := backup.RestoreOptions{Since: base.Add(30 * time.Second), Parallelism: 1, TxnObjects: 1}

	// The first run stops after its first object, which held the --since point.
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	first := o
	first.Progress = &testkit.CancelAfter{N: 1, Cancel: cancel}
	if _, err := e.RestoreCtx(ctx, tg, first); err == nil {
		t.Fatal("the interrupted restore returned no error")
	}
	if got := testkit.Values(testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "late")[0]); !slices.Equal(got, []string{"1@30"}) {
		t.Fatalf("after the interrupted run the target holds %v, want [1@30]", got)
	}

	s := e.MustRestore(tg, o)
	want := []string{"1@30", "2@20", "3@40", "4@25", "5@50", "6@15"}
	if got := testkit.Values(testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "late")[0]); !slices.Equal(got, want) {
		t.Errorf("after the rerun the target holds %v, want %v", got, want)
	}
	if s.Records != 5 {
		t.Errorf("the rerun restored %d records, want 5", s.Records)
	}
}

// renames parses rename specs or fails the test.
func renames(t *testing.T, specs ...string) layout.Renames {
	t.Helper()
	rs, err := layout.ParseRenames(specs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
