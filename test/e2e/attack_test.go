package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// TestMigrateRerunAfterKillNothingLeft: a one-shot migrate is finished, then a
// run of it is SIGKILLed while it sits in the source group, and the same
// command runs again. The killed member stays in the group until its session
// times out, so the rerun's exporter is still joining when the migration finds
// nothing left to copy; leaving the group then waits out the shutdown timeout.
// Nothing was open, nothing is lost: the rerun must exit 0, not fail with
// "shutdown timed out ...: nothing was open".
func TestMigrateRerunAfterKillNothingLeft(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := pickCluster(t)
	dst := pickCluster(t)
	const topic = "atk"
	if err := src.CreateTopic(ctx, topic, 2); err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for i := range 200 {
		recs = append(recs, record.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))})
	}
	if err := src.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	args := []string{"migrate", "--source-brokers", strings.Join(src.ListenAddrs(), ","), "--target-brokers", strings.Join(dst.ListenAddrs(), ","),
		"--topics", topic, "--rename", topic + "=" + topic + "-copy", "--via", url, "--shutdown-timeout", "5s", "--session-timeout", "45s"}
	mustSucceed(t, kferry(t, runOpts{}, args...))

	p := startKferry(t, runOpts{}, args...)
	adm := newAdmin(t, src)
	waitUntil(t, p, "the run to be a member of its source group", time.Minute, func(ctx context.Context) (bool, error) {
		n, err := adm.members(ctx, "kferry-migrate-")
		return n > 0, err
	})
	p.kill(t)

	r := kferry(t, runOpts{}, args...)
	mustSucceed(t, r)
	got, err := dst.ReadAll(ctx, topic+"-copy")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got[0]) + len(got[1]); n != len(recs) {
		t.Fatalf("target holds %d records, want %d", n, len(recs))
	}
}
