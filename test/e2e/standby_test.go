package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// TestBackupRestoreFollowStandby runs `backup --follow` on a source and
// `restore --follow` on a standby cluster from the same bucket while records
// arrive in two bursts: the standby catches up after each, both processes exit
// 0 on SIGTERM, and the standby holds every record once with its key, headers
// and timestamp.
func TestBackupRestoreFollowStandby(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := pickCluster(t)
	dst := pickCluster(t)
	if err := src.CreateTopic(ctx, "ledger", 3); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	// Recent timestamps: Kafka deletes records stamped before its retention
	// (7 days) within seconds, on the source and on the standby alike.
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	burst := func(round, n int) {
		var recs []record.Record
		for i := range n {
			recs = append(recs, record.Record{Topic: "ledger", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i),
				Value: fmt.Appendf(nil, "r%d-%d", round, i), Headers: []record.Header{{Key: "round", Value: fmt.Appendf(nil, "%d", round)}},
				Timestamp: base.Add(time.Duration(round*10_000+i) * time.Millisecond)})
		}
		if err := src.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	burst(1, 300)
	backup := startKferry(t, runOpts{}, "backup", "--follow", "--interval", "200ms", "--brokers", strings.Join(src.ListenAddrs(), ","), "--topics", "ledger", "--to", url)
	restore := startKferry(t, runOpts{}, "restore", "--follow", "--poll-interval", "200ms", "--brokers", strings.Join(dst.ListenAddrs(), ","), "--from", url)
	standbyHas := func(n int) {
		waitUntil(t, restore, fmt.Sprintf("%d records on the standby", n), time.Minute, func(ctx context.Context) (bool, error) {
			if backup.exited() {
				return false, fmt.Errorf("backup --follow ended: %s", backup)
			}
			recs, err := dst.ReadAll(ctx, "ledger")
			total := 0
			for _, r := range recs {
				total += len(r)
			}
			return err == nil && total == n, err
		})
	}
	standbyHas(300)
	burst(2, 450)
	standbyHas(750)
	for _, p := range []*proc{backup, restore} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-p.done
		if p.err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", p.err, p)
		}
	}
	want := readPartitions(t, ctx, src, "ledger")
	got := readPartitions(t, ctx, dst, "ledger")
	for p, recs := range want {
		if len(got[p]) != len(recs) {
			t.Fatalf("partition %d: %d records on the standby, want %d", p, len(got[p]), len(recs))
		}
		for i := range recs {
			a, b := recs[i], got[p][i]
			if string(a.Key) != string(b.Key) || string(a.Value) != string(b.Value) || !a.Timestamp.Equal(b.Timestamp) || fmt.Sprint(a.Headers) != fmt.Sprint(b.Headers) {
				t.Fatalf("partition %d record %d: standby %s=%s %v @%v, source %s=%s %v @%v", p, i, b.Key, b.Value, b.Headers, b.Timestamp, a.Key, a.Value, a.Headers, a.Timestamp)
			}
		}
	}
}
