package backup_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
)

// TestRestoreSlotKilledBeforeEndTxn: a restore whose transaction spanning two
// partitions (p and p+TxnSlots share a slot) had its records and progress
// sent but never its EndTxn applied is stopped; the rerun, with another
// --parallelism, fences the slot and restores every record once.
func TestRestoreSlotKilledBeforeEndTxn(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	const partitions = pipeline.TxnSlots + 2
	e.CreateTopic("wide", partitions)
	for p := range int32(partitions) {
		e.Produce(testkit.Records("wide", p, 4)...)
	}
	m := e.MustBackup(backup.BackupOptions{FlushSize: 2}) // 2 objects per partition
	tg := e.NewTarget()
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	stop := tg.Cluster.HoldCommits(pipeline.SlotTxnID(backup.RestoreGroup(m.ID), pipeline.Shard{}, pipeline.TxnSlot("wide", 0)), cancel)
	if _, err := e.RestoreCtx(ctx, tg, backup.RestoreOptions{Parallelism: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	stop()
	done, err := tg.KC.CommittedOffsets(e.Ctx, backup.RestoreGroup(m.ID), []string{"wide"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{0, pipeline.TxnSlots} {
		if off, ok := done["wide"][p]; ok {
			t.Errorf("partition %d has progress %d although its transaction never ended", p, off)
		}
	}
	e.MustRestore(tg, backup.RestoreOptions{Parallelism: 5})
	got := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "wide")
	for p := range int32(partitions) {
		want := testkit.Values(testkit.Records("wide", p, 4))
		if vals := testkit.Values(got[p]); !slices.Equal(vals, want) {
			t.Errorf("partition %d holds %v, want %v", p, vals, want)
		}
	}
	if len(got) != partitions {
		t.Errorf("%d partitions hold records, want %d", len(got), partitions)
	}
}
