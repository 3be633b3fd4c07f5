package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// Tests of issue 16: data loss and wrong success around lineages, overlaps,
// added partitions and interrupted migrations.

// produceTxnLayout writes 3 records in a committed transaction, 2 in an
// aborted one, 3 committed and 1 plain into topic/0: 7 records whose offsets
// (0-2, 7-9, 11) are not contiguous. It returns their values.
func produceTxnLayout(t *testing.T, ctx context.Context, c cluster, topic string) []string {
	t.Helper()
	var want []string
	n := 0
	batch := func(k int) []record.Record {
		var out []record.Record
		for range k {
			out = append(out, record.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", n), Value: fmt.Appendf(nil, `{"n":%d}`, n)})
			n++
		}
		return out
	}
	for i, commit := range []bool{true, false, true} {
		recs := batch(map[bool]int{true: 3, false: 2}[commit])
		if err := c.ProduceTxn(ctx, fmt.Sprintf("layout-%d", i), recs, commit); err != nil {
			t.Fatal(err)
		}
		if commit {
			for _, r := range recs {
				want = append(want, string(r.Value))
			}
		}
	}
	plain := batch(1)
	if err := c.Produce(ctx, plain); err != nil {
		t.Fatal(err)
	}
	return append(want, string(plain[0].Value))
}

func partitionValues(t *testing.T, ctx context.Context, c cluster, topic string, p int32) []string {
	t.Helper()
	var out []string
	for _, r := range readPartitions(t, ctx, c, topic)[p] {
		out = append(out, string(r.Value))
	}
	return out
}

// TestImportOverlapWithOffsetGaps (16.2): a topic with transactions exported
// twice into one bucket, with --flush-size 2 and then 3, imports as its 7
// records (main imported 8 and said the overlap was skipped); the same bucket
// without kferry's offsets records (as the Confluent connector leaves it) is
// refused with one line naming both objects, exit 1.
func TestImportOverlapWithOffsetGaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"tx": 1})
	want := produceTxnLayout(t, ctx, src, "tx")
	url, dir := fileURL(t)
	for _, flush := range []string{"2", "3"} {
		mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "tx", "--to", url, "--flush-size", flush, "--store-keys"))
	}
	dst, dstBrokers := newCluster(t, nil)
	r := kferry(t, runOpts{}, "import", "--from", url, "--brokers", dstBrokers)
	mustSucceed(t, r)
	if got := partitionValues(t, ctx, dst, "tx", 0); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("imported %d records %v, want the %d of the source %v\n%s", len(got), got, len(want), want, r)
	}

	if err := os.RemoveAll(filepath.Join(dir, "_kferry", "offsets")); err != nil {
		t.Fatal(err)
	}
	blind, blindBrokers := newCluster(t, nil)
	r = kferry(t, runOpts{}, "import", "--from", url, "--brokers", blindBrokers)
	wantError(t, r, 1, "overlapping objects", "tx+0+0000000000.json", "tx+0+0000000002.json", "--contiguous-offsets")
	if got := partitionValues(t, ctx, blind, "tx", 0); len(got) != 0 {
		t.Errorf("%d records written before the refusal, want none: %v", len(got), got)
	}
}

// valuesOf makes n records of topic/0 with values prefix-0 … prefix-(n-1).
func valuesOf(topic, prefix string, n int) ([]record.Record, []string) {
	var recs []record.Record
	var vals []string
	for i := range n {
		v := fmt.Sprintf("%s-%d", prefix, i)
		recs = append(recs, record.Record{Topic: topic, Value: []byte(v)})
		vals = append(vals, v)
	}
	return recs, vals
}

