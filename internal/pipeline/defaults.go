package pipeline

import (
	"context"
	"log/slog"
	"runtime"

	"github.com/kferry/kferry/internal/kafka"
)

// Parallelism is n, or the default when n ≤ 0: two partitions per CPU, as a
// partition's worker waits on the network more than it computes.
func Parallelism(n int) int {
	if n > 0 {
		return n
	}
	return runtime.NumCPU() * 2
}

// Logger is l, or slog.Default() when l is nil.
func Logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

// PartitionRestarts bounds how often one partition starts over after a Kafka
// fault (see RestartOnTransient).
const PartitionRestarts = 5

// RestartOnTransient runs once for one partition of a job (what: "import",
// "restore") and, when a Kafka fault interrupts it (a commit whose outcome the
// client cannot confirm after a broker restart, a coordinator that moved away),
// runs it again from the progress committed so far, exactly as a rerun would:
// the new writer fences the old transaction. Other errors, a cancelled ctx and
// the PartitionRestarts-th fault end it.
func RestartOnTransient(ctx context.Context, log *slog.Logger, what string, tp kafka.TopicPartition, once func() error) error {
	for restarts := 0; ; restarts++ {
		err := once()
		if err == nil || restarts == PartitionRestarts || ctx.Err() != nil || !kafka.Transient(err) {
			return err
		}
		log.Warn(what+" interrupted by a Kafka fault; resuming from the committed progress", "topic", tp.Topic, "partition", tp.Partition, "error", err.Error())
		kafka.PauseBeforeRestart(ctx, restarts)
	}
}
