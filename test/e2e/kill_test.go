package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/pipeline"
)

const (
	killPartitions   = 3
	killPerPartition = 4000
	killFlushSize    = 200 // 20 objects, so 20 transactions, per partition
)

// restoreBackup is one backup of a source for the restore kill tests, shared by
// its subtests.
type restoreBackup struct {
	src *source
	url string
	id  string
}

// stage is where a killed restore is stopped: it may arm the target cluster
// (stall requests) before the restore starts, and returns when the restore has
// got there.
type stage struct {
	name     string
	complete bool // killed with every record committed
	arm      func(tc *targetCluster)
	wait     func(t *testing.T, tc *targetCluster, p *proc)
}

// targetCluster is the fresh cluster one kill scenario restores into.
type targetCluster struct {
	c       holdCluster
	brokers string
	adm     *admin
	group   string
	total   int64
	// stalled counts EndTxn(commit) requests held without an answer while
	// stall is set; stallTxn, if set, holds only that transactional id's
	// stallNth commit.
	stall    atomic.Bool
	stallTxn string
	stallNth int
	// slotRecords counts the records of the partitions of stallTxn's slot.
	slotRecords int64
	stalled     atomic.Int64
	mu          sync.Mutex
	commits     map[string]int
	// stallGroup, while set, holds the plain offset commits of that group.
	stallGroup atomic.Pointer[string]
}

func newTarget(t *testing.T, b *restoreBackup) *targetCluster {
	c := newHoldCluster(t)
	brokers := withTopics(t, c, nil)
	tc := &targetCluster{c: c, brokers: brokers, adm: newAdmin(t, c), group: backup.RestoreGroup(b.id), total: int64(b.src.total), commits: map[string]int{}}
	// Every EndTxn passes through here; while stall is set the chosen commits
	// get no answer, so the restore hangs with its transactions open until it
	// is killed.
	c.Hold(kmsg.EndTxn, func(kr kmsg.Request) bool {
		req, ok := kr.(*kmsg.EndTxnRequest)
		if !ok || !req.Commit || !tc.stall.Load() {
			return false
		}
		tc.mu.Lock()
		tc.commits[req.TransactionalID]++
		n := tc.commits[req.TransactionalID]
		tc.mu.Unlock()
		if tc.stallTxn != "" && (req.TransactionalID != tc.stallTxn || n != tc.stallNth) {
			return false
		}
		tc.stalled.Add(1)
		return true
	})
	c.Hold(kmsg.OffsetCommit, func(kr kmsg.Request) bool {
		g := tc.stallGroup.Load()
		req, ok := kr.(*kmsg.OffsetCommitRequest)
		if g == nil || !ok || req.Group != *g {
			return false
		}
		tc.stalled.Add(1)
		return true
	})
	return tc
}

// progress is the sum of the restore's committed progress offsets: the number
// of records restored and committed (the source partitions start at 0).
func (tc *targetCluster) progress(ctx context.Context) (int64, error) {
	return tc.adm.committed(ctx, tc.group, backupTopics)
}

// atLeast waits until the restore committed at least frac of the records.
func atLeast(frac float64) stage {
	return stage{
		name: fmt.Sprintf("committed>=%d%%", int(frac*100)),
		wait: func(t *testing.T, tc *targetCluster, p *proc) {
			want := int64(frac * float64(tc.total))
			waitUntil(t, p, fmt.Sprintf("%d committed records", want), time.Minute, func(ctx context.Context) (bool, error) {
				n, err := tc.progress(ctx)
				return n >= want, err
			})
		},
	}
}

// topicsCreated waits until the restore created the target topics: about the
// moment it starts writing.
var topicsCreated = stage{
	name: "topics-created",
	wait: func(t *testing.T, tc *targetCluster, p *proc) {
		waitUntil(t, p, "target topics", time.Minute, func(ctx context.Context) (bool, error) {
			return tc.adm.topicsExist(ctx, backupTopics)
		})
	},
}

// openBeforeCommit holds every commit, so the restore writes its first objects
// into open transactions and commits nothing; it waits until two are open.
var openBeforeCommit = stage{
	name: "open-before-any-commit",
	arm:  func(tc *targetCluster) { tc.stall.Store(true) },
	wait: func(t *testing.T, tc *targetCluster, p *proc) {
		waitUntil(t, p, "two open transactions", time.Minute, func(ctx context.Context) (bool, error) {
			return tc.stalled.Load() >= 2, nil
		})
		if n, err := tc.progress(context.Background()); err != nil || n != 0 {
			t.Fatalf("progress %d (%v) with every commit held, want 0", n, err)
		}
	},
}

