package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/test/realkafka"
)

// lfPerPart is the records of each source partition: 54,000 in all, enough
// for every run to be seen in its middle on two cores.
const lfPerPart = 6000

// lfRate is the --max-rate of the one-shot runs whose middle a kill must hit:
// export and backup read their 1.9 MB in a third of a second otherwise, before
// a leader can be killed; at this rate they take about 5 s.
const lfRate = "400KiB"

// TestLeaderKill SIGKILLs the node that leads a partition kferry reads or
// writes, in the middle of export, import, backup, restore and migrate
// --follow (source side and target side) on a 3-node cluster, and the node
// that coordinates an export --follow group, and starts it again while the
// run goes on. "In the middle" is observed: objects in the
// bucket, or committed records on the target. Every run must end by itself
// with exit 0 (migrate --follow on SIGTERM, once the target holds every
// record) and every record must be there exactly once: in the objects for
// export (--follow too) and backup, on the target read_committed for the others. The
// subtests share one cluster and run in turn; import restores the export's
// bucket and restore the backup's.
// (Longer than 80 lines on purpose: the subtests share the cluster it starts.)
func TestLeaderKill(t *testing.T) {
	tr := newTrio(t)
	src := lfFill(t, tr, "lf", lfPerPart)
	topics := strings.Join(src.topics, ",")

	exportURL, exportDir := fileURL(t)
	exported := t.Run("export", func(t *testing.T) {
		p := startKferry(t, runOpts{}, "export", "--brokers", tr.brokers(), "--topics", topics, "--to", exportURL,
			"--flush-size", "600", "--store-keys", "--parallelism", "3", "--max-rate", lfRate)
		waitUntil(t, p, "15 of 90 objects in the bucket", time.Minute, func(context.Context) (bool, error) {
			n, err := countValueObjects(exportDir)
			return n >= 15, err
		})
		tr.failLeader(t, p, src.topics[0])
		mustExit0(t, p)
		checkExported(t, exportURL, src)
	})
	t.Run("export-follow-coordinator", func(t *testing.T) {
		url, dir := fileURL(t)
		const group = "lf-follow"
		p := startKferry(t, runOpts{}, "export", "--follow", "--brokers", tr.brokers(), "--topics", topics, "--to", url, "--group", group,
			"--flush-size", "200", "--store-keys", "--rotate-interval", "500ms", "--session-timeout", "3s", "--metadata-max-age", "1s")
		waitUntil(t, p, "30 objects in the bucket", time.Minute, func(context.Context) (bool, error) {
			n, err := countValueObjects(dir)
			return n >= 30, err
		})
		tr.failNode(t, p, tr.coordinator(t, group), "the coordinator of group "+group)
		waitUntil(t, p, "every offset committed to group "+group, 2*time.Minute, func(ctx context.Context) (bool, error) {
			n, err := tr.adm.committed(ctx, group, src.topics)
			return n == int64(src.total()), err
		})
		terminate(t, p, 40*time.Second)
		logFaults(t, p)
		checkExported(t, url, src)
	})
	t.Run("import", func(t *testing.T) {
		if !exported {
			t.Skip("the export subtest failed: no bucket to import")
		}
		dst := renamer("lf-", "lfi-")
		p := startKferry(t, runOpts{}, "import", "--from", exportURL, "--brokers", tr.brokers(), "--rename", "lf-(.*)=lfi-$1", "--parallelism", "3")
		waitCommitted(t, p, tr.adm, src, dst, 0.1)
		tr.failLeader(t, p, dst(src.topics[0]))
		mustExit0(t, p)
		checkCopied(t, tr, src, dst)
	})

	backupURL, backupDir := fileURL(t)
	var backupID string
	backedUp := t.Run("backup", func(t *testing.T) {
		p := startKferry(t, runOpts{}, "backup", "--brokers", tr.brokers(), "--topics", topics, "--to", backupURL,
			"--flush-size", "600", "--parallelism", "3", "--max-rate", lfRate)
		waitUntil(t, p, "15 of 90 objects in the bucket", time.Minute, func(context.Context) (bool, error) {
			objs, _, err := bucketFiles(backupDir)
			return len(objs) >= 15, err
		})
		tr.failLeader(t, p, src.topics[0])
		mustExit0(t, p)
		m := backupIDRE.FindStringSubmatch(p.stdout.String())
		if m == nil {
			t.Fatalf("backup printed no id\n%s", p)
		}
		backupID = m[1]
		checkBackedUp(t, backupDir, backupURL, backupID, src)
		mustVerify(t, backupURL, backupID)
	})
	t.Run("restore", func(t *testing.T) {
		if !backedUp {
			t.Skip("the backup subtest failed: no backup to restore")
		}
		dst := renamer("lf-", "lfr-")
		p := startKferry(t, runOpts{}, "restore", "--from", backupURL, "--brokers", tr.brokers(), "--rename", "lf-(.*)=lfr-$1", "--parallelism", "3")
		waitCommitted(t, p, tr.adm, src, dst, 0.1)
		tr.failLeader(t, p, dst(src.topics[0]))
		mustExit0(t, p)
		checkCopied(t, tr, src, dst)
	})

	t.Run("migrate-source-leader", func(t *testing.T) {
		target := pickCluster(t)
		same := func(s string) string { return s }
		p := startKferry(t, runOpts{}, migrateFollowArgs(t, tr.brokers(), strings.Join(target.ListenAddrs(), ","), topics)...)
		waitCopied(t, p, target, src, same, 0.1)
		tr.failLeader(t, p, src.topics[0])
		waitCopied(t, p, target, src, same, 1)
		terminate(t, p, 40*time.Second)
		logFaults(t, p)
		checkCopied(t, target, src, same)
	})
	t.Run("migrate-target-leader", func(t *testing.T) {
		source := pickCluster(t)
		d := lfFill(t, source, "lfs", lfPerPart)
		dst := renamer("lfs-", "lfm-")
		args := append(migrateFollowArgs(t, strings.Join(source.ListenAddrs(), ","), tr.brokers(), strings.Join(d.topics, ",")), "--rename", "lfs-(.*)=lfm-$1")
		p := startKferry(t, runOpts{}, args...)
		waitCommitted(t, p, tr.adm, d, dst, 0.1)
		tr.failLeader(t, p, dst(d.topics[0]))
		waitCopied(t, p, tr, d, dst, 1)
		terminate(t, p, 40*time.Second)
		logFaults(t, p)
		checkCopied(t, tr, d, dst)
	})
}

