package backup_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/manifest"
)

// TestPrune (issue 16.12): prune lists the backup objects and temporary files
// that no manifest lists, deletes them only with Delete, and leaves alone what
// a manifest lists, what is not a backup's, objects of a topic an export wrote
// and objects younger than MinAge. A bucket without manifests is refused.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestPrune(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	if _, err := backup.Prune(e.Ctx, e.B, backup.PruneOptions{Logger: testkit.DiscardLogger()}); !errors.Is(err, manifest.ErrNoBackup) {
		t.Errorf("prune of a bucket without backups: %v, want ErrNoBackup", err)
	}
	e.CreateTopic("p", 1)
	e.Produce(testkit.Records("p", 0, 10)...)
	m := e.MustBackup(backup.BackupOptions{FlushSize: 3})
	listed := testkit.ManifestObjects(m)
	body, err := e.B.ReadAll(e.Ctx, "topics/p/partition=0/p+0+0000000003.kfr")
	if err != nil {
		t.Fatal(err)
	}
	orphan, temp := "topics/p/partition=0/p+0+0000000005.kfr", "topics/lineage=2/p/partition=0/p+0+0000000007.kfr.5a6b7c.tmp"
	e.Put(map[string]string{
		orphan: string(body), temp: "partial",
		"notes.txt":                               "not kferry's",
		"topics/p/partition=0/p+0+00001.json":     "{}",
		"_kferry/topics/q.json":                   `{"topic":"q"}`,
		"topics/q/partition=0/q+0+0000000000.kfr": "an export's",
	})
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	keys := func(us []backup.UnlistedObject) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Key)
		}
		return out
	}
	kept := func(ks []backup.KeptObject) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Key)
		}
		return out
	}
	wantKept := []string{"_kferry/topics/q.json", "notes.txt", "topics/p/partition=0/p+0+00001.json", "topics/q/partition=0/q+0+0000000000.kfr"}

	// Young objects are kept: a running backup may be writing them.
	rep, err := backup.Prune(e.Ctx, e.B, backup.PruneOptions{MinAge: time.Hour, Delete: true, Logger: testkit.DiscardLogger()})
	if err != nil || len(rep.Candidates) != 0 || rep.Deleted != 0 || len(rep.Kept) != 6 {
		t.Errorf("prune of young objects: %v, candidates %q, %d deleted, kept %q; want none, 0 and 6", err, keys(rep.Candidates), rep.Deleted, kept(rep.Kept))
	}

	// A dry run lists what it would delete and deletes nothing.
	rep, err = backup.Prune(e.Ctx, e.B, backup.PruneOptions{MinAge: time.Hour, Now: later, Logger: testkit.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(rep.Candidates), []string{temp, orphan}; !slices.Equal(got, want) || rep.CandidateBytes != int64(len(body)+len("partial")) || rep.Deleted != 0 {
		t.Errorf("dry run: candidates %q (%d bytes), %d deleted; want %q (%d bytes), none", got, rep.CandidateBytes, rep.Deleted, want, len(body)+7)
	}
	if got := kept(rep.Kept); !slices.Equal(got, wantKept) {
		t.Errorf("dry run kept %q, want %q", got, wantKept)
	}
	if ok, _ := e.B.Exists(e.Ctx, orphan); !ok {
		t.Errorf("the dry run deleted %s", orphan)
	}

	rep, err = backup.Prune(e.Ctx, e.B, backup.PruneOptions{MinAge: time.Hour, Now: later, Delete: true, Logger: testkit.DiscardLogger()})
	if err != nil || rep.Deleted != 2 {
		t.Fatalf("prune --delete: %v, %d deleted; want 2", err, rep.Deleted)
	}
	left := e.RawObjects()
	for _, k := range []string{orphan, temp} {
		if _, ok := left[k]; ok {
			t.Errorf("%s is still there", k)
		}
	}
	for _, k := range append(wantKept, manifest.Key(m.ID)) {
		if _, ok := left[k]; !ok {
			t.Errorf("prune deleted %s", k)
		}
	}
	for k := range listed {
		if _, ok := left[k]; !ok {
			t.Errorf("prune deleted %s, which the manifest lists", k)
		}
	}
	if rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{}); err != nil || len(rep.Unlisted) != len(wantKept) {
		t.Errorf("verify after prune: %v, unlisted %+v; want only the kept ones", err, rep.Unlisted)
	}
}
