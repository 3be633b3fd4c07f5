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
// cluster goes away in the middle (after the first records are committed
// there) and stays away past the timeout ends with kafka.ErrUnavailable and
// one line that says to run it again, as import does; its sides retry at every
// scan, and before it kept running until its context ended.
func TestMigrateOnceGivesUpOnDeadTarget(t *testing.T) {
	e := testkit.New(t, "mem")
	e.CreateTopic("t", 2)
	e.Produce(testkit.Records("t", 0, 300)...)
	e.Produce(testkit.Records("t", 1, 300)...)
	tg := e.NewTarget()
	tcfg := tg.Cluster.Config() // a closed kfake cluster does not answer Config
	src, dst := dial(t, e, e.Cluster.Config()), dial(t, e, tcfg)
	o := migrateOptions(e, migrate.Once, []string{"t"})
	var once sync.Once
	o.Import.AfterScan = func(int) {
		// Once a scan has committed records (so the importer has prepared
		// its targets), the target dies.
		kc, err := kafka.Dial(e.Ctx, tcfg)
		if err != nil {
			return // already closed
		}
		defer kc.Close()
		if ends := testkit.EndOffsets(t, e.Ctx, kc, "t"); ends[0]+ends[1] > 0 {
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
