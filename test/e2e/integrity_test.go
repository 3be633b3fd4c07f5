package e2e

import (
	"context"
	"encoding/json"
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
	r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", url)
	wantError(t, r, 1, "gaps", "ret/0 offsets 100-149")

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
