package backup_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
)

// TestGapsAreReported (issue 16.5): a retention gap recorded in the manifest is
// a warning of verify with its offsets and count (an error with Strict), and a
// restore's summary names it, as a warning and on the partition.
func TestGapsAreReported(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("ret", 1)
	recs := testkit.Records("ret", 0, 20)
	e.Produce(recs[:10]...)
	e.MustBackup(backup.BackupOptions{})
	e.Produce(recs[10:]...)
	if err := e.Cluster.DeleteRecordsBefore(e.Ctx, "ret", 0, 15); err != nil {
		t.Fatal(err)
	}
	bs, m, err := e.Backup(backup.BackupOptions{})
	testkit.WantErrContains(t, err, backup.ErrGaps, "ret/0 offsets 10-14")
	if len(bs.Topics) != 1 || len(bs.Topics[0].Partitions) != 1 || len(bs.Topics[0].Partitions[0].Gaps) != 1 || bs.Topics[0].Partitions[0].Gaps[0].From != 10 {
		t.Errorf("backup summary partitions %+v, want ret/0 with the gap from 10", bs.Topics)
	}

	rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %q", err, rep.Problems)
	}
	if rep.GapOffsets != 5 || len(rep.Gaps) != 1 || rep.Gaps[0].From != 10 || rep.Gaps[0].To != 15 {
		t.Errorf("verify reports gaps %+v (%d offsets), want 10-14 (5)", rep.Gaps, rep.GapOffsets)
	}
	if !testkit.HasWarning(rep.Warnings, "ret/0: offsets 10-14 (5 offsets) are not in the backup") {
		t.Errorf("verify warnings %q do not name the gap", rep.Warnings)
	}
	_, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Strict: true})
	testkit.WantErrContains(t, err, backup.ErrVerify, "--strict", "ret/0: offsets 10-14")

	tg := e.NewTarget()
	s := e.MustRestore(tg, backup.RestoreOptions{})
	if s.Records != 15 || !testkit.HasWarning(s.Warnings, "ret/0: offsets 10-14 (5 offsets) are not in the backup", "not restored", m.ID) {
		t.Errorf("restore summary: %d records, warnings %q; want 15 and the gap named", s.Records, s.Warnings)
	}
	if len(s.Topics) != 1 || len(s.Topics[0].Partitions) != 1 || len(s.Topics[0].Partitions[0].Gaps) != 1 || s.Topics[0].Partitions[0].Gaps[0].From != 10 {
		t.Errorf("restore summary partitions %+v, want ret/0 with the gap from 10", s.Topics)
	}
}

// TestIncompleteManifest (issue 16.6b): a manifest whose objects do not account
// for a partition's offsets is a verify problem naming the offsets, and restore
// refuses it before creating or writing anything. When the counts were made to
// add up, verify still notices from the rolling digests.
func TestIncompleteManifest(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	m := verifySource(t, e) // audit/0: objects at 0-2, 3-5, 7-9, 10 (a marker at 6)
	if objs := testkit.PartitionOf(t, m, "audit", 0).Objects; len(objs) != 4 || objs[1].FirstOffset != 3 || objs[2].FirstOffset != 7 {
		t.Fatalf("audit/0 objects %+v, want 4 starting at 0, 3, 7, 10", objs)
	}
	tests := []struct {
		name    string
		edit    func(p *manifest.Partition)
		problem string // verify's problem and restore's error hold it
		restore bool   // restore refuses
	}{
		{"object entry removed", func(p *manifest.Partition) {
			p.Objects = append(p.Objects[:1:1], p.Objects[2:]...)
		}, "audit/0: offsets 3-6 are in no object and no recorded gap: the objects hold 7 records, the manifest says 10", true},
		{"last object entry removed", func(p *manifest.Partition) {
			p.Objects = p.Objects[:3]
		}, "audit/0: offsets 6, 10 are in no object and no recorded gap", true},
		{"last entry removed, counts adjusted", func(p *manifest.Partition) {
			p.Records -= p.Objects[3].Records
			p.Objects = p.Objects[:3]
		}, "objects after topics/audit/partition=0/audit+0+0000000007.kfr are missing from the manifest", true},
		{"entry removed, counts adjusted", func(p *manifest.Partition) {
			p.Records -= p.Objects[1].Records
			p.Objects = append(p.Objects[:1:1], p.Objects[2:]...)
		}, "object topics/audit/partition=0/audit+0+0000000007.kfr does not continue the records of the object before it", false},
		{"objects overlap", func(p *manifest.Partition) {
			p.Objects[2].FirstOffset = 5
		}, "overlap at offsets 5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testkit.New(t, "mem")
			copyBucket(t, e, c)
			cm := *m
			cm.Topics = append([]manifest.Topic(nil), m.Topics...)
			for i := range cm.Topics {
				cm.Topics[i].Partition = append([]manifest.Partition(nil), cm.Topics[i].Partition...)
				for j := range cm.Topics[i].Partition {
					p := &cm.Topics[i].Partition[j]
					p.Objects = append([]manifest.Object(nil), p.Objects...)
					if cm.Topics[i].Name == "audit" {
						tt.edit(p)
					}
				}
			}
			body, err := manifest.Marshal(&cm)
			if err != nil {
				t.Fatal(err)
			}
			c.Put(map[string]string{manifest.Key(m.ID): string(body)})

			rep, err := backup.Verify(c.Ctx, c.B, backup.VerifyOptions{})
			testkit.WantErrContains(t, err, backup.ErrVerify, tt.problem)
			if !testkit.HasWarning(rep.Problems, tt.problem) {
				t.Errorf("problems %q, want one holding %q", rep.Problems, tt.problem)
			}

			tg := c.NewTarget()
			_, err = c.Restore(tg, backup.RestoreOptions{Selector: plan.Selector{Names: []string{"other", "audit"}}})
			if !tt.restore {
				return // counts that add up: restore cannot tell from the manifest
			}
			testkit.WantErrContains(t, err, backup.ErrIncomplete, "backup "+m.ID, tt.problem, "nothing was restored")
			if parts := topicsOf(t, c, tg); len(parts) != 0 {
				t.Errorf("the refused restore created topics %v", parts)
			}
		})
	}
}