// TestRestoreFollowRecreatedTopic (16.1): backup lx (50 records), run restore
// --follow, delete and recreate lx at the source with 70 new records and back
// it up again (a new lineage). The standby stops with one line saying what to
// do (main logged "resuming … next_source_offset=50", restored only 20 of the
// new records after the 50 old ones and exited 0); after the operator deletes
// the standby's topic, restore --follow restores the new lineage whole.
func TestRestoreFollowRecreatedTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"lx": 1})
	dst, dstBrokers := newCluster(t, nil)
	old, oldVals := valuesOf("lx", "old", 50)
	if err := src.Produce(ctx, old); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "lx", "--to", url))
	standby := startKferry(t, runOpts{}, "restore", "--follow", "--poll-interval", "200ms", "--brokers", dstBrokers, "--from", url)
	waitUntil(t, standby, "the old records on the standby", time.Minute, func(ctx context.Context) (bool, error) {
		recs, err := dst.ReadAll(ctx, "lx")
		return err == nil && len(recs[0]) == len(oldVals), nil
	})

	if err := src.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic(ctx, "lx", 1); err != nil {
		t.Fatal(err)
	}
	fresh, freshVals := valuesOf("lx", "new", 70)
	if err := src.Produce(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	r := kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "lx", "--to", url)
	mustSucceed(t, r)
	if !strings.Contains(r.stderr+r.stdout, "new lineage") {
		t.Errorf("backup does not warn of the new lineage:\n%s", r)
	}
	select {
	case <-standby.done:
	case <-time.After(time.Minute):
		t.Fatalf("restore --follow still runs a minute after the new lineage was backed up\n%s", standby)
	}
	wantError(t, result{args: standby.args, stdout: standby.stdout.String(), stderr: standby.stderr.String(), code: standby.exitCode()}, 1,
		"deleted and recreated", "lineage 1", "delete the target topic lx")
	if got := partitionValues(t, ctx, dst, "lx", 0); strings.Join(got, " ") != strings.Join(oldVals, " ") {
		t.Fatalf("standby holds %d records after the refusal, want the 50 old ones", len(got))
	}

	if err := dst.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	standby = startKferry(t, runOpts{}, "restore", "--follow", "--poll-interval", "200ms", "--brokers", dstBrokers, "--from", url)
	waitUntil(t, standby, "the new lineage on the standby", time.Minute, func(ctx context.Context) (bool, error) {
		recs, err := dst.ReadAll(ctx, "lx")
		return err == nil && len(recs[0]) >= len(freshVals), nil
	})
	if err := standby.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-standby.done
	if got := partitionValues(t, ctx, dst, "lx", 0); strings.Join(got, " ") != strings.Join(freshVals, " ") {
		t.Fatalf("standby holds %v, want the new lineage's 70 records", got)
	}
}

// TestImportBackupBucket (16.4): import pointed at a backup bucket whose topic
// was deleted and recreated wrote the old lineage, skipped the current one
// with a warning and exited 0; it exits 2 with one line advising restore, and
// the target is left untouched.
func TestImportBackupBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"lx": 1})
	old, _ := valuesOf("lx", "old", 5)
	if err := src.Produce(ctx, old); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "lx", "--to", url))
	if err := src.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic(ctx, "lx", 1); err != nil {
		t.Fatal(err)
	}
	fresh, _ := valuesOf("lx", "new", 7)
	if err := src.Produce(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "lx", "--to", url))
	dst, dstBrokers := newCluster(t, nil)
	for _, args := range [][]string{{"import"}, {"import", "--follow"}} {
		r := kferry(t, runOpts{}, append(args, "--from", url, "--brokers", dstBrokers)...)
		wantError(t, r, 2, "kferry backups", "kferry restore --from "+url)
	}
	if recs, err := dst.ReadAll(ctx, "lx"); err == nil && len(recs) > 0 {
		t.Errorf("the target got topic lx with %v", recs)
	}
}

// TestRestoreFollowPartitionsAdded (16.8): partitions added at the source
// while restore --follow runs are added to the standby's topic, and the next
// backup is restored whole (main wrote partitions 0-1, then failed with
// "invalid record partitioning choice of 2 from 2 available").
func TestRestoreFollowPartitionsAdded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"grow": 2})
	dst, dstBrokers := newCluster(t, nil)
	batch := func(p int32, prefix string, n int) []record.Record {
		recs, _ := valuesOf("grow", prefix, n)
		for i := range recs {
			recs[i].Partition = p
		}
		return recs
	}
	if err := src.Produce(ctx, append(batch(0, "a", 3), batch(1, "b", 2)...)); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "grow", "--to", url))
	standby := startKferry(t, runOpts{}, "restore", "--follow", "--poll-interval", "200ms", "--brokers", dstBrokers, "--from", url)
	total := func(ctx context.Context) int {
		recs, _ := dst.ReadAll(ctx, "grow")
		n := 0
		for _, r := range recs {
			n += len(r)
		}
		return n
	}
	waitUntil(t, standby, "the first backup on the standby", time.Minute, func(ctx context.Context) (bool, error) { return total(ctx) == 5, nil })
	if err := src.AddPartitions(ctx, "grow", 3); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(ctx, append(batch(2, "c", 4), batch(0, "d", 1)...)); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, kferry(t, runOpts{}, "backup", "--brokers", brokers, "--topics", "grow", "--to", url))
	waitUntil(t, standby, "the second backup on the standby", time.Minute, func(ctx context.Context) (bool, error) { return total(ctx) == 10, nil })
	if err := standby.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-standby.done
	if standby.err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", standby.err, standby)
	}
	for p, want := range map[int32]string{0: "a-0 a-1 a-2 d-0", 1: "b-0 b-1", 2: "c-0 c-1 c-2 c-3"} {
		if got := strings.Join(partitionValues(t, ctx, dst, "grow", p), " "); got != want {
			t.Errorf("standby grow/%d = %s, want %s", p, got, want)
		}
	}
}

