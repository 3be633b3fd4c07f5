package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// Tests of issue 16.11: what kferry says when it is called wrongly, stopped, or
// finds something missing.

// TestUsageLimits: values that make no sense are usage errors (exit 2) before
// anything is opened: --since after --until, negative --parallelism and other
// negative numbers, and a --topics-dir that names no folder or leaves the
// bucket prefix (which used to write to "..__0x2f__x").
func TestUsageLimits(t *testing.T) {
	t.Parallel()
	bucket, dir := fileURL(t)
	const brokers = "127.0.0.1:1"
	object := bucket + "/topics/t/partition=0/t+0+0000000000.json"
	for _, tc := range []struct {
		args     []string
		fragment string
	}{
		{[]string{"restore", "--brokers", brokers, "--from", bucket, "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"}, "--since 2026-01-02T00:00:00Z is after --until"},
		{[]string{"restore", "--brokers", brokers, "--from", bucket, "--since", "1767312000000", "--until", "1767225600000"}, "is after --until"},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--parallelism", "-3"}, "--parallelism -3"},
		{[]string{"import", "--brokers", brokers, "--from", bucket, "--parallelism", "-3"}, "--parallelism -3"},
		{[]string{"backup", "--brokers", brokers, "--to", bucket, "--parallelism", "-3"}, "--parallelism -3"},
		{[]string{"restore", "--brokers", brokers, "--from", bucket, "--parallelism", "-3"}, "--parallelism -3"},
		{[]string{"backup", "--brokers", brokers, "--to", bucket, "--flush-size", "-1"}, "--flush-size -1"},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--rotate-interval", "-1s"}, "--rotate-interval -1s"},
		{[]string{"import", "--brokers", brokers, "--from", bucket, "--hole-wait", "-1s"}, "--hole-wait -1s"},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"migrate", "--source-brokers", brokers, "--target-brokers", brokers, "--topics", "t", "--via", bucket, "--target-timeout", "-5s"}, "--target-timeout -5s"},
		{[]string{"demo", "--flush-size", "-1"}, "--flush-size -1"},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--topics-dir", "../x"}, `path segment ".."`},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--topics-dir", ""}, "names no folder"},
		{[]string{"export", "--brokers", brokers, "--topics", "t", "--to", bucket, "--topics-dir", "a//b"}, "--topics-dir"},
		{[]string{"import", "--brokers", brokers, "--from", bucket, "--topics-dir", "../x"}, "--topics-dir"},
		{[]string{"migrate", "--source-brokers", brokers, "--target-brokers", brokers, "--topics", "t", "--via", bucket, "--topics-dir", ".."}, "--topics-dir"},
		{[]string{"ls", bucket, "--topics-dir", "/"}, "names no folder"},
		{[]string{"cat", object, "--topics-dir", "x/../topics"}, "--topics-dir"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := kferry(t, runOpts{timeout: 20 * time.Second}, tc.args...)
			wantError(t, r, 2, tc.fragment)
		})
	}
	t.Cleanup(func() {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("usage errors left %d entries in the bucket folder (first %s)", len(entries), entries[0].Name())
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
			t.Errorf("--topics-dir ../x wrote next to the bucket")
		}
	})
}

// TestUnknownBackupID: restore and verify of a --backup the bucket lacks are a
// one-line usage error naming the id and the bucket and saying how to list the
// backups, not a storage error.
func TestUnknownBackupID(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 5)
	bucket, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", bucket))
	r := kferry(t, runOpts{}, "restore", "--brokers", brokers, "--from", bucket, "--backup", "nosuch", "--rename", "t=t2")
	wantError(t, r, 2, "no backup nosuch in "+bucket+"; `kferry ls "+bucket+"` lists them")
	r = kferry(t, runOpts{}, "verify", bucket, "--backup", "../../etc/passwd")
	wantError(t, r, 2, "no backup ../../etc/passwd in "+bucket)
	wantNoTopics(t, brokers, "t2")
}

// TestVerifyMissingLiveTopic: verify --brokers against a cluster that lacks a
// backed-up topic names the topic and what to do, says no "ok", and does not
// wait for retries of an unknown topic.
func TestVerifyMissingLiveTopic(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 5)
	bucket, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", bucket))
	_, otherBrokers := newCluster(t, nil)
	r := kferry(t, runOpts{}, "verify", bucket, "--brokers", otherBrokers)
	wantError(t, r, 1, "topic t is not on the cluster", "restore it first", "--rename")
	r = kferry(t, runOpts{}, "verify", bucket, "--brokers", brokers, "--rename", "t=restored-t")
	wantError(t, r, 1, "topic restored-t (--rename of t) is not on the cluster")
	if strings.Contains(r.stdout, "ok") || strings.Contains(r.stderr, "UNKNOWN_TOPIC") {
		t.Errorf("verify says ok or a raw Kafka error:\n%s", r)
	}
	if r.elapsed > 5*time.Second {
		t.Errorf("verify took %s to find the topic missing", r.elapsed)
	}
}

