package cli

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leftover writes an object that no manifest lists into the backup folder dir,
// modified age ago, and returns its path.
func leftover(t *testing.T, dir, name string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(dir, "topics", "orders", "partition=0", name)
	if err := os.WriteFile(p, []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrune: prune lists the objects that no manifest lists and deletes them
// only with --delete, keeping those younger than --min-age; the backup's own
// objects stay.
func TestPrune(t *testing.T) {
	_, dir := backedUp(t)
	old := leftover(t, dir, "orders+0+0000000099.kfr", 2*time.Hour)
	young := leftover(t, dir, "orders+0+0000000098.kfr", 0)

	out, _ := mustRun(t, "prune", dir)
	for _, want := range []string{
		"1 objects (9 bytes) that no manifest of the 1 backups lists can be deleted:",
		"  topics/orders/partition=0/orders+0+0000000099.kfr  9 bytes",
		"  kept: topics/orders/partition=0/orders+0+0000000098.kfr (9 bytes): modified less than 1h0m0s ago",
		"dry run: nothing was deleted; run again with --delete to delete them",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("prune output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("a dry run deleted %s: %v", old, err)
	}

	out, _ = mustRun(t, "prune", dir, "--delete")
	if !strings.Contains(out, "deleted 1 objects (9 bytes)") {
		t.Errorf("prune --delete printed:\n%s", out)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there (%v)", old, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("prune deleted %s, modified less than --min-age ago: %v", young, err)
	}

	out, _ = mustRun(t, "prune", dir, "--delete", "--min-age", "0s", "--json")
	var rep struct {
		Manifests int `json:"manifests"`
		Deleted   int `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Manifests != 1 || rep.Deleted != 1 {
		t.Errorf("prune --json: %+v (%v)\n%s", rep, err, out)
	}
	if got := objectFiles(t, dir, ".kfr"); len(got) != 2 {
		t.Errorf("objects left: %v, want the backup's 2", got)
	}
	out, _ = mustRun(t, "prune", dir)
	if out != "nothing to prune: the manifests of the 1 backups list every object of the bucket\n" {
		t.Errorf("prune of a clean bucket printed:\n%s", out)
	}
}

// TestPruneUsage: wrong arguments are one-line usage errors; a bucket without
// backups is a one-line failure.
func TestPruneUsage(t *testing.T) {
	empty := t.TempDir()
	checkUsage(t, []string{"prune"}, []usageCase{
		{"no bucket", nil, "kferry prune takes 1 argument(s), got 0"},
		{"min age", []string{empty, "--min-age", "-1h"}, "--min-age must not be negative"},
		{"delete", []string{empty, "--delete=soon"}, `"--delete"`},
	})
	out, errOut, code := run(t, "prune", empty, "--delete")
	if code != ExitFailed || out != "" || !errorLine(errOut) || !strings.Contains(errOut, "prune cleans the buckets of kferry backups only") {
		t.Errorf("prune without backups: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
