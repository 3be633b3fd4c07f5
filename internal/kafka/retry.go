package kafka

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnavailable means Kafka faults that may pass (brokers not answering,
// partitions or coordinators without a leader) went on for longer than the
// timeout, so the work gave up.
var ErrUnavailable = errors.New("kafka unavailable")

// retriable runs op until it succeeds, fails with an error that Kafka does not
// mark retriable (kerr's Retriable: NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
// NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, REQUEST_TIMED_OUT…), ctx ends or
// limit has passed, backing off between tries; it returns op's last error.
// franz-go retries such errors inside a request only in some cases (offsets
// lookups while its cached metadata is old enough to be refreshed; none for a
// CONCURRENT_TRANSACTIONS answer to AddOffsetsToTxn, which a broker gives while
// the previous transaction's markers are being written), so without this a
// leader election or a coordinator moving fails the run.
func retriable(ctx context.Context, limit time.Duration, op func() error) error {
	return RetryWhile(ctx, limit, isRetriable, op)
}

// RetryWhile runs op until it succeeds, fails with an error that may does not
// accept, ctx ends or limit has passed, backing off between tries (100 ms
// doubling to 2 s, with jitter); it returns op's last error. The Schema
// Registry client (schemareg) retries its requests with it too.
func RetryWhile(ctx context.Context, limit time.Duration, may func(error) bool, op func() error) error {
	deadline := time.Now().Add(limit)
	for tries := 0; ; tries++ {
		err := op()
		if err == nil || !may(err) {
			return err
		}
		wait := backoff(tries)
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isRetriable reports whether err may pass if the request is sent again: a
// retriable Kafka error, CONCURRENT_TRANSACTIONS (not marked retriable, but a
// broker answers it while the previous transaction is being completed), a
// broken or refused connection (a broker restarting; the client looks up the
// new leader or coordinator on the next try), or a connection the broker closed
// right after a request. franz-go does not retry that last one, as it is also
// how a missing TLS or SASL setup looks; but these calls come after Dial has
// proven the setup, so here it is a restarting broker.
func isRetriable(err error) bool {
	var op *net.OpError
	var eof *kgo.ErrFirstReadEOF
	var shards *kadm.ShardErrors
	if errors.As(err, &shards) && len(shards.Errs) > 0 {
		// A request sent to every broker (ListGroups) fails for the brokers
		// that are down: it may pass when each failure may.
		for _, se := range shards.Errs {
			if !isRetriable(se.Err) {
				return false
			}
		}
		return true
	}
	return kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions) || errors.Is(err, ErrProduceStalled) ||
		kgo.IsRetryableBrokerErr(err) || (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &eof)
}

// Transient reports whether err is a Kafka fault that may pass (see
// isRetriable). Work that can start over from a durable point, such as a
// restore resuming from its committed progress, retries on it (franz-go fails
// a transactional producer for good after such a fault at InitProducerId, so
// only a new writer gets past it). A commit that ended aborted
// (ErrCommitLost) is one too.
func Transient(err error) bool { return isRetriable(err) || errors.Is(err, ErrCommitLost) }

// PauseBeforeRestart waits a little longer before each start-over after a
// Transient fault (200 ms × restarts), so a restarting broker has time to come
// back; it returns early when ctx ends.
func PauseBeforeRestart(ctx context.Context, restarts int) {
	t := time.NewTimer(time.Duration(restarts+1) * 200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
