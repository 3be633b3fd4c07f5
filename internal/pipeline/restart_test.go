package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/testkit"
)

// TestRestartOnTransientCountsRunsOfFaults: a partition gives up after
// PartitionRestarts restarts in a row that commit nothing, but faults between
// which it committed are separate runs of faults: a long import that meets
// brief faults far apart (a rolling restart of the brokers) must not add them
// up and give up with "kafka unavailable" while Kafka answers.
func TestRestartOnTransientCountsRunsOfFaults(t *testing.T) {
	t.Parallel()
	tp := kafka.TopicPartition{Topic: "t"}
	fault := fmt.Errorf("flush: %w", kafka.ErrProduceStalled)
	for _, tc := range []struct {
		name     string
		progress bool
		want     error
		calls    int
	}{
		{"each attempt commits", true, nil, 2 * pipeline.PartitionRestarts},
		{"no attempt commits", false, kafka.ErrUnavailable, pipeline.PartitionRestarts + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := pipeline.RestartOnTransient(context.Background(), testkit.DiscardLogger(), "import", tp, time.Nanosecond, func() (bool, error) {
				calls++
				if calls == 2*pipeline.PartitionRestarts {
					return true, nil
				}
				return tc.progress, fault
			})
			if !errors.Is(err, tc.want) || calls != tc.calls {
				t.Fatalf("after %d attempts: %v, want %v after %d", calls, err, tc.want, tc.calls)
			}
		})
	}
}
