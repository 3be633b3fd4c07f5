package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestIsRetriable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.NotLeaderForPartition, true},
		{fmt.Errorf("commit: %w", kerr.NotCoordinator), true},
		{kerr.CoordinatorLoadInProgress, true},
		{kerr.ConcurrentTransactions, true},
		{kerr.RequestTimedOut, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
		{kerr.GroupIDNotFound, false},
		{kerr.TopicAuthorizationFailed, false},
		{kerr.InvalidProducerEpoch, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	} {
		if got := isRetriable(tc.err); got != tc.want {
			t.Errorf("isRetriable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetriable(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := retriable(ctx, 10*time.Second, func() error {
		if calls++; calls < 3 {
			return kerr.NotLeaderForPartition
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retriable = %v after %d calls, want success after 3", err, calls)
	}

	calls = 0
	err = retriable(ctx, 10*time.Second, func() error { calls++; return kerr.TopicAuthorizationFailed })
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || calls != 1 {
		t.Errorf("a permanent error: %v after %d calls, want it after 1", err, calls)
	}

	start := time.Now()
	err = retriable(ctx, 300*time.Millisecond, func() error { return kerr.NotCoordinator })
	if !errors.Is(err, kerr.NotCoordinator) || time.Since(start) > 2*time.Second {
		t.Errorf("an error that persists: %v after %s, want it back within the limit", err, time.Since(start))
	}
}

// TestTransient: a transactional producer that failed for good because a
// restarting broker closed the connection is worth a new writer, and a closed
// connection is worth a retry of an admin call (Dial has proven TLS and SASL).
func TestTransient(t *testing.T) {
	eof := fmt.Errorf("begin transaction: producer ID has a fatal, unrecoverable error, err: %w", &kgo.ErrFirstReadEOF{})
	if !Transient(eof) || !isRetriable(eof) {
		t.Errorf("Transient(%v) = %v, isRetriable %v; want true, true", eof, Transient(eof), isRetriable(eof))
	}
	if Transient(kerr.TopicAuthorizationFailed) {
		t.Errorf("Transient(TopicAuthorizationFailed) = true")
	}
}

// TestShardErrorsRetriable: a request sent to every broker that fails only
// for a broker that refuses connections (down, restarting) may pass when
// sent again; one with a final error among its shards may not.
func TestShardErrorsRetriable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	down := &kadm.ShardErrors{Name: "ListGroups", Errs: []kadm.ShardError{{Err: refused}}}
	if !Transient(fmt.Errorf("list groups: %w", down)) {
		t.Error("ListGroups failing on a refused connection is not transient")
	}
	final := &kadm.ShardErrors{Name: "ListGroups", Errs: []kadm.ShardError{{Err: refused}, {Err: kerr.GroupAuthorizationFailed}}}
	if Transient(final) {
		t.Error("ListGroups refused by authorization is transient")
	}
}

// A member the coordinator dropped (session expired under load) or left
// behind a new generation rejoins, as a member whose coordinator moved: none
// of them ends a run. A fenced static member or a refused group does.
func TestGroupSessionLost(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&kgo.ErrGroupSession{Err: kerr.UnknownMemberID}, true},
		{&kgo.ErrGroupSession{Err: kerr.IllegalGeneration}, true},
		{&kgo.ErrGroupSession{Err: kerr.RebalanceInProgress}, true},
		{&kgo.ErrGroupSession{Err: kerr.NotCoordinator}, true},
		{fmt.Errorf("poll: %w", &kgo.ErrGroupSession{Err: kerr.CoordinatorNotAvailable}), true},
		{&kgo.ErrGroupSession{Err: kerr.FencedInstanceID}, false},
		{&kgo.ErrGroupSession{Err: kerr.GroupAuthorizationFailed}, false},
		{kerr.UnknownMemberID, false}, // not a group session's
	} {
		if got := groupSessionLost(tc.err); got != tc.want {
			t.Errorf("groupSessionLost(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