// TestLeaderOnlyBrokerDown kills the only broker of a cluster in the middle
// of kferry runs. Restarted at once, within --timeout, import waits for it
// and completes exactly once. Kept down for longer than --timeout, import
// gives up with exit 1 and one error line that says to run it again, leaves
// only whole committed transactions on the target (each partition a prefix of
// the source that ends at an object boundary), and the rerun, once the broker
// is back, completes with every record exactly once. export --follow, a
// service, rides the outage out: it rejoins its group when the broker is back
// and exports every record once.
func TestLeaderOnlyBrokerDown(t *testing.T) {
	needRealKafka(t)
	rk := realkafka.New(t, realkafka.Options{Overrides: brokers.opts.Overrides})
	c := &realCluster{rk: rk, addrs: rk.Addrs()}
	node, adm := rk.Nodes()[0], newAdmin(t, c)
	const flush = 200 // records per object, and per import transaction
	src := lfFill(t, c, "down", 4000)
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", rk.Bootstrap(), "--topics", strings.Join(src.topics, ","), "--to", url,
		"--flush-size", strconv.Itoa(flush), "--store-keys"))
	restart := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		began := time.Now()
		if err := node.Start(ctx); err != nil {
			t.Fatalf("restart the broker: %v", err)
		}
		t.Logf("the broker serves again after %s", time.Since(began).Round(time.Millisecond))
	}

	t.Run("import-back-within-timeout", func(t *testing.T) {
		dst := renamer("down-", "downa-")
		p := startKferry(t, runOpts{}, "import", "--from", url, "--brokers", rk.Bootstrap(), "--rename", "down-(.*)=downa-$1", "--parallelism", "3", "--timeout", "2m", "--max-rate", lfRate)
		waitCommitted(t, p, adm, src, dst, 0.1)
		node.Kill()
		restart(t)
		mustExit0(t, p)
		checkCopied(t, c, src, dst)
	})
	t.Run("import-down-past-timeout", func(t *testing.T) {
		dst := renamer("down-", "downi-")
		// --max-rate: unthrottled, the 1.2 MB went in within 0.6 s, before
		// the broker was killed (CI, 2026-12-02).
		args := []string{"import", "--from", url, "--brokers", rk.Bootstrap(), "--rename", "down-(.*)=downi-$1", "--parallelism", "3", "--timeout", "3s", "--max-rate", lfRate}
		p := startKferry(t, runOpts{}, args...)
		waitCommitted(t, p, adm, src, dst, 0.1)
		node.Kill()
		killed := time.Now()
		code := waitExit(t, p, 3*time.Minute)
		t.Logf("import exited %d %s after its only broker was killed", code, time.Since(killed).Round(time.Millisecond))
		r := result{args: p.args, stdout: p.stdout.String(), stderr: p.stderr.String(), code: code, elapsed: time.Since(p.start)}
		wantError(t, r, 1, "kafka unavailable", "--timeout 3s", "run the same command")
		if t.Failed() {
			restart(t) // for the next subtests
			t.FailNow()
		}
		restart(t)
		checkWholeTransactions(t, c, src, dst, flush)
		r = kferry(t, runOpts{timeout: 2 * time.Minute}, args...)
		mustSucceed(t, r)
		checkCopied(t, c, src, dst)
	})
	t.Run("export-follow-rejoins", func(t *testing.T) {
		out, dir := fileURL(t)
		const group = "down-follow"
		p := startKferry(t, runOpts{}, "export", "--follow", "--brokers", rk.Bootstrap(), "--topics", strings.Join(src.topics, ","), "--to", out,
			"--group", group, "--flush-size", strconv.Itoa(flush), "--store-keys", "--rotate-interval", "500ms", "--session-timeout", "3s", "--timeout", "1s")
		waitUntil(t, p, "30 objects in the bucket", time.Minute, func(context.Context) (bool, error) {
			n, err := countValueObjects(dir)
			return n >= 30, err
		})
		node.Kill()
		// Down until kferry has noticed (a warning, or its end, which fails
		// the wait): longer than its 1 s timeout.
		waitUntil(t, p, "kferry to notice the broker is gone", time.Minute, func(context.Context) (bool, error) {
			return strings.Contains(p.stderr.String(), "level=WARN") || strings.Contains(p.stderr.String(), "level=ERROR"), nil
		})
		restart(t)
		waitUntil(t, p, "every offset committed to group "+group, 2*time.Minute, func(ctx context.Context) (bool, error) {
			n, err := adm.committed(ctx, group, src.topics)
			return n == int64(src.total()), err
		})
		terminate(t, p, 40*time.Second)
		logFaults(t, p)
		checkExported(t, out, src)
	})
}

