package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
)

// slotPartitions is a partition count above pipeline.TxnSlots, so that
// partitions p and p+TxnSlots share a slot: their objects go into the same
// transactions.
const slotPartitions = pipeline.TxnSlots + 2

// progressOf reads the committed progress of group on topic.
func progressOf(t *testing.T, e *testkit.Env, group, topic string) map[int32]int64 {
	t.Helper()
	got, err := e.KC.CommittedOffsets(e.Ctx, group, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	return got[topic]
}

// TestImportSlotKilledBeforeEndTxn: an import whose transaction spanning two
// partitions (p and p+TxnSlots) has its records and progress sent but its
// EndTxn never applied is killed; the rerun, with another --parallelism (so
// writers and partitions pair up differently), fences the slot and resumes
// every partition from what committed: every record once.
func TestImportSlotKilledBeforeEndTxn(t *testing.T) {
	e := testkit.New(t, "file")
	putObjects(e, "eo", slotPartitions, 0, 6, 3) // 2 objects per partition
	const group = "g"
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	stop := e.Cluster.HoldCommits(pipeline.SlotTxnID(group, pipeline.Shard{}, pipeline.TxnSlot("eo", 0)), cancel)
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Parallelism: 1, Group: group, Logger: testkit.DiscardLogger()}
	if _, err := pipeline.Import(ctx, e.KC, e.B, e.URL, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	stop()
	prog := progressOf(t, e, group, "eo")
	for _, p := range []int32{0, pipeline.TxnSlots} {
		if _, ok := prog[p]; ok {
			t.Errorf("partition %d has progress %d although its transaction never ended", p, prog[p])
		}
	}
	o.Parallelism = 7
	s, err := e.ImportAll(o)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if diff := cmp.Diff(wantRecs(slotPartitions, 6), e.TopicRecords("eo")); diff != "" {
		t.Errorf("target after the rerun (-want +got):\n%s", diff)
	}
	if s.Records < 12 {
		t.Errorf("rerun wrote %d records, want at least the 12 of the held slot's two partitions", s.Records)
	}
	for p := range int32(slotPartitions) {
		if got := progressOf(t, e, group, "eo")[p]; got != 6 {
			t.Errorf("partition %d progress %d, want 6", p, got)
		}
	}
}

// TestImportSlotKilledAfterEndTxn: killed right after transactions of several
// partitions committed (between two transactions), the rerun, with another
// --parallelism, writes only what did not commit.
func TestImportSlotKilledAfterEndTxn(t *testing.T) {
	e := testkit.New(t, "file")
	putObjects(e, "eo", slotPartitions, 0, 6, 3)
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	stop := &cancelAfterObjects{cancel: cancel}
	stop.n.Store(3)
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Parallelism: 3, Group: "g", Progress: stop, Logger: testkit.DiscardLogger()}
	if _, err := pipeline.Import(ctx, e.KC, e.B, e.URL, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	first := len(e.TopicRecords("eo"))
	// What committed is what the progress group says: a transaction whose
	// EndTxn went through while the run was being cancelled is committed but
	// may go unreported.
	var progress int64
	for _, off := range progressOf(t, e, "g", "eo") {
		progress += off
	}
	if int64(first) != progress || first < int(stop.records.Load()) || first < 9 {
		t.Fatalf("after the kill the target holds %d records, want the %d of the progress group (%d reported committed)", first, progress, stop.records.Load())
	}
	o.Progress, o.Parallelism = nil, 1
	s, err := e.ImportAll(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(slotPartitions*6 - first); s.Records != want {
		t.Errorf("rerun wrote %d records, want the %d left", s.Records, want)
	}
	if diff := cmp.Diff(wantRecs(slotPartitions, 6), e.TopicRecords("eo")); diff != "" {
		t.Errorf("target after the rerun (-want +got):\n%s", diff)
	}
}

// TestImportSlotObjectFails: an object that fails to decode aborts its whole
// transaction (the objects of other partitions in it too), and every
// partition's committed progress matches the records the target holds. With
// the object repaired, the rerun completes every partition once.
func TestImportSlotObjectFails(t *testing.T) {
	e := testkit.New(t, "file")
	putObjects(e, "eo", slotPartitions, 0, 6, 3)
	bad := objectKey("eo", pipeline.TxnSlots, 3) // shares its slot with partition 0
	good := e.RawObjects()[bad]
	e.Put(map[string]string{bad: "\"p64-3\"\n{not json\n"})
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Parallelism: 2, Group: "g", Logger: testkit.DiscardLogger()}
	_, err := e.ImportAll(o)
	testkit.WantErrContains(t, err, nil, fmt.Sprintf("eo/%d", pipeline.TxnSlots))
	held := map[int32]int64{}
	for _, r := range e.TopicRecords("eo") {
		held[r.P]++
	}
	prog := progressOf(t, e, "g", "eo")
	for p := range int32(slotPartitions) {
		if prog[p] != held[p] {
			t.Errorf("partition %d: progress %d but the target holds %d records", p, prog[p], held[p])
		}
	}
	if held[pipeline.TxnSlots] > 3 {
		t.Errorf("partition %d holds %d records, some of the failed object", pipeline.TxnSlots, held[pipeline.TxnSlots])
	}
	e.Put(map[string]string{bad: good})
	if _, err := e.ImportAll(o); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRecs(slotPartitions, 6), e.TopicRecords("eo")); diff != "" {
		t.Errorf("target after the rerun (-want +got):\n%s", diff)
	}
}

// TestImportSlotCommitLost: a slot's commit that ended aborted while reported
// committed (franz-go, believing none of the transaction's records reached a
// broker, aborts in the commit's stead and returns no error) is noticed from
// the progress that did not move, and the slot writes those objects again: the
// run succeeds with every record once.
func TestImportSlotCommitLost(t *testing.T) {
	e := testkit.New(t, "file")
	putObjects(e, "eo", slotPartitions, 0, 6, 3)
	e.Cluster.AbortCommits(pipeline.SlotTxnID("g", pipeline.Shard{}, pipeline.TxnSlot("eo", 0)), 1)
	var logs testkit.LogBuffer
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Parallelism: 2, Group: "g", Logger: logs.Logger()}
	s, err := e.ImportAll(o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRecs(slotPartitions, 6), e.TopicRecords("eo")); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	if s.Records != slotPartitions*6 {
		t.Errorf("summary counts %d records, want %d", s.Records, slotPartitions*6)
	}
	if !strings.Contains(logs.String(), "commit reported success") {
		t.Errorf("no warning about the lost commit in the log:\n%s", logs.String())
	}
}
