package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/manifest"
)

// TestGapsVisible (issue 16.5): retention gaps that a backup recorded are shown
// afterwards: verify warns with their offsets and count (fails with --strict),
// ls names them, and restore's summary and --report carry them.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestGapsVisible(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"ret": 1})
	url, _ := fileURL(t)
	produce(t, c, "ret", 0, 100)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url))
	produce(t, c, "ret", 0, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.DeleteRecordsBefore(ctx, "ret", 0, 150); err != nil {
		t.Fatal(err)
	}
	backupReport := filepath.Join(t.TempDir(), "backup.json")
	r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url, "--report", backupReport)
	wantError(t, r, 1, "gaps", "ret/0 offsets 100-149")
	var brep struct {
		Topics []struct {
			Partitions []struct {
				Gaps []manifest.Gap
			}
		}
	}
	if err := json.Unmarshal(readFile(t, backupReport), &brep); err != nil || len(brep.Topics) != 1 || len(brep.Topics[0].Partitions) != 1 ||
		len(brep.Topics[0].Partitions[0].Gaps) != 1 || brep.Topics[0].Partitions[0].Gaps[0].From != 100 || brep.Topics[0].Partitions[0].Gaps[0].To != 150 {
		t.Errorf("backup --report: %v %+v", err, brep)
	}

	gap := "ret/0: offsets 100-149 (50 offsets) are not in the backup"
	t.Run("verify", func(t *testing.T) {
		r := kferry(t, runOpts{}, "verify", url)
		mustSucceed(t, r)
		for _, want := range []string{"warning: " + gap, "gaps: 50 offsets in 1 ranges", "ok: every object matches the manifest, with 1 warnings"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("verify does not say %q:\n%s", want, r)
			}
		}
		wantError(t, kferry(t, runOpts{}, "verify", "--strict", url), 1, "verification failed", "--strict", gap)
		r = kferry(t, runOpts{}, "verify", "--json", url)
		mustSucceed(t, r)
		var rep struct {
			GapOffsets int64 `json:"gap_offsets"`
			Gaps       []struct {
				Topic    string
				From, To int64
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.GapOffsets != 50 || len(rep.Gaps) != 1 || rep.Gaps[0].From != 100 || rep.Gaps[0].To != 150 {
			t.Errorf("verify --json: %v %+v\n%s", err, rep, r)
		}
	})
	t.Run("ls", func(t *testing.T) {
		r := kferry(t, runOpts{}, "ls", url)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "gap: ret/0 offsets 100-149 (50 offsets) are not in the backup") {
			t.Errorf("ls does not show the gap:\n%s", r)
		}
		// TOPIC PARTITION RECORDS FIRST-OFFSET LAST-OFFSET GAPS ...
		if !regexp.MustCompile(`(?m)^ret\s+0\s+150\s+0\s+199\s+50\s`).MatchString(r.stdout) {
			t.Errorf("ls has no row for ret/0 with 150 records, offsets 0-199 and 50 missing:\n%s", r)
		}
	})
	t.Run("restore", func(t *testing.T) {
		_, target := newCluster(t, nil)
		report := filepath.Join(t.TempDir(), "report.json")
		r := kferry(t, runOpts{}, "restore", "--from", url, "--brokers", target, "--report", report)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "warning: "+gap) || !strings.Contains(r.stdout, "not restored") {
			t.Errorf("the restore summary does not warn about the gap:\n%s", r)
		}
		var rep struct {
			Records  int64
			Warnings []string
			Topics   []struct {
				Partitions []struct {
					Gaps []manifest.Gap
				}
			}
		}
		if err := json.Unmarshal(readFile(t, report), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Records != 150 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], gap) ||
			len(rep.Topics) != 1 || len(rep.Topics[0].Partitions) != 1 || len(rep.Topics[0].Partitions[0].Gaps) != 1 || rep.Topics[0].Partitions[0].Gaps[0].From != 100 {
			t.Errorf("--report: %+v", rep)
		}
	})
}