// lastOpen holds the first commit of the slot (pipeline.TxnSlot) that writes
// the last partition (orders/2): a restore writes a slot's partitions through
// one transactional id, one after the other, so that slot commits nothing
// while every other slot commits all it has, and the restore is killed with
// one transaction open.
var lastOpen = stage{
	name: "last-transaction-open",
	arm: func(tc *targetCluster) {
		slot := pipeline.TxnSlot(backupTopics[0], killPartitions-1)
		tc.stallTxn = pipeline.SlotTxnID(tc.group, pipeline.Shard{}, slot)
		tc.stallNth = 1
		for _, topic := range backupTopics {
			for p := range int32(killPartitions) {
				if pipeline.TxnSlot(topic, p) == slot {
					tc.slotRecords += killPerPartition
				}
			}
		}
		tc.stall.Store(true)
	},
	wait: func(t *testing.T, tc *targetCluster, p *proc) {
		want := tc.total - tc.slotRecords
		waitUntil(t, p, "everything but the held slot committed", time.Minute, func(ctx context.Context) (bool, error) {
			n, err := tc.progress(ctx)
			return n == want && tc.stalled.Load() == 1, err
		})
	},
}

// endGroupsHeld holds the commit of the group offsets that lie past every
// record of a partition (billing on each topic's partition 2), which the restore
// commits after the partition's last transaction: it is killed with every record
// committed and those group offsets not.
var endGroupsHeld = stage{
	name:     "records-done-end-groups-not",
	complete: true,
	arm: func(tc *targetCluster) {
		g := "billing"
		tc.stallGroup.Store(&g)
	},
	wait: func(t *testing.T, tc *targetCluster, p *proc) {
		waitUntil(t, p, "every record committed, an end-of-partition group commit held", time.Minute, func(ctx context.Context) (bool, error) {
			n, err := tc.progress(ctx)
			return n == tc.total && tc.stalled.Load() >= 1, err
		})
	},
}

// TestRestoreKilled: a restore killed with SIGKILL at different points (before any
// commit, early, in the middle, late, with only the last transaction open, after
// the last record but before the end-of-partition group offsets, and twice in a
// row) and run again ends with every record of the source exactly
// once, in order, with keys, values, headers and timestamps, and the consumer
// groups on the same records.
func TestRestoreKilled(t *testing.T) {
	t.Parallel()
	b := backupForKills(t)
	for _, tc := range []struct {
		name   string
		stages []stage
	}{
		{"topics-created", []stage{topicsCreated}},
		{"open-before-any-commit", []stage{openBeforeCommit}},
		{"early", []stage{atLeast(0.10)}},
		{"middle", []stage{atLeast(0.45)}},
		{"late", []stage{atLeast(0.80)}},
		{"last-transaction-open", []stage{lastOpen}},
		{"records-done-end-groups-not", []stage{endGroupsHeld}},
		{"twice-before-any-commit", []stage{openBeforeCommit, openBeforeCommit}},
		{"twice-early-then-late", []stage{atLeast(0.30), atLeast(0.65)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			restoreKilled(t, b, tc.stages)
		})
	}
}

// backupForKills makes the one backup every kill scenario restores: 3 topics × 3
// partitions × 4,000 records, 200 records per object.
func backupForKills(t *testing.T) *restoreBackup {
	t.Helper()
	src := newSource(t, killPartitions, killPerPartition)
	url, _ := fileURL(t)
	r := kferry(t, runOpts{timeout: 2 * time.Minute}, "backup", "--brokers", src.brokers, "--to", url, "--flush-size", strconv.Itoa(killFlushSize))
	mustSucceed(t, r)
	return &restoreBackup{src: src, url: url, id: backupID(t, r)}
}

var (
	totalRE = regexp.MustCompile(`total: (\d+) records`)
	// resumedRE finds the progress a restore resumes from on a partition
	// (the records committed there: the source partitions start at 0).
	resumedRE = regexp.MustCompile(`msg=resuming topic=\S+ partition=\d+ next_source_offset=(\d+)`)
)