// topicsOf returns the topics of the target cluster, as a new client sees
// them (a client caches metadata).
func topicsOf(t *testing.T, e *testkit.Env, tg *testkit.Target) []string {
	t.Helper()
	kc, err := kafka.Dial(e.Ctx, tg.Cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topics, err := kc.Topics(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name := range topics {
		if !strings.HasPrefix(name, "__") {
			out = append(out, name)
		}
	}
	return out
}

// TestVerifyScansWholeBucket (issue 16.6a, 16.12): with the newest manifest
// deleted, objects only it listed (a new lineage's, a new topic's) are warnings
// of verify naming them, errors with Strict; objects that an older manifest
// lists are not.
func TestVerifyScansWholeBucket(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("lx", 1)
	e.Produce(testkit.Records("lx", 0, 5)...)
	first := e.MustBackup(backup.BackupOptions{})
	if err := e.Cluster.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	e.CreateTopic("lx", 1)
	e.CreateTopic("fresh", 1)
	e.Produce(append(testkit.Records("lx", 0, 3), testkit.Records("fresh", 0, 2)...)...)
	second := e.MustBackup(backup.BackupOptions{})
	if rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Strict: true}); err != nil {
		t.Fatalf("verify the newest backup: %v %q", err, rep.Warnings)
	}
	if rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{BackupID: first.ID, Strict: true}); err != nil {
		t.Fatalf("verify the first backup while the second exists: %v %q", err, rep.Warnings)
	}
	if err := e.B.Delete(e.Ctx, manifest.Key(second.ID)); err != nil {
		t.Fatal(err)
	}
	rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	want := []string{
		"object topics/fresh/partition=0/fresh+0+0000000000.kfr",
		"object topics/lineage=1/lx/partition=0/lx+0+0000000000.kfr",
	}
	if len(rep.Warnings) != 2 || !strings.HasPrefix(rep.Warnings[0], want[0]) || !strings.HasPrefix(rep.Warnings[1], want[1]) {
		t.Errorf("warnings %q, want two starting %q", rep.Warnings, want)
	}
	for _, u := range rep.Unlisted {
		if u.Kind != backup.UnlistedBackupObject {
			t.Errorf("unlisted %+v, want a backup object", u)
		}
	}
	_, err = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Strict: true})
	testkit.WantErrContains(t, err, backup.ErrVerify, "2 warnings", want[0])

	// A stranger's object and a local folder's temporary file are listed too.
	e.Put(map[string]string{"notes/readme.txt": "hi", "topics/lx/partition=0/lx+0+0000000009.kfr.1f2e3d.tmp": "partial"})
	rep, _ = backup.Verify(e.Ctx, e.B, backup.VerifyOptions{})
	kinds := map[string]backup.UnlistedKind{}
	for _, u := range rep.Unlisted {
		kinds[u.Key] = u.Kind
	}
	if kinds["notes/readme.txt"] != backup.UnlistedOther || kinds["topics/lx/partition=0/lx+0+0000000009.kfr.1f2e3d.tmp"] != backup.UnlistedTempFile {
		b, _ := json.Marshal(rep.Unlisted)
		t.Errorf("unlisted objects %s, want the stranger as other and the .tmp as a temporary file", b)
	}
}

