package backup_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

// TestBackupAndRestoreFollow: backup --follow writes a manifest per round with
// new data (none while nothing changes), and restore --follow on a second
// cluster applies each new backup as it appears, resuming where the previous
// one ended: the target ends with every record once and the group offsets of
// the newest backup.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestBackupAndRestoreFollow(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("ledger", 2)
	tg := e.NewTarget()
	produce := func(round, n int) {
		var recs []record.Record
		for i := range n {
			recs = append(recs, record.Record{Topic: "ledger", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i),
				Value: fmt.Appendf(nil, "r%d-%d", round, i), Headers: []record.Header{{Key: "round", Value: fmt.Appendf(nil, "%d", round)}},
				Timestamp: time.UnixMilli(1_700_000_000_000 + int64(round*1000+i))})
		}
		e.Produce(recs...)
	}
	produce(1, 30)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "billing", "ledger", map[int32]int64{0: 4, 1: 15})

	var mu sync.Mutex
	var backups []string // manifest ids after each backup round
	restored := ""
	// park, when set, holds the backup after its next round until the test
	// closes the channel it receives: see produce(2, …) below.
	var park chan chan struct{}
	ctx, stop := context.WithCancel(e.Ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err := backup.BackupFollow(ctx, e.KC, e.B, e.URL, backup.BackupFollowOptions{
			BackupOptions: backup.BackupOptions{Selector: plan.Selector{Names: []string{"ledger"}}, Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir, Pad: layout.DefaultPad}, FlushSize: 7, Logger: testkit.DiscardLogger()},
			Interval:      50 * time.Millisecond,
			AfterRound: func(_ int, m *manifest.Manifest) {
				mu.Lock()
				backups = append(backups, m.ID)
				hold := park
				park = nil
				mu.Unlock()
				if hold != nil {
					release := make(chan struct{})
					hold <- release
					select {
					case <-release:
					case <-ctx.Done():
					}
				}
			},
		})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := backup.RestoreFollow(ctx, tg.KC, e.B, e.URL, backup.RestoreFollowOptions{
			RestoreOptions: backup.RestoreOptions{Logger: testkit.DiscardLogger(), ProgressGroup: backup.RestoreFollowGroup(e.URL, plan.Selector{}, nil)},
			PollInterval:   50 * time.Millisecond,
			AfterRound: func(_ int, id string) {
				mu.Lock()
				defer mu.Unlock()
				restored = id
			},
		})
		errs <- err
	}()
	// restoredAll waits until the target holds n records and the restore has
	// applied the newest backup.
	restoredAll := func(n int) {
		testkit.WaitFor(t, e.Ctx, fmt.Sprintf("%d records restored", n), func() (bool, error) {
			mu.Lock()
			newest := ""
			if len(backups) > 0 {
				newest = backups[len(backups)-1]
			}
			done := restored != "" && restored == newest
			mu.Unlock()
			if !done {
				return false, nil
			}
			return len(testkit.TopicRecordsOn(e, tg, "ledger")) == n, nil
		})
	}
	restoredAll(30)

	// Rounds with nothing new write no manifest.
	mu.Lock()
	seen := len(backups)
	mu.Unlock()
	testkit.WaitFor(t, e.Ctx, "idle backup rounds", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(backups) >= seen+3, nil
	})
	ids, err := catalog.ListBackups(e.Ctx, e.B)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Errorf("%d manifests after idle rounds, want 1: %v", len(ids), ids)
	}

	// The records and the group's offsets go in between two rounds, so that
	// one round sees both: a round between them would rightly write a manifest
	// for the records and another for the offsets.
	parked := make(chan chan struct{}, 1)
	mu.Lock()
	park = parked
	mu.Unlock()
	var release chan struct{}
	select {
	case release = <-parked:
	case <-e.Ctx.Done():
		t.Fatal("the backup did not finish a round")
	}
	produce(2, 24)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "billing", "ledger", map[int32]int64{0: 20, 1: 27})
	close(release)
	restoredAll(54)
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	src := testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), "ledger")
	dst := testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "ledger")
	ends := testkit.EndOffsets(t, e.Ctx, tg.KC, "ledger")
	got, err := tg.KC.CommittedOffsets(e.Ctx, "billing", []string{"ledger"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 20, 1: 27} {
		if len(src[p]) != len(dst[p]) {
			t.Fatalf("partition %d: %d records restored of %d", p, len(dst[p]), len(src[p]))
		}
		for i := range src[p] {
			if a, b := testkit.FullOf(&src[p][i]), testkit.FullOf(&dst[p][i]); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("partition %d record %d = %v, want %v", p, i, b, a)
			}
		}
		if at := testkit.WantTarget(t, src[p], dst[p], ends[p], want); got["ledger"][p] != at {
			t.Errorf("group billing on ledger/%d = %d, want %d (source offset %d)", p, got["ledger"][p], at, want)
		}
	}
	if ids, _ := catalog.ListBackups(e.Ctx, e.B); len(ids) != 2 {
		t.Errorf("manifests: %v, want 2 (one per round with new data)", ids)
	}
}
