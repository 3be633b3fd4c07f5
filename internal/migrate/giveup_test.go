package migrate_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/testkit"
)

// TestMigrateOnceGivesUpOnDeadTarget: a one-shot migration whose target
// cluster goes away and stays away past the timeout ends with
// kafka.ErrUnavailable and one line that says to run it again, as import
// does. Its sides retry at every scan, and before it ran until its context
// ended (target gone after the first commit), or ended at once with the bare
// error of the importer's check of the new topics' targets (target gone
// before the importer saw the first objects), which an import --follow or a
// migrate --follow, services, must ride out too.
func TestMigrateOnceGivesUpOnDeadTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		// dies reports, after an importer's scan, whether the target
		// should go away now.
		dies func(t *testing.T, e *testkit.Env, tcfg kafka.Config, scan int) bool
		// slowSource throttles the source, so that the first scan cannot
		// find every object exported already (under load it did, and the
		// migration finished before the target went away).
		slowSource bool
	}{
		{"after the first commit", func(t *testing.T, e *testkit.Env, tcfg kafka.Config, _ int) bool {
			kc, err := kafka.Dial(e.Ctx, tcfg)
			if err != nil {
				return false // already closed
			}
			defer kc.Close()
			ends := testkit.EndOffsets(t, e.Ctx, kc, "t")
			return ends[0]+ends[1] > 0
		}, false},
		{"after the first scan", func(*testing.T, *testkit.Env, kafka.Config, int) bool { return true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testkit.New(t, "mem")
			e.CreateTopic("t", 2)
			e.Produce(testkit.Records("t", 0, 300)...)
			e.Produce(testkit.Records("t", 1, 300)...)
			tg := e.NewTarget()
			tcfg := tg.Cluster.Config() // a closed kfake cluster does not answer Config
			scfg := e.Cluster.Config()
			if tc.slowSource {
				scfg.Limit = kafka.NewRateLimit(4 << 10) // the 600 records take seconds to export
			}
			src, dst := dial(t, e, scfg), dial(t, e, tcfg)
			o := migrateOptions(e, migrate.Once, []string{"t"})
			// Records through objects only: the lane would copy them all
			// before a scan saw one, and the run end before the target dies.
			o.Direct = false
			var once sync.Once
			o.Import.AfterScan = func(scan int) {
				if tc.dies(t, e, tcfg, scan) {
					once.Do(tg.Cluster.Close)
				}
			}
			_, err := migrate.Run(e.Ctx, src, dst, e.B, e.URL, o)
			if !errors.Is(err, kafka.ErrUnavailable) {
				t.Fatalf("migrate once with its target gone: %v, want kafka.ErrUnavailable", err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "run the same command") || !strings.Contains(msg, "--target-timeout 1s") {
				t.Errorf("error %q: want one line naming the timeout and saying to run the same command", msg)
			}
		})
	}
}

// dial connects to a cluster with a 1 s Kafka timeout, so that giving up
// comes soon.
func dial(t *testing.T, e *testkit.Env, cfg kafka.Config) *kafka.Client {
	t.Helper()
	cfg.Timeout = time.Second
	kc, err := kafka.Dial(e.Ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return kc
}