// TestDeletedTopicMarked (issue 16.13): a topic deleted from the cluster stays in
// later manifests, marked deleted by the first backup that found it gone (and
// only by that one); restore skips it with a warning unless IncludeDeleted or
// named.
func TestDeletedTopicMarked(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("kept", 1)
	e.CreateTopic("gone", 1)
	e.Produce(append(testkit.Records("kept", 0, 3), testkit.Records("gone", 0, 4)...)...)
	first := e.MustBackup(backup.BackupOptions{})
	if tp := first.Topic("gone"); tp == nil || tp.Deleted() {
		t.Fatalf("first backup: gone = %+v, want it live", tp)
	}
	if err := e.Cluster.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	e.Produce(testkit.Records("kept", 0, 2)...)
	s, second, err := e.Backup(backup.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tp := second.Topic("gone"); tp == nil || tp.DeletedIn != second.ID || tp.Partition[0].Records != 4 {
		t.Errorf("second backup: gone = %+v, want its 4 records marked deleted in %s", tp, second.ID)
	}
	if !testkit.HasWarning(s.Warnings, "topic gone was deleted from the cluster") || !testkit.HasWarning(second.Warnings, "gone", "marked deleted") {
		t.Errorf("warnings %q (manifest %q) do not say gone was deleted", s.Warnings, second.Warnings)
	}
	if second.FormatVersion != manifest.FormatVersion || manifest.FormatVersion != "1.1" {
		t.Errorf("format version %s, want 1.1", second.FormatVersion)
	}
	e.Produce(testkit.Records("kept", 0, 1)...)
	third := e.MustBackup(backup.BackupOptions{})
	if tp := third.Topic("gone"); tp == nil || tp.DeletedIn != second.ID {
		t.Errorf("third backup: gone = %+v, want it still marked deleted in %s", tp, second.ID)
	}
	if len(third.Warnings) != 0 {
		t.Errorf("third backup warns %q again", third.Warnings)
	}

	tg := e.NewTarget()
	s = e.MustRestore(tg, backup.RestoreOptions{})
	if got := topicsOf(t, e, tg); len(got) != 1 || got[0] != "kept" || s.Records != 6 {
		t.Errorf("restore: topics %v, %d records; want only kept with 6", got, s.Records)
	}
	if !testkit.HasWarning(s.Warnings, "topic gone was deleted from the source", second.ID, "--include-deleted") {
		t.Errorf("restore warnings %q do not say gone was skipped", s.Warnings)
	}
	for name, o := range map[string]backup.RestoreOptions{
		"include deleted": {IncludeDeleted: true},
		"named":           {Selector: plan.Selector{Names: []string{"gone"}}},
	} {
		tg := e.NewTarget()
		e.MustRestore(tg, o)
		if got := testkit.Values(testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "gone")[0]); len(got) != 4 {
			t.Errorf("%s: gone restored with %d records, want 4", name, len(got))
		}
	}
}

// TestAuditReadsManifestsLazily: the whole-bucket scan reads older manifests
// only while some object is not known to be listed, so a long chain costs one
// manifest when the bucket is clean; before calling an object unlisted it reads
// them all, and one it cannot read is then an error.
func TestAuditReadsManifestsLazily(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("lz", 1)
	e.Produce(testkit.Records("lz", 0, 3)...)
	first := e.MustBackup(backup.BackupOptions{})
	e.Produce(testkit.Records("lz", 0, 3)...)
	e.MustBackup(backup.BackupOptions{})
	e.Put(map[string]string{manifest.Key(first.ID): "{not json"})
	if rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Strict: true}); err != nil {
		t.Fatalf("verify with a clean bucket and a damaged old manifest: %v %q", err, rep.Warnings)
	}
	e.Put(map[string]string{"topics/lz/partition=0/lz+0+0000000001.kfr": "left over"})
	_, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{})
	testkit.WantErrContains(t, err, nil, manifest.Key(first.ID))
	_, err = backup.Prune(e.Ctx, e.B, backup.PruneOptions{Delete: true, Logger: testkit.DiscardLogger()})
	testkit.WantErrContains(t, err, nil, manifest.Key(first.ID))
	if ok, _ := e.B.Exists(e.Ctx, "topics/lz/partition=0/lz+0+0000000001.kfr"); !ok {
		t.Error("prune deleted an object while a manifest could not be read")
	}
}