// TestMigrateRerunAfterKill (16.7): a rerun of a migration right after the
// previous run was SIGKILLed (its member still holds the source group until
// the session timeout) found the target caught up, then hung 32 s leaving the
// group and exited 1 "shutdown timed out … nothing was open". It exits 0
// promptly.
func TestMigrateRerunAfterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"mv": 2})
	dst, dstBrokers := newCluster(t, nil)
	var recs []record.Record
	for i := range 200 {
		recs = append(recs, record.Record{Topic: "mv", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := src.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	args := []string{"migrate", "--source-brokers", brokers, "--target-brokers", dstBrokers, "--via", url, "--topics", "mv", "--rotate-interval", "200ms", "--lag-interval", "200ms"}
	live := startKferry(t, runOpts{}, append(args, "--follow")...)
	waitUntil(t, live, "every record on the target", time.Minute, func(ctx context.Context) (bool, error) {
		got, err := dst.ReadAll(ctx, "mv")
		return err == nil && len(got[0])+len(got[1]) == len(recs), nil
	})
	live.kill(t)
	r := kferry(t, runOpts{timeout: 90 * time.Second}, args...)
	mustSucceed(t, r)
	if r.elapsed > 15*time.Second || strings.Contains(r.stderr, "shutdown timed out") {
		t.Errorf("the rerun took %s (want a prompt exit)\n%s", r.elapsed, r)
	}
	got, err := dst.ReadAll(ctx, "mv")
	if err != nil || len(got[0])+len(got[1]) != len(recs) {
		t.Errorf("target holds %d records, want %d (%v)", len(got[0])+len(got[1]), len(recs), err)
	}
}

// TestMigrateFollowRecreatedTopic (16.1, migrate): the source topic is
// deleted and recreated during migrate --follow; the migration stops with one
// line saying what to do, and nothing of the new topic reaches the target.
func TestMigrateFollowRecreatedTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"lx": 1})
	dst, dstBrokers := newCluster(t, nil)
	old, oldVals := valuesOf("lx", "old", 20)
	if err := src.Produce(ctx, old); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	live := startKferry(t, runOpts{}, "migrate", "--follow", "--source-brokers", brokers, "--target-brokers", dstBrokers, "--via", url, "--topics", "lx",
		"--rotate-interval", "200ms", "--lag-interval", "200ms", "--metadata-max-age", "1s")
	waitUntil(t, live, "the old records on the target", time.Minute, func(ctx context.Context) (bool, error) {
		got, err := dst.ReadAll(ctx, "lx")
		return err == nil && len(got[0]) == len(oldVals), nil
	})
	if err := src.DeleteTopic("lx"); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateTopic(ctx, "lx", 1); err != nil {
		t.Fatal(err)
	}
	fresh, _ := valuesOf("lx", "new", 30)
	if err := src.Produce(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	select {
	case <-live.done:
	case <-time.After(time.Minute):
		t.Fatalf("migrate --follow still runs a minute after the source topic was recreated\n%s", live)
	}
	wantError(t, result{args: live.args, stdout: live.stdout.String(), stderr: live.stderr.String(), code: live.exitCode()}, 1,
		"deleted and recreated", "topic id", "new prefix")
	if got := partitionValues(t, ctx, dst, "lx", 0); strings.Join(got, " ") != strings.Join(oldVals, " ") {
		t.Errorf("target holds %v, want the old records only", got)
	}
}
