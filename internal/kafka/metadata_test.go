package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// TestTopicsSeeNewTopicsAtOnce: listing and describing topics ask the broker,
// not a metadata cache (kadm's answers may be 5 s old): the checks made before
// writing into a target must see a topic created a moment ago.
func TestTopicsSeeNewTopicsAtOnce(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewCluster(t)
	ctx := t.Context()
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	for i, name := range []string{"first", "second", "third"} {
		if _, err := kc.Topics(ctx); err != nil { // primes any cache
			t.Fatal(err)
		}
		if _, err := kc.CreateTopicWithConfigs(ctx, name, int32(i+1), -1, map[string]string{"cleanup.policy": "compact"}); err != nil {
			t.Fatal(err)
		}
		topics, err := kc.Topics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(topics) != i+1 || topics[name].Partitions != i+1 {
			t.Errorf("after creating %s: Topics lists %v", name, topics)
		}
		details, err := kc.DescribeTopics(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := details[name]; !ok || len(details) != i+1 {
			t.Errorf("after creating %s: DescribeTopics lists %d topics without it", name, len(details))
		}
	}
}

// TestDescribeConfigsOfNewTopicRetried: right after a topic is created, Apache
// Kafka can answer a config description of it with UNKNOWN_TOPIC_OR_PARTITION
// (retriable) until every broker knows it; restore describes the topics it
// just created, and failed on that ("describe configs of orders:
// UNKNOWN_TOPIC_OR_PARTITION") instead of asking again.
func TestDescribeConfigsOfNewTopicRetried(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewCluster(t)
	ctx := t.Context()
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.CreateTopicWithConfigs(ctx, "fresh", 2, -1, map[string]string{"cleanup.policy": "compact", "retention.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "fresh", Err: kerr.UnknownTopicOrPartition, Count: 2})
	details, err := kc.DescribeTopics(ctx, []string{"fresh"})
	if err != nil {
		t.Fatal(err)
	}
	if got := details["fresh"].Configs["cleanup.policy"]; got != "compact" {
		t.Errorf("fresh: cleanup.policy %q, want compact", got)
	}
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "fresh", Err: kerr.UnknownTopicOrPartition, Count: 2})
	r, err := kc.TopicRetention(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if r.Age.Milliseconds() != 60000 {
		t.Errorf("fresh: retention %v, want 1m", r.Age)
	}
}
