package backup_test

import (
	"slices"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// refuseSource backs up "orders" (3 partitions, delete policy) with 2, 3 and 0
// records, and group "reader" committed at orders/0 1 and orders/1 3 (the end).
func refuseSource(t *testing.T, e *testkit.Env) *manifest.Manifest {
	t.Helper()
	e.CreateTopic("orders", 3)
	e.Produce(append(testkit.Records("orders", 0, 2), testkit.Records("orders", 1, 3)...)...)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "reader", "orders", map[int32]int64{0: 1, 1: 3})
	return e.MustBackup(backup.BackupOptions{FlushSize: 2})
}

// TestRestoreRefusals: a restore refuses, before it writes anything, a target
// with fewer partitions, one with another cleanup.policy (unless forced), one
// that holds records (unless it is this restore's own resume), and a backup id
// the bucket does not have.
func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	m := refuseSource(t, e)

	t.Run("fewer partitions", func(t *testing.T) {
		tg := e.NewTarget()
		if err := tg.Cluster.CreateTopic(e.Ctx, "orders", 2); err != nil {
			t.Fatal(err)
		}
		_, err := e.Restore(tg, backup.RestoreOptions{})
		testkit.WantErrContains(t, err, pipeline.ErrTargetPartitions, "orders", "2 partitions", "3")
		wantEmpty(t, e, tg, "orders")
	})
	t.Run("other cleanup.policy", func(t *testing.T) {
		tg := e.NewTarget()
		if _, err := tg.KC.CreateTopicWithConfigs(e.Ctx, "orders", 3, -1, map[string]string{"cleanup.policy": "compact"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.Restore(tg, backup.RestoreOptions{})
		testkit.WantErrContains(t, err, backup.ErrTargetConfig, "cleanup.policy=compact", "--force")
		wantEmpty(t, e, tg, "orders")

		s := e.MustRestore(tg, backup.RestoreOptions{Force: true})
		if s.Records != 5 {
			t.Errorf("forced restore: %d records, want 5", s.Records)
		}
		testkit.WantSameTopic(t, e, tg, "orders", "orders")
	})
	t.Run("not empty", func(t *testing.T) {
		tg := e.NewTarget()
		if err := tg.Cluster.CreateTopic(e.Ctx, "orders", 3); err != nil {
			t.Fatal(err)
		}
		if err := tg.Cluster.Produce(e.Ctx, []record.Record{{Topic: "orders", Partition: 2, Value: []byte("already here")}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.Restore(tg, backup.RestoreOptions{})
		testkit.WantErrContains(t, err, pipeline.ErrTargetNotEmpty, "orders partition 2")
		if got := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "orders"); len(got[0])+len(got[1]) != 0 {
			t.Errorf("the refused restore wrote %d records", len(got[0])+len(got[1]))
		}
	})
	t.Run("unknown backup id", func(t *testing.T) {
		tg := e.NewTarget()
		_, err := e.Restore(tg, backup.RestoreOptions{BackupID: "20200101T000000.000Z"})
		testkit.WantErrContains(t, err, manifest.ErrNoBackup, "20200101T000000.000Z")
		_, err = e.Restore(tg, backup.RestoreOptions{BackupID: m.ID})
		if err != nil {
			t.Errorf("restore of the existing backup %s: %v", m.ID, err)
		}
	})
	t.Run("empty bucket", func(t *testing.T) {
		empty := testkit.New(t, "mem")
		_, err := empty.Restore(empty.NewTarget(), backup.RestoreOptions{})
		testkit.WantErrContains(t, err, manifest.ErrNoBackup)
	})
}

// wantEmpty fails the test if topic holds a record on the target.
func wantEmpty(t *testing.T, e *testkit.Env, tg *testkit.Target, topic string) {
	t.Helper()
	for p, recs := range testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), topic) {
		if len(recs) > 0 {
			t.Errorf("the refused restore wrote %d records into %s/%d", len(recs), topic, p)
		}
	}
}

// TestRestoreTwice: a second restore of the same backup into the same target
// writes nothing: the progress group says every partition is done, and the
// target holds every record exactly once.
func TestRestoreTwice(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	m := refuseSource(t, e)
	tg := e.NewTarget()
	first := e.MustRestore(tg, backup.RestoreOptions{})
	if first.Records != 5 {
		t.Fatalf("first restore: %d records, want 5", first.Records)
	}
	ends := testkit.EndOffsets(t, e.Ctx, tg.KC, "orders")
	groupsBefore, err := tg.KC.CommittedOffsets(e.Ctx, "reader", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if g := groupsBefore["orders"]; g[0] != 1 || g[1] != ends[1] {
		t.Fatalf("group reader after the first restore = %v, want orders/0 at 1 and orders/1 at the end %d", g, ends[1])
	}

	second := e.MustRestore(tg, backup.RestoreOptions{})
	if second.Records != 0 || second.Objects != 0 {
		t.Errorf("second restore: %d records in %d objects, want none", second.Records, second.Objects)
	}
	if got := testkit.EndOffsets(t, e.Ctx, tg.KC, "orders"); !mapsEqual(got, ends) {
		t.Errorf("end offsets moved from %v to %v: the second restore wrote something", ends, got)
	}
	testkit.WantSameTopic(t, e, tg, "orders", "orders")
	progress, err := tg.KC.CommittedOffsets(e.Ctx, backup.RestoreGroup(m.ID), []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 2, 1: 3} {
		if progress["orders"][p] != want {
			t.Errorf("progress group on orders/%d = %d, want %d (the next source offset)", p, progress["orders"][p], want)
		}
	}
	groupsAfter, err := tg.KC.CommittedOffsets(e.Ctx, "reader", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(groupsBefore["orders"], groupsAfter["orders"]) {
		t.Errorf("group reader moved from %v to %v", groupsBefore, groupsAfter)
	}
}

// TestRestoreAtLeastOnce: without transactions every record is restored, group
// offsets still translate, and the summary warns that a rerun may duplicate.
func TestRestoreAtLeastOnce(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	refuseSource(t, e)
	tg := e.NewTarget()
	s := e.MustRestore(tg, backup.RestoreOptions{AtLeastOnce: true})
	if s.Records != 5 {
		t.Errorf("restored %d records, want 5", s.Records)
	}
	if !testkit.HasWarning(s.Warnings, "--at-least-once", "twice") {
		t.Errorf("summary warnings %q do not say the restore was at-least-once", s.Warnings)
	}
	testkit.WantSameTopic(t, e, tg, "orders", "orders")
	got, err := tg.KC.CommittedOffsets(e.Ctx, "reader", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if got["orders"][0] != 1 || got["orders"][1] != 3 {
		t.Errorf("reader on orders = %v, want 0:1 1:3", got)
	}
	// No transaction markers: the target offsets are the source's.
	if offs := testkit.OffsetsOf(testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "orders")[1]); !slices.Equal(offs, []int64{0, 1, 2}) {
		t.Errorf("orders/1 target offsets %v, want 0 1 2 (no transactions)", offs)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
