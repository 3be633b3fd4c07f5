package backup_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// TestBackupRetentionGapWhileRunning: retention removes the captured start
// offset of a partition after the backup captured its ranges and before it read
// them. Backup reports ErrGaps, still writes the manifest with the gap, backs up
// the rest, and the backup restores.
func TestBackupRetentionGapWhileRunning(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("ret", 2)
	e.Produce(append(testkit.Records("ret", 0, 10), testkit.Records("ret", 1, 6)...)...)
	// The broker deletes ret/0 below offset 4 when the first fetch of ret/0
	// arrives: after the backup captured [0, 10), before it read a record.
	e.Cluster.BeforeFetch("ret", 0, func() {
		if err := e.Cluster.DeleteRecords("ret", 0, 4); err != nil {
			t.Errorf("delete records: %v", err)
		}
	})
	s, m, err := e.Backup(backup.BackupOptions{FlushSize: 4, Parallelism: 1})
	testkit.WantErrContains(t, err, backup.ErrGaps, "ret/0 offsets 0-3")
	if m == nil {
		t.Fatal("no manifest returned with ErrGaps")
	}
	stored, lerr := catalog.LoadManifest(e.Ctx, e.B, "", nil)
	if lerr != nil || stored.ID != m.ID {
		t.Fatalf("newest manifest in the bucket = %v, %v; want %s written", stored, lerr, m.ID)
	}
	p0 := testkit.PartitionOf(t, stored, "ret", 0)
	if want := []manifest.Gap{{From: 0, To: 4}}; !cmp.Equal(want, p0.Gaps, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Reason" }, cmp.Ignore())) {
		t.Errorf("ret/0 gaps = %+v, want [0, 4)", p0.Gaps)
	}
	if p0.StartOffset != 0 || p0.EndOffset != 10 || p0.Records != 6 {
		t.Errorf("ret/0 = start %d end %d records %d, want 0, 10, 6", p0.StartOffset, p0.EndOffset, p0.Records)
	}
	if p1 := testkit.PartitionOf(t, stored, "ret", 1); len(p1.Gaps) != 0 || p1.Records != 6 {
		t.Errorf("ret/1 = %d records, gaps %+v; want 6 and none", p1.Records, p1.Gaps)
	}
	if s.Records != 12 || !testkit.HasWarning(s.Warnings, "ret/0", "retention") {
		t.Errorf("summary: %d records, warnings %q; want 12 and a retention warning", s.Records, s.Warnings)
	}

	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	testkit.WantSameTopic(t, e, tg, "ret", "ret") // the source lost 0-3 too
	if got := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "ret"); string(got[0][0].Value) != `{"n":4}` || len(got[0]) != 6 {
		t.Errorf("ret/0 restored %d records from %s, want 6 from {\"n\":4}", len(got[0]), got[0][0].Value)
	}
	if _, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// TestBackupRetentionGapBetweenBackups: retention removed records the previous
// backup had not reached. The incremental backup records the gap, warns, and
// says so in its error (the records are lost for good).
func TestBackupRetentionGapBetweenBackups(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("ret", 1)
	recs := testkit.Records("ret", 0, 10)
	e.Produce(recs[:5]...)
	first := e.MustBackup(backup.BackupOptions{})
	e.Produce(recs[5:]...)
	if err := e.Cluster.DeleteRecordsBefore(e.Ctx, "ret", 0, 8); err != nil {
		t.Fatal(err)
	}
	s, m, err := e.Backup(backup.BackupOptions{})
	testkit.WantErrContains(t, err, backup.ErrGaps, "ret/0 offsets 5-7")
	if m == nil || m.Parent != first.ID {
		t.Fatalf("manifest %+v, want one with parent %s", m, first.ID)
	}
	p := testkit.PartitionOf(t, m, "ret", 0)
	if len(p.Gaps) != 1 || p.Gaps[0].From != 5 || p.Gaps[0].To != 8 {
		t.Errorf("gaps = %+v, want [5, 8)", p.Gaps)
	}
	if p.Records != 7 || p.EndOffset != 10 {
		t.Errorf("ret/0: %d records up to %d, want 7 up to 10", p.Records, p.EndOffset)
	}
	if !testkit.HasWarning(s.Warnings, "ret/0", "5 to 7") {
		t.Errorf("warnings %q do not name the removed offsets", s.Warnings)
	}
}