// TestDamagedBucketCaught (issue 16.6): (a) with the newest manifest deleted,
// the objects only it listed (a recreated topic's new lineage) are warnings of
// verify, errors with --strict; (b) a manifest with an object entry removed is a
// verify problem, and restore refuses it before creating anything, naming the
// partition and the missing offsets.
func TestDamagedBucketCaught(t *testing.T) {
	t.Parallel()
	t.Run("newest manifest deleted", func(t *testing.T) {
		t.Parallel()
		c, brokers := newCluster(t, map[string]int32{"lx": 1})
		url, dir := fileURL(t)
		produce(t, c, "lx", 0, 50)
		mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url))
		if err := c.DeleteTopic("lx"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.CreateTopic(ctx, "lx", 1); err != nil {
			t.Fatal(err)
		}
		produce(t, c, "lx", 0, 70)
		r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url)
		mustSucceed(t, r)
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(manifest.Key(backupID(t, r))))); err != nil {
			t.Fatal(err)
		}
		orphan := "topics/lineage=1/lx/partition=0/lx+0+0000000000.kfr"
		r = kferry(t, runOpts{}, "verify", url)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "warning: object "+orphan) || !strings.Contains(r.stdout, "unlisted: 1 objects") {
			t.Errorf("verify does not warn about %s:\n%s", orphan, r)
		}
		wantError(t, kferry(t, runOpts{}, "verify", "--strict", url), 1, "verification failed", orphan)
	})
	t.Run("object entry removed", func(t *testing.T) {
		t.Parallel()
		c, brokers := newCluster(t, map[string]int32{"orders": 2})
		url, dir := fileURL(t)
		produce(t, c, "orders", 0, 300)
		produce(t, c, "orders", 1, 300)
		r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url, "--flush-size", "100")
		mustSucceed(t, r)
		path := filepath.Join(dir, filepath.FromSlash(manifest.Key(backupID(t, r))))
		m, err := manifest.Unmarshal(readFile(t, path))
		if err != nil {
			t.Fatal(err)
		}
		p := &m.Topic("orders").Partition[1]
		p.Objects = append(p.Objects[:1:1], p.Objects[2:]...)
		body, err := manifest.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, string(body))

		missing := "orders/1: offsets 100-199 are in no object"
		r = kferry(t, runOpts{}, "verify", url)
		wantError(t, r, 1, "verification failed", missing)
		if !strings.Contains(r.stdout, "problem: "+missing) {
			t.Errorf("verify does not list the problem:\n%s", r)
		}
		_, target := newCluster(t, nil)
		wantError(t, kferry(t, runOpts{}, "restore", "--from", url, "--brokers", target), 1, "incomplete", missing, "nothing was restored")
		wantNoTopics(t, target, "orders")
	})
}