// migrateFollowArgs are the flags of a migrate --follow run between two
// clusters through a fresh bucket: small objects (many transactions on the
// target), short group sessions and quick polls, so that a run is seen in its
// middle and a broker restart is noticed soon.
func migrateFollowArgs(t *testing.T, source, target, topics string) []string {
	url, _ := fileURL(t)
	return []string{"migrate", "--follow", "--source-brokers", source, "--target-brokers", target, "--topics", topics,
		"--via", url, "--rotate-bytes", "64KiB", "--rotate-interval", "500ms", "--poll-interval", "300ms",
		"--session-timeout", "3s", "--metadata-max-age", "1s"}
}

// brokers is the bootstrap list of the cluster's nodes.
func (tr *trio) brokers() string { return strings.Join(tr.addrs, ",") }

// waitCommitted waits until the copies of d's topics on a's cluster (rename
// maps a topic to its copy) hold frac of the records read_committed, as far
// as the last stable offsets tell.
func waitCommitted(t *testing.T, p *proc, a *admin, d lfData, rename func(string) string, frac float64) {
	t.Helper()
	var dst []string
	for _, s := range d.topics {
		dst = append(dst, rename(s))
	}
	want := int64(frac * float64(d.total()))
	waitUntil(t, p, fmt.Sprintf("%d records committed on the target", want), time.Minute, func(ctx context.Context) (bool, error) {
		n, err := a.stableEnd(ctx, dst)
		return n >= want, err
	})
}

