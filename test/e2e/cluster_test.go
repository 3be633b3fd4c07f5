package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// cluster is a Kafka cluster that one test has to itself, empty when the test
// gets it: three kfake brokers in this process, or, when KFERRY_TEST_KAFKA=1,
// an Apache Kafka broker leased from the pool TestMain starts, emptied again
// when the test ends (pool_test.go). newCluster is the one place that
// picks which; the tests see only this interface.
//
// Every method may be called from any goroutine. Methods that change topics
// return once every broker knows the change (a real broker learns of a new
// topic a moment after CreateTopics answers; kfake at once).
type cluster interface {
	// ListenAddrs are the addresses kferry and kcat bootstrap from.
	ListenAddrs() []string
	// Config reaches the cluster with internal/kafka.
	Config() kafka.Config
	// CreateTopic creates a topic with the broker's default configs.
	CreateTopic(ctx context.Context, topic string, partitions int32) error
	// CreateTopicConfigs creates a topic with configs (cleanup.policy, ...).
	CreateTopicConfigs(ctx context.Context, topic string, partitions int32, configs map[string]string) error
	// DeleteTopic deletes a topic and waits until the brokers forget it.
	DeleteTopic(topic string) error
	// AddPartitions grows topic to total partitions.
	AddPartitions(ctx context.Context, topic string, total int) error
	// Produce writes recs, each into the partition it names, in order, with
	// their timestamps when set, and waits for every acknowledgement.
	Produce(ctx context.Context, recs []record.Record) error
	// ProduceTxn writes recs in one transaction under txnID and commits it,
	// or aborts it when commit is false; the markers are written on return.
	ProduceTxn(ctx context.Context, txnID string, recs []record.Record, commit bool) error
	// ReadAll returns every committed record of topic (read_committed), per
	// partition, in offset order.
	ReadAll(ctx context.Context, topic string) (map[int32][]record.Record, error)
	// DeleteRecordsBefore advances a partition's log start to offset, as
	// retention would.
	DeleteRecordsBefore(ctx context.Context, topic string, partition int32, offset int64) error
	// Compact has the broker compact topic (cleanup.policy=compact) and
	// returns once the topic holds want records, or fails: kfake compacts
	// when asked, Kafka's log cleaner on its own schedule, which Compact
	// waits for. Neither compacts the batch written last: kfake keeps it,
	// Kafka's active segment holds it (the topic must roll a segment per
	// batch for the two to agree: segment.ms shorter than the time between
	// the batches' timestamps).
	Compact(ctx context.Context, topic string, want int) error
}

// holdCluster is a cluster that can leave requests unanswered, as a stalled
// broker would: the kill tests hold commits to stop kferry at chosen points.
type holdCluster interface {
	cluster
	// Hold leaves every later request of kind key for which match is true
	// without an answer, for the rest of the cluster's life (on Kafka, what
	// the client sends after it on that connection waits too, as behind a
	// stalled broker). match runs for every request of that kind, from the
	// cluster's goroutines.
	Hold(key kmsg.Key, match func(kmsg.Request) bool)
}

// newCluster starts or leases an empty cluster for the test (see cluster),
// creates topics with the given partition counts, and returns it with its
// bootstrap list for kcat and kferry. The test's cleanup stops or empties it.
func newCluster(t *testing.T, topics map[string]int32) (cluster, string) {
	t.Helper()
	c := pickCluster(t)
	return c, withTopics(t, c, topics)
}

// withTopics creates topics with the given partition counts on c and returns
// its bootstrap list.
func withTopics(t *testing.T, c cluster, topics map[string]int32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, n := range topics {
		if err := c.CreateTopic(ctx, name, n); err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
	}
	return strings.Join(c.ListenAddrs(), ",")
}

// newHoldCluster is newCluster, empty, for a test that holds requests. On a
// real broker kferry then reaches it through a proxy that holds them.
func newHoldCluster(t *testing.T) holdCluster {
	t.Helper()
	if brokers.real() {
		return brokers.leaseHold(t)
	}
	return newFakeCluster(t)
}

// pickCluster is the choice of newCluster: a leased real broker when the
// tests run on Apache Kafka, else a fresh kfake cluster.
func pickCluster(t *testing.T) cluster {
	t.Helper()
	if brokers.real() {
		return brokers.lease(t)
	}
	return newFakeCluster(t)
}

// fakeCluster is a 3-broker kfake cluster in this process.
type fakeCluster struct {
	*kafkatest.Cluster
}

var _ holdCluster = fakeCluster{}

// newFakeCluster starts a kfake cluster for the test. Sessions may be as short
// as 1 s (kfake's default minimum, like Kafka's, is 6 s): the follow tests
// kill group members and wait out their 3 s sessions.
func newFakeCluster(t *testing.T) fakeCluster {
	t.Helper()
	return fakeCluster{kafkatest.NewCluster(t, kfake.GroupMinSessionTimeout(time.Second))}
}

func (c fakeCluster) CreateTopicConfigs(_ context.Context, topic string, partitions int32, configs map[string]string) error {
	return c.Cluster.Cluster.CreateTopic(topic, partitions, configs)
}

func (c fakeCluster) Compact(ctx context.Context, topic string, want int) error {
	c.Cluster.Compact()
	parts, err := c.ReadAll(ctx, topic)
	if err != nil {
		return err
	}
	got := 0
	for _, recs := range parts {
		got += len(recs)
	}
	if got != want {
		return fmt.Errorf("compaction of %s left %d records, want %d", topic, got, want)
	}
	return nil
}

func (c fakeCluster) Hold(key kmsg.Key, match func(kmsg.Request) bool) {
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !match(req) {
			return nil, nil, false // not handled: the control stays
		}
		c.KeepControl()
		return nil, nil, true // handled without an answer
	})
}
