package migrate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// valuesObjects counts the objects of topic's records in the bucket (not its
// description or sidecars).
func valuesObjects(e *testkit.Env, topic string) int {
	n := 0
	for k := range e.Objects() {
		if strings.HasPrefix(k, "topics/"+topic+"/partition=") && strings.Contains(k, "/"+topic+"+") {
			n++
		}
	}
	return n
}

// TestMigrateDirectBeforeObjects: with Direct, records reach the target while
// their object is still open (rotation an hour away): the first ones before
// any object of the partition exists, later ones past a completed object;
// stopping then uploads the open object without writing its records twice.
func TestMigrateDirectBeforeObjects(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("live", 1)
	tg := e.NewTarget()
	o := migrateOptions(e, migrate.Follow, []string{"live"})
	o.Groups = nil
	o.Export.FlushSize, o.Export.RotateInterval = 5, time.Hour
	o.Import.PollInterval = time.Hour // only objects and new partitions wake a scan
	ctx, stop := context.WithCancel(e.Ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := migrate.Run(ctx, e.KC, tg.KC, e.B, e.URL, o)
		done <- err
	}()
	recs := testkit.Records("live", 0, 7)
	want := func(onTarget, objects int) {
		t.Helper()
		waitTarget(t, e, tg, "live", onTarget)
		if n := valuesObjects(e, "live"); n != objects {
			t.Fatalf("%d objects in the bucket with %d records on the target, want %d", n, onTarget, objects)
		}
	}
	e.Produce(recs[:3]...)
	want(3, 0)
	e.Produce(recs[3:5]...) // completes the first object (5 records)
	waitTarget(t, e, tg, "live", 5)
	e.Produce(recs[5:]...)
	want(7, 1)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("follow: %v", err)
	}
	if n := valuesObjects(e, "live"); n != 2 {
		t.Errorf("%d objects after the stop, want 2 (the open one uploaded)", n)
	}
	checkMigrated(t, e, tg, "live", "live", nil)

	// A rerun imports the second object from the bucket: all of it lies below
	// the progress the lane committed, so nothing is written again.
	o = migrateOptions(e, migrate.Once, []string{"live"})
	o.Groups = nil
	if s, err := migrate.Run(e.Ctx, e.KC, tg.KC, e.B, e.URL, o); err != nil || s.Records != 0 {
		t.Fatalf("rerun: %d records, %v; want 0, nil", s.Records, err)
	}
	checkMigrated(t, e, tg, "live", "live", nil)
}

// waitTarget waits until the target topic holds n records.
func waitTarget(t *testing.T, e *testkit.Env, tg *testkit.Target, topic string, n int) {
	t.Helper()
	testkit.WaitFor(t, e.Ctx, "records on the target", func() (bool, error) {
		var got []record.Record
		for _, recs := range testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), topic) {
			got = append(got, recs...)
		}
		return len(got) >= n, nil
	})
}