// waitCopied waits until c holds at least frac of d's records read_committed
// in the copies of its topics, counting them.
func waitCopied(t *testing.T, p *proc, c cluster, d lfData, rename func(string) string, frac float64) {
	t.Helper()
	want := int(frac * float64(d.total()))
	waitUntil(t, p, fmt.Sprintf("%d records on the target", want), 2*time.Minute, func(ctx context.Context) (bool, error) {
		n := 0
		for _, s := range d.topics {
			err := kafkatest.EachRecord(ctx, c.Config(), rename(s), func(*record.Record) error { n++; return nil })
			if err != nil {
				return false, err
			}
		}
		return n >= want, nil
	})
}

// mustExit0 waits for a run to end by itself and wants exit 0.
func mustExit0(t *testing.T, p *proc) {
	t.Helper()
	if code := waitExit(t, p, 3*time.Minute); code != 0 {
		t.Fatalf("exit %d, want 0\n%s", code, p)
	}
	t.Logf("exit 0 after %s", time.Since(p.start).Round(time.Millisecond))
	logFaults(t, p)
}

// logFaults logs the warnings and errors a run printed: how it met the fault.
func logFaults(t *testing.T, p *proc) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			lines = append(lines, l[:min(len(l), 400)])
		}
	}
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more", len(lines)-10))
	}
	t.Logf("%d warnings and errors:\n%s", len(lines), strings.Join(lines, "\n"))
}

// checkWholeTransactions checks what an interrupted exactly-once run left on
// c: each copied partition holds, read_committed, the first k records of its
// source in order, with k a multiple of per (the records of one transaction):
// nothing of a transaction that did not commit.
func checkWholeTransactions(t *testing.T, c cluster, d lfData, rename func(string) string, per int) {
	t.Helper()
	total := 0
	for _, src := range d.topics {
		dst := rename(src)
		got := readTopics(t, c.Config(), []string{dst})[dst]
		for p := range int32(lfPartitions) {
			for i := range got[p] {
				topic, sp, n, ok := lfOrigin(&got[p][i])
				if !ok || topic != src || sp != p || n != i {
					t.Errorf("%s/%d: record %d is source record %s/%d #%d (ok %v), want #%d", dst, p, i, topic, sp, n, ok, i)
					break
				}
			}
			if k := len(got[p]); k%per != 0 && k != d.perPart {
				t.Errorf("%s/%d: %d records: part of a transaction of %d", dst, p, k, per)
			}
			total += len(got[p])
		}
	}
	t.Logf("the interrupted import left %d of %d records, in whole transactions", total, d.total())
}

// countValueObjects counts the JSON values objects (not .keys) under dir.
func countValueObjects(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a temporary file renamed meanwhile
		}
		if !e.IsDir() && strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".keys.json") {
			n++
		}
		return nil
	})
	return n, err
}