// TestBackupIncremental: a second backup writes only new objects, leaves the
// first backup's objects as they were, and covers both runs; the older backup
// still restores exactly what it had.
func TestBackupIncremental(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("inc", 3)
	e.Produce(append(testkit.Records("inc", 0, 5), testkit.Records("inc", 1, 4)...)...)
	first := e.MustBackup(backup.BackupOptions{FlushSize: 2})
	before := e.ObjectSums()
	if len(before) != 5 {
		t.Fatalf("first backup wrote %d objects, want 5", len(before))
	}
	more := testkit.Records("inc", 0, 8)[5:]
	more = append(more, testkit.Records("inc", 2, 1)...)
	e.Produce(more...)

	s, second, err := e.Backup(backup.BackupOptions{FlushSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if second.Parent != first.ID || second.ID <= first.ID {
		t.Errorf("second backup %s has parent %q, want %s", second.ID, second.Parent, first.ID)
	}
	if s.Records != 4 {
		t.Errorf("second backup read %d records, want the 4 new ones", s.Records)
	}
	after := e.ObjectSums()
	for k, sum := range before {
		if after[k] != sum {
			t.Errorf("object %s changed or vanished in the second backup", k)
		}
	}
	listed := testkit.ManifestObjects(second)
	for k, o := range testkit.ManifestObjects(first) {
		if !cmp.Equal(listed[k], o) {
			t.Errorf("second manifest lists %s as %+v, want the first's %+v", k, listed[k], o)
		}
	}
	var added []string
	for k, o := range listed {
		if _, old := before[k]; !old {
			added = append(added, k)
			if o.BackupID != second.ID {
				t.Errorf("new object %s is attributed to backup %s", k, o.BackupID)
			}
		}
		if after[k] != o.SHA256 {
			t.Errorf("manifest checksum of %s does not match the object", k)
		}
	}
	if len(added) != 3 || len(after) != len(listed) {
		t.Errorf("second backup added %v (bucket holds %d objects, manifest %d), want 3 new objects", added, len(after), len(listed))
	}
	if p := testkit.PartitionOf(t, second, "inc", 0); p.EndOffset != 8 || p.Records != 8 {
		t.Errorf("inc/0 in the second manifest: %d records up to %d, want 8 up to 8", p.Records, p.EndOffset)
	}
	// The rolling content digest goes on across runs: it equals the digest of
	// every record of the partition.
	var d []byte
	for _, r := range testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), "inc")[0] {
		d = manifest.Roll(d, &r)
	}
	if got := testkit.PartitionOf(t, second, "inc", 0).Digest; got != manifest.HexDigest(d) {
		t.Errorf("inc/0 digest %s after two backups, want %s", got, manifest.HexDigest(d))
	}

	newest := e.NewTarget()
	e.MustRestore(newest, backup.RestoreOptions{})
	testkit.WantSameTopic(t, e, newest, "inc", "inc")

	older := e.NewTarget()
	rs := e.MustRestore(older, backup.RestoreOptions{BackupID: first.ID})
	got := testkit.ReadTopic(t, e.Ctx, older.Cluster.Config(), "inc")
	if rs.Records != 9 || len(got[0]) != 5 || len(got[1]) != 4 || len(got[2]) != 0 {
		t.Errorf("restore of backup %s: %d records (%d, %d, %d per partition), want 9 (5, 4, 0)", first.ID, rs.Records, len(got[0]), len(got[1]), len(got[2]))
	}
	if _, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{BackupID: first.ID}); err != nil {
		t.Errorf("verify the first backup: %v", err)
	}
}