// TestPruneLeftovers (issue 16.12): a backup interrupted before its manifest and
// rerun with another --flush-size leaves objects no manifest lists. verify warns
// about them (fails with --strict); prune lists them with their total size and
// deletes them only with --delete (and only once they are older than --min-age),
// leaving manifests, listed objects and what it does not recognise alone; the
// backup then verifies with --strict and restores.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestPruneLeftovers(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"orders": 1})
	url, dir := fileURL(t)
	produce(t, c, "orders", 0, 300)
	r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url, "--flush-size", "50")
	mustSucceed(t, r)
	// As if killed right before its manifest was written.
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(manifest.Key(backupID(t, r))))); err != nil {
		t.Fatal(err)
	}
	r = kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url, "--flush-size", "100")
	mustSucceed(t, r)
	id := backupID(t, r)
	writeFile(t, filepath.Join(dir, "notes.txt"), "the operator's")
	var leftovers []string
	var size int64
	for _, off := range []string{"0000000050", "0000000150", "0000000250"} {
		key := "topics/orders/partition=0/orders+0+" + off + ".kfr"
		leftovers = append(leftovers, key)
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}

	r = kferry(t, runOpts{}, "verify", url)
	mustSucceed(t, r)
	for _, k := range leftovers {
		if !strings.Contains(r.stdout, "warning: object "+k) {
			t.Errorf("verify does not warn about %s:\n%s", k, r)
		}
	}
	wantError(t, kferry(t, runOpts{}, "verify", "--strict", url), 1, "verification failed", "4 warnings")

	// Fresh objects are kept by the default --min-age.
	r = kferry(t, runOpts{}, "prune", "--delete", url)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "0 objects (0 bytes) that no manifest of the 1 backups lists are deleted:") || !strings.Contains(r.stdout, "kept: "+leftovers[0]) || !strings.Contains(r.stdout, "deleted 0 objects") {
		t.Errorf("prune deleted objects younger than --min-age:\n%s", r)
	}
	// A dry run lists them with their total size.
	r = kferry(t, runOpts{}, "prune", "--min-age", "0", url)
	mustSucceed(t, r)
	want := fmt.Sprintf("3 objects (%d bytes) that no manifest of the 1 backups lists can be deleted:", size)
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "kept: notes.txt") || !strings.Contains(r.stdout, "dry run: nothing was deleted") {
		t.Errorf("prune's dry run does not say %q:\n%s", want, r)
	}
	for _, k := range leftovers {
		if !strings.Contains(r.stdout, "  "+k+"  ") {
			t.Errorf("prune's dry run does not list %s:\n%s", k, r)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
			t.Errorf("the dry run removed %s: %v", k, err)
		}
	}

	r = kferry(t, runOpts{}, "prune", "--delete", "--min-age", "0", url)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, fmt.Sprintf("deleted 3 objects (%d bytes)", size)) {
		t.Errorf("prune --delete:\n%s", r)
	}
	objects, manifests, err := bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != 3 || len(manifests) != 1 || manifests[0] != id {
		t.Errorf("after prune the bucket holds objects %q and manifests %q; want the 3 of backup %s and its manifest", objects, manifests, id)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("prune removed an object it does not know: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, kferry(t, runOpts{}, "verify", "--strict", url))
	_, target := newCluster(t, nil)
	r = kferry(t, runOpts{}, "restore", "--from", url, "--brokers", target)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "total: 300 records") {
		t.Errorf("restore after prune:\n%s", r)
	}

	// A bucket without backups is refused.
	empty, _ := fileURL(t)
	wantError(t, kferry(t, runOpts{}, "prune", empty), 1, "no backup", "prune cleans the buckets of kferry backups only")
}

// TestDeletedTopicSkipped (issue 16.13): a topic deleted from the source is
// marked deleted in the next manifest (format 1.1) and shown so by ls; restore
// skips it with a warning, --include-deleted restores it.
func TestDeletedTopicSkipped(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"kept": 1, "gone": 1})
	url, dir := fileURL(t)
	produce(t, c, "kept", 0, 10)
	produce(t, c, "gone", 0, 20)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url))
	if err := c.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url)
	mustSucceed(t, r)
	id := backupID(t, r)
	if !strings.Contains(r.stdout, "warning: topic gone was deleted from the cluster") {
		t.Errorf("backup does not warn that gone was deleted:\n%s", r)
	}
	m, err := manifest.Unmarshal(readFile(t, filepath.Join(dir, filepath.FromSlash(manifest.Key(id)))))
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != "1.1" || m.Topic("gone") == nil || m.Topic("gone").DeletedIn != id {
		t.Errorf("manifest %s (format %s): gone = %+v, want it marked deleted_in %s", id, m.FormatVersion, m.Topic("gone"), id)
	}
	r = kferry(t, runOpts{}, "ls", url)
	mustSucceed(t, r)
	if !regexp.MustCompile(`(?m)^gone \(deleted\)\s+0\s+20\s`).MatchString(r.stdout) {
		t.Errorf("ls does not mark gone deleted:\n%s", r)
	}

	target, tb := newCluster(t, nil)
	r = kferry(t, runOpts{}, "restore", "--from", url, "--brokers", tb)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "warning: topic gone was deleted from the source") || !strings.Contains(r.stdout, "total: 10 records") {
		t.Errorf("restore does not skip gone with a warning:\n%s", r)
	}
	wantNoTopics(t, tb, "gone")
	r = kferry(t, runOpts{}, "restore", "--from", url, "--brokers", tb, "--include-deleted")
	mustSucceed(t, r)
	if got := readTopics(t, target.Config(), []string{"gone"})["gone"][0]; len(got) != 20 {
		t.Errorf("restore --include-deleted wrote %d records of gone, want 20\n%s", len(got), r)
	}
}
