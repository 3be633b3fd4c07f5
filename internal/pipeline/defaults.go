package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

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

// MinSlotParallelism is how many transactional slots (TxnSlot) import and
// restore write at once by default at the least: a slot's writer mostly waits
// on round trips (its producer id, metadata, the commit), so on a machine of
// few CPUs twice their number leaves the network idle (2,000 partitions × 50
// records on kfake, 2 CPUs: 4.1 s with 4 slots at once, 2.5 s with 8, at
// about the same memory).
const MinSlotParallelism = 8

// SlotParallelism is n, or by default Parallelism's default and at least
// MinSlotParallelism.
func SlotParallelism(n int) int {
	if n > 0 {
		return n
	}
	return max(Parallelism(0), MinSlotParallelism)
}

// Logger is l, or slog.Default() when l is nil.
func Logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

// PartitionRestarts is how often one partition starts over after Kafka faults
// before it may give up (see RestartOnTransient).
const PartitionRestarts = 5

// RestartOnTransient runs once for one partition of a job (what: "import",
// "restore") and, when a Kafka fault interrupts it (a commit whose outcome the
// client cannot confirm after a broker restart, a coordinator that moved away,
// brokers that do not answer), runs it again from the progress committed so
// far, exactly as a rerun would: the new writer fences the old transaction.
// It gives up once the partition has started over PartitionRestarts times and
// the faults have lasted timeout (the Kafka timeout, --timeout; the default
// when 0) since the first: a broker that restarts within the timeout is waited
// for, one that stays away longer ends the run with kafka.ErrUnavailable.
// Other errors and a cancelled ctx end it at once. once reports whether it
// committed anything before it failed: such a fault starts a new run of faults,
// so that a long job meeting brief faults hours apart (a rolling restart of
// the brokers) does not add them up and give up while Kafka answers.
func RestartOnTransient(ctx context.Context, log *slog.Logger, what string, tp kafka.TopicPartition, timeout time.Duration, once func() (progressed bool, err error)) error {
	if timeout <= 0 {
		timeout = kafka.DefaultTimeout
	}
	var first time.Time
	for restarts := 0; ; restarts++ {
		progressed, err := once()
		if err == nil || ctx.Err() != nil || !kafka.Transient(err) {
			return err
		}
		if progressed {
			restarts, first = 0, time.Time{}
		}
		if first.IsZero() {
			first = time.Now()
		}
		if faulty := time.Since(first); restarts >= PartitionRestarts && faulty >= timeout {
			return fmt.Errorf("%w: %s of %s gave up after %d restarts over %s (--timeout %s): %w; once the brokers answer again, run the same command: it resumes from the committed progress",
				kafka.ErrUnavailable, what, tp, restarts, faulty.Round(100*time.Millisecond), timeout, err)
		}
		log.Warn(what+" interrupted by a Kafka fault; resuming from the committed progress", "topic", tp.Topic, "partition", tp.Partition, "error", err.Error())
		kafka.PauseBeforeRestart(ctx, restarts)
	}
}