// TestBackupTopicRecreated: a topic deleted and recreated between backups starts
// a new lineage with a warning; the newest backup holds the new records only, and
// the older backup keeps its own objects (restorable and verifiable).
func TestBackupTopicRecreated(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("re", 1)
	e.Produce(testkit.Records("re", 0, 5)...)
	first := e.MustBackup(backup.BackupOptions{})

	if err := e.Cluster.DeleteTopic("re"); err != nil {
		t.Fatal(err)
	}
	e.CreateTopic("re", 1)
	fresh := []record.Record{{Topic: "re", Value: []byte("new-0")}, {Topic: "re", Value: []byte("new-1")}, {Topic: "re", Value: []byte("new-2")}}
	e.Produce(fresh...)
	s, second, err := e.Backup(backup.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !testkit.HasWarning(s.Warnings, "re", "recreated", "lineage") || !testkit.HasWarning(second.Warnings, "lineage") {
		t.Errorf("warnings %q (manifest %q) do not say re starts a new lineage", s.Warnings, second.Warnings)
	}
	if p := testkit.PartitionOf(t, second, "re", 0); p.Lineage != 1 || p.Records != 3 {
		t.Errorf("re/0 in the second manifest: lineage %d, %d records; want lineage 1 with 3", p.Lineage, p.Records)
	}

	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	testkit.WantSameTopic(t, e, tg, "re", "re")

	if _, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{BackupID: first.ID}); err != nil {
		t.Errorf("verify the first backup after the topic was recreated: %v", err)
	}
	if _, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{}); err != nil {
		t.Errorf("verify the newest backup: %v", err)
	}
	old := e.NewTarget()
	if _, err := e.Restore(old, backup.RestoreOptions{BackupID: first.ID}); err != nil {
		t.Fatalf("restore the first backup after the topic was recreated: %v", err)
	}
	got := testkit.ReadTopic(t, e.Ctx, old.Cluster.Config(), "re")[0]
	var vals []string
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	if want := []string{`{"n":0}`, `{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}; !slices.Equal(vals, want) {
		t.Errorf("first backup restored %v, want %v", vals, want)
	}
}

// TestBackupPartitionsAdded: partitions added between backups are backed up by
// the next one and restored with the new partition count.
func TestBackupPartitionsAdded(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("grow", 1)
	e.Produce(testkit.Records("grow", 0, 3)...)
	e.MustBackup(backup.BackupOptions{})
	if err := e.Cluster.AddPartitions(e.Ctx, "grow", 3); err != nil {
		t.Fatal(err)
	}
	e.Produce(append(testkit.Records("grow", 1, 2), testkit.Records("grow", 2, 4)...)...)
	m := e.MustBackup(backup.BackupOptions{})
	if mt := m.Topic("grow"); mt.Partitions != 3 || len(mt.Partition) != 3 {
		t.Fatalf("grow in the second manifest: %d partitions, %d entries; want 3", mt.Partitions, len(mt.Partition))
	}
	for p, n := range map[int32]int64{0: 3, 1: 2, 2: 4} {
		if got := testkit.PartitionOf(t, m, "grow", p).Records; got != n {
			t.Errorf("grow/%d: %d records backed up, want %d", p, got, n)
		}
	}
	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	testkit.WantSameTopic(t, e, tg, "grow", "grow")
}

// TestBackupIncrementalSelection: a backup of some topics into a bucket that
// holds a backup of more keeps the others (objects and groups) from the previous
// manifest, so the newest manifest still restores everything.
func TestBackupIncrementalSelection(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("a", 1)
	e.CreateTopic("b", 1)
	e.Produce(append(testkit.Records("a", 0, 2), testkit.Records("b", 0, 3)...)...)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "gb", "b", map[int32]int64{0: 2})
	first := e.MustBackup(backup.BackupOptions{})
	e.Produce(testkit.Records("b", 0, 5)[3:]...)
	e.Produce(testkit.Records("a", 0, 4)[2:]...)
	second := e.MustBackup(backup.BackupOptions{Selector: plan.Selector{Names: []string{"a"}}})
	if p := testkit.PartitionOf(t, second, "a", 0); p.Records != 4 {
		t.Errorf("a/0: %d records, want 4", p.Records)
	}
	if !cmp.Equal(testkit.PartitionOf(t, second, "b", 0), testkit.PartitionOf(t, first, "b", 0)) {
		t.Errorf("b/0 in the second manifest differs from the first's")
	}
	if len(second.Groups) != 1 || second.Groups[0].Group != "gb" {
		t.Errorf("groups %+v, want gb carried over", second.Groups)
	}
	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	testkit.WantSameTopic(t, e, tg, "a", "a")
	if got := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "b")[0]; len(got) != 3 {
		t.Errorf("b/0 restored %d records, want the 3 of the first backup", len(got))
	}
	got, err := tg.KC.CommittedOffsets(e.Ctx, "gb", []string{"b"})
	if err != nil || got["b"][0] != 2 {
		t.Errorf("gb on b/0 = %v (%v), want 2", got, err)
	}
}
