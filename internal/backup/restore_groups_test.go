package backup_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/testkit"
)

// TestRestoreTranslatesGroupOffsets: a group committed at the start, inside a
// compaction gap, on a transaction marker or an aborted record, and at the end
// of a partition lands on exactly the target record it would have read next.
// Flush size 2 makes several transactions per partition, so the target's
// offsets differ from the source's (commit markers between objects).
func TestRestoreTranslatesGroupOffsets(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	groups := testkit.GroupSource(t, e)
	m := e.MustBackup(backup.BackupOptions{FlushSize: 2})
	var inManifest []string
	for _, g := range m.Groups {
		inManifest = append(inManifest, g.Group)
	}
	for g := range groups {
		if !slices.Contains(inManifest, g) {
			t.Errorf("group %s is not in the manifest (%v)", g, inManifest)
		}
	}

	tg := e.NewTarget()
	// A transaction per object, so that markers lie between the objects.
	e.MustRestore(tg, backup.RestoreOptions{TxnObjects: 1})
	for _, topic := range []string{"orders", "payments"} {
		src := testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), topic)[0]
		dst := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), topic)[0]
		if testkit.Contiguous(testkit.OffsetsOf(dst)) {
			t.Fatalf("%s target offsets %v: want the transaction markers' gaps, or the test shows nothing", topic, testkit.OffsetsOf(dst))
		}
		end := testkit.EndOffsets(t, e.Ctx, tg.KC, topic)[0]
		for g, offs := range groups {
			o, ok := offs[topic]
			if !ok {
				continue
			}
			got, err := tg.KC.CommittedOffsets(e.Ctx, g, []string{topic})
			if err != nil {
				t.Fatal(err)
			}
			at, ok := got[topic][0]
			want := testkit.WantTarget(t, src, dst, end, o)
			if !ok || at != want {
				t.Errorf("group %s on %s/0: source offset %d became %d (committed %v), want %d (source offsets %v, target %v)",
					g, topic, o, at, ok, want, testkit.OffsetsOf(src), testkit.OffsetsOf(dst))
			}
		}
	}
}

// TestRestoreRefusesActiveGroup: a backed-up group with a live member on the
// target is refused before anything is created or written, and restored once
// the member leaves.
func TestRestoreRefusesActiveGroup(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("events", 2)
	e.Produce(testkit.Records("events", 0, 3)...)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "billing", "events", map[int32]int64{0: 2})
	e.MustBackup(backup.BackupOptions{})

	tg := e.NewTarget()
	if err := tg.Cluster.CreateTopic(e.Ctx, "elsewhere", 1); err != nil {
		t.Fatal(err)
	}
	leave, err := tg.Cluster.JoinGroup(e.Ctx, "billing", "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Restore(tg, backup.RestoreOptions{})
	testkit.WantErrContains(t, err, kafka.ErrGroupActive, "billing")
	if n, ok := targetPartitions(t, e, tg)["events"]; ok {
		t.Errorf("the refused restore created events (%d partitions)", n)
	}

	// Once the member left, the restore goes ahead.
	leave()
	e.MustRestore(tg, backup.RestoreOptions{})
	got, err := tg.KC.CommittedOffsets(e.Ctx, "billing", []string{"events"})
	if err != nil {
		t.Fatal(err)
	}
	if got["events"][0] != 2 {
		t.Errorf("billing on events/0 = %v after the member left, want 2", got)
	}
}

// targetPartitions returns the partition count of every topic of the target,
// asked through a fresh client (admin clients cache topic lists).
func targetPartitions(t *testing.T, e *testkit.Env, tg *testkit.Target) map[string]int {
	t.Helper()
	kc, err := kafka.Dial(e.Ctx, tg.Cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ts, err := kc.Topics(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for name, info := range ts {
		if !strings.HasPrefix(name, "__") {
			out[name] = info.Partitions
		}
	}
	return out
}

// TestRestoreGroupsResumed: a restore interrupted between objects and run again
// commits each group exactly once, with the record it points at: a group whose
// record was restored before the interruption is committed then (in that
// record's transaction), one whose record comes later only by the rerun. Only
// the groups --groups selects are translated, into the renamed topic.
func TestRestoreGroupsResumed(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("ledger", 1)
	e.Produce(testkit.Records("ledger", 0, 8)...)
	groups := map[string]int64{"early": 1, "late": 6, "done": 8, "skipped": 3}
	for g, o := range groups {
		testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), g, "ledger", map[int32]int64{0: o})
	}
	e.MustBackup(backup.BackupOptions{FlushSize: 3}) // objects [0,2] [3,5] [6,7]
	tg := e.NewTarget()
	o := backup.RestoreOptions{Renames: renames(t, "ledger=ledger-copy"), Groups: regexp.MustCompile(`early|late|done`), Parallelism: 1, TxnObjects: 1}

	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	first := o
	first.Progress = &testkit.CancelAfter{N: 1, Cancel: cancel}
	if _, err := e.RestoreCtx(ctx, tg, first); err == nil {
		t.Fatal("the interrupted restore returned no error")
	}
	committed := func() map[string]int64 {
		out := map[string]int64{}
		for g := range groups {
			got, err := tg.KC.CommittedOffsets(e.Ctx, g, []string{"ledger-copy"})
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := got["ledger-copy"][0]; ok {
				out[g] = o
			}
		}
		return out
	}
	if got := committed(); !mapsEqual(got, map[string]int64{"early": 1}) {
		t.Errorf("after the interrupted run groups are at %v, want only early at 1", got)
	}

	e.MustRestore(tg, o)
	dst := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "ledger-copy")[0]
	if len(dst) != 8 {
		t.Fatalf("target holds %d records, want 8", len(dst))
	}
	src := testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), "ledger")[0]
	end := testkit.EndOffsets(t, e.Ctx, tg.KC, "ledger-copy")[0]
	want := map[string]int64{}
	for _, g := range []string{"early", "late", "done"} {
		want[g] = testkit.WantTarget(t, src, dst, end, groups[g])
	}
	if got := committed(); !mapsEqual(got, want) {
		t.Errorf("after the rerun groups are at %v, want %v (target offsets %v)", got, want, testkit.OffsetsOf(dst))
	}
}