// TestTargetNotEmptyNamesOffsets: a target that holds records is described by
// their offsets, not by a count that includes transaction markers (a restore
// wrote this one: 50 records and a marker per object).
func TestTargetNotEmptyNamesOffsets(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"t": 1})
	produce(t, c, "t", 0, 50)
	backups, _ := fileURL(t)
	exported, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", backups, "--flush-size", "10"))
	mustSucceed(t, kferry(t, runOpts{}, "restore", "--brokers", brokers, "--from", backups, "--rename", "t=t2"))
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "t", "--to", exported))
	r := kferry(t, runOpts{}, "import", "--brokers", brokers, "--from", exported, "--rename", "t=t2")
	// The last offset is the restore's last transaction marker: how many
	// markers there are depends on how restore batched the objects.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	end, err := newAdmin(t, c).endOffsets(ctx, []string{"t2"})
	if err != nil || end <= 50 {
		t.Fatalf("t2 ends at %d (%v), want past its 50 records", end, err)
	}
	wantError(t, r, 1, fmt.Sprintf("t2 partition 0 already holds records at offsets 0–%d", end-1), "--append")
}

// TestInterruptMessages: SIGINT in the middle of a one-shot run ends in exit
// 130 and one line "kferry: interrupted; ..." that names the command and says
// what was kept and that a rerun goes on, never a bare "context canceled"
// (nor "export" for a backup).
func TestInterruptMessages(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"big": 2})
	produceMany(t, c, "big", 300_000)
	a := newAdmin(t, c)
	exported, _ := fileURL(t)
	backups, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{timeout: 3 * time.Minute}, "export", "--brokers", brokers, "--topics", "big", "--to", exported, "--flush-size", "1000"))
	mustSucceed(t, kferry(t, runOpts{timeout: 3 * time.Minute}, "backup", "--brokers", brokers, "--topics", "big", "--to", backups, "--flush-size", "1000"))

	anObject := func(dir string) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) {
			entries, _ := os.ReadDir(filepath.Join(dir, "topics/big/partition=0"))
			return len(entries) > 0, nil
		}
	}
	records := func(topic string) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			n, err := a.endOffsets(ctx, []string{topic})
			return n > 0, err
		}
	}
	freshExport, freshExportDir := fileURL(t)
	freshBackup, freshBackupDir := fileURL(t)
	for _, tc := range []struct {
		name      string
		args      []string
		started   func(context.Context) (bool, error)
		fragments []string
	}{
		{"export", []string{"export", "--topics", "big", "--to", freshExport, "--flush-size", "500"}, anObject(freshExportDir),
			[]string{"interrupted; export completed", "each whole", "run the same command again"}},
		{"backup", []string{"backup", "--topics", "big", "--to", freshBackup, "--flush-size", "500"}, anObject(freshBackupDir),
			[]string{"interrupted; backup wrote", "no manifest", "newest backup is unchanged", "run the same command again"}},
		{"import", []string{"import", "--from", exported, "--rename", "big=big-imported"}, records("big-imported"),
			[]string{"interrupted; import committed", "exactly once", "run the same command again to resume"}},
		{"restore", []string{"restore", "--from", backups, "--rename", "big=big-restored"}, records("big-restored"),
			[]string{"interrupted; restore committed", "exactly once", "run the same command again to resume"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startKferry(t, runOpts{}, append(tc.args, "--brokers", brokers, "--parallelism", "1")...)
			waitUntil(t, p, "progress", time.Minute, tc.started)
			if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.done:
			case <-time.After(time.Minute):
				t.Fatalf("no exit within a minute of SIGINT\n%s", p)
			}
			r := result{args: p.args, stdout: p.stdout.String(), stderr: p.stderr.String(), code: p.exitCode(), elapsed: time.Since(p.start)}
			if r.code == 0 {
				t.Fatalf("%s finished before SIGINT; the test needs more records\n%s", tc.name, r)
			}
			wantError(t, r, 130, tc.fragments...)
			last := lastLine(r.stderr)
			if strings.Contains(last, "context canceled") || (tc.name == "backup" && strings.Contains(last, "export")) {
				t.Errorf("error line: %s", last)
			}
		})
	}
}

// produceMany writes n small records spread over topic's partitions.
func produceMany(t *testing.T, c cluster, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const batch = 10_000
	for start := 0; start < n; start += batch {
		recs := make([]record.Record, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			recs = append(recs, record.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(`{"n":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)})
		}
		if err := c.Produce(ctx, recs); err != nil {
			t.Fatalf("produce into %s: %v", topic, err)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