func restoreKilled(t *testing.T, b *restoreBackup, stages []stage) {
	tc := newTarget(t, b)
	// Every slot at once, as before the slots: the restore reads every
	// partition's progress once, before it writes (kafka.Client.ResumeRun),
	// so on kfake, which answers UNSTABLE_OFFSET_COMMIT for a whole group
	// while any of its offsets is pending, no partition waits on a held
	// commit any more; the flag stays to write all slots at once.
	args := []string{"restore", "--from", b.url, "--brokers", tc.brokers, "--parallelism", "9"}
	for i, st := range stages {
		if st.arm != nil {
			tc.stalled.Store(0)
			st.arm(tc)
		}
		p := startKferry(t, runOpts{}, args...)
		st.wait(t, tc, p)
		p.kill(t)
		tc.stall.Store(false)
		tc.stallGroup.Store(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done, err := tc.progress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hwm, err := tc.adm.endOffsets(ctx, backupTopics)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d (%s) after %s: %d of %d records committed, %d offsets written (committed, aborted and open)",
			i+1, st.name, time.Since(p.start).Round(time.Millisecond), done, tc.total, hwm)
		if done >= tc.total && !st.complete {
			t.Fatalf("kill %d (%s): the restore had already committed everything", i+1, st.name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	before, err := tc.progress(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	r := kferry(t, runOpts{timeout: 2 * time.Minute}, args...)
	mustSucceed(t, r)
	// What the rerun resumed from: at least what was committed at the kill,
	// and more when a commit was still being completed then (Kafka finishes
	// an EndTxn the killed run had sent; the rerun's fence waits for it).
	var resumed int64
	for _, m := range resumedRE.FindAllStringSubmatch(r.stderr, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		resumed += n
	}
	if resumed < before {
		t.Errorf("the rerun resumed from %d records in all, less than the %d committed before it:\n%s", resumed, before, r)
	}
	if m := totalRE.FindStringSubmatch(r.stdout); m == nil || m[1] != strconv.FormatInt(tc.total-resumed, 10) {
		t.Errorf("the resumed restore should restore the %d records not committed when it resumed:\n%s", tc.total-resumed, r)
	}
	if !strings.Contains(r.stderr, "resuming") && before > 0 {
		t.Errorf("the resumed restore does not say it resumes:\n%s", r)
	}

	waitStable(t, tc.c.Config(), backupTopics...) // Apache Kafka writes the last commit's markers just after restore exits
	got := readTopics(t, tc.c.Config(), backupTopics)
	for _, problem := range compareRecords(b.src.records, got) {
		t.Error(problem)
	}
	checkGroups(t, b.src, tc.c.Config(), got)
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := tc.progress(ctx); err != nil || n != tc.total {
		t.Errorf("progress group %s sums to %d (%v), want %d", tc.group, n, err, tc.total)
	}
}

// TestBackupKilled: a backup killed with SIGKILL while it writes objects leaves no
// manifest, and its rerun writes a complete backup that verify accepts, with no
// duplicate objects; the same for an incremental backup killed on top of a
// complete one; a restore of the result is exactly the source.
func TestBackupKilled(t *testing.T) {
	t.Parallel()
	const flush = 500
	src := newSource(t, 3, 11112) // 100,008 records, 207 objects
	url, dir := fileURL(t)
	args := []string{"backup", "--brokers", src.brokers, "--to", url, "--flush-size", strconv.Itoa(flush)}

	// Full backup, killed with about a third of its objects written.
	p := startKferry(t, runOpts{}, args...)
	waitUntil(t, p, "70 objects and no manifest", time.Minute, func(context.Context) (bool, error) {
		objs, ids, err := bucketFiles(dir)
		return len(objs) >= 70 && len(ids) == 0, err
	})
	p.kill(t)
	objs, ids, err := bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup killed after %s with %d objects written", time.Since(p.start).Round(time.Millisecond), len(objs))
	if len(ids) != 0 {
		t.Fatalf("a killed backup left manifests %v", ids)
	}
	wantError(t, kferry(t, runOpts{}, "restore", "--from", url, "--brokers", src.brokers), 1, "no backup")

	r := kferry(t, runOpts{timeout: 2 * time.Minute}, args...)
	mustSucceed(t, r)
	first := backupID(t, r)
	checkBackup(t, dir, first, "", src)
	mustVerify(t, url, first)

	// Incremental backup on top, killed with some of its new objects written.
	src.grow(t, 2000) // 18,000 more records, 36 more objects
	objs, _, err = bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := len(objs)
	p = startKferry(t, runOpts{}, args...)
	waitUntil(t, p, "10 new objects and no second manifest", time.Minute, func(context.Context) (bool, error) {
		objs, ids, err := bucketFiles(dir)
		return len(objs) >= before+10 && len(ids) == 1, err
	})
	p.kill(t)
	objs, ids, err = bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental backup killed after %s with %d of 36 new objects written", time.Since(p.start).Round(time.Millisecond), len(objs)-before)
	if len(ids) != 1 {
		t.Fatalf("a killed backup left manifests %v", ids)
	}
	r = kferry(t, runOpts{timeout: 2 * time.Minute}, args...)
	mustSucceed(t, r)
	second := backupID(t, r)
	if !strings.Contains(r.stdout, "(parent "+first+")") {
		t.Errorf("the rerun of the incremental backup does not name its parent %s:\n%s", first, r)
	}
	if m := totalRE.FindStringSubmatch(r.stdout); m == nil || m[1] != "18000" {
		t.Errorf("the incremental backup should read only the 18000 new records:\n%s", r)
	}
	checkBackup(t, dir, second, first, src)
	mustVerify(t, url, second)
	ls := kferry(t, runOpts{}, "ls", url)
	mustSucceed(t, ls)
	for _, id := range []string{first, second} {
		if !strings.Contains(ls.stdout, id) {
			t.Errorf("ls does not list backup %s:\n%s", id, ls)
		}
	}

	target, brokers := newCluster(t, nil)
	mustSucceed(t, kferry(t, runOpts{timeout: 2 * time.Minute}, "restore", "--from", url, "--brokers", brokers))
	got := readTopics(t, target.Config(), backupTopics)
	for _, problem := range compareRecords(src.records, got) {
		t.Error(problem)
	}
	checkGroups(t, src, target.Config(), got)
}
