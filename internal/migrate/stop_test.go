package migrate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
)

// stopAfterFirst cancels a migration when its importer has committed its
// first object.
type stopAfterFirst struct {
	importCounter
	once sync.Once
	stop context.CancelFunc
}

func (s *stopAfterFirst) ObjectImported(topic string, p int32, records, bytes int64) {
	s.importCounter.ObjectImported(topic, p, records, bytes)
	s.once.Do(s.stop)
}

type stopMetrics struct{ imp *stopAfterFirst }

func (c stopMetrics) ExportSide() pipeline.FollowMetrics { return nil }
func (c stopMetrics) ImportSide() pipeline.ImportMetrics { return c.imp }
func (c stopMetrics) Lag(string, int32, int64, float64)  {}
func (c stopMetrics) GroupOffsetsCommitted(int)          {}

// TestMigrateInterruptedSaysWhatIsLeft (issue 16.7): a one-shot migration
// stopped early (a signal) said "lag 0: the target has every record" when no
// lag had been measured yet; it says it was interrupted and how many offsets
// are not on the target, measured when it stopped.
func TestMigrateInterruptedSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	e.CreateTopic("big", 1)
	e.Produce(testkit.Records("big", 0, 400)...)
	tg := e.NewTarget()
	o := migrateOptions(e, migrate.Once, []string{"big"})
	o.LagInterval = time.Hour // no measure before the stop
	o.Export.FlushSize = 20
	o.Direct = false // one object a transaction: the stop comes halfway
	ctx, stop := context.WithCancel(e.Ctx)
	defer stop()
	m := &stopAfterFirst{stop: stop}
	o.Metrics = stopMetrics{imp: m}
	_, err := migrate.Run(ctx, e.KC, tg.KC, e.B, e.URL, o)
	got := int64(len(testkit.ValuesOn(t, e, tg, "big")))
	if got == 0 || got == 400 {
		t.Fatalf("the target holds %d of 400 records; the test wants a migration stopped halfway", got)
	}
	testkit.WantErrContains(t, err, migrate.ErrInterrupted, fmt.Sprintf("%d offsets on 1 partitions are not on the target yet (big/0:%d)", 400-got, 400-got), "run it again")
}
