package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// TestDescribeConfigsOfNewTopic: Apache Kafka answers DescribeConfigs with
// UNKNOWN_TOPIC_OR_PARTITION for a topic created a moment ago, until the
// broker has read it from the metadata log (a restore into a new topic
// failed at once so: "describe configs of T: UNKNOWN_TOPIC_OR_PARTITION").
// TopicRetention and DescribeTopics retry it as a failed request.
func TestDescribeConfigsOfNewTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.NewCluster(t)
	kc, err := kafka.Dial(ctx, c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.CreateTopicWithConfigs(ctx, "fresh", 1, -1, map[string]string{"retention.ms": "3600000"}); err != nil {
		t.Fatal(err)
	}
	unknownOnce := func() {
		c.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
			r, ok := req.(*kmsg.DescribeConfigsRequest)
			if !ok {
				return nil, nil, false
			}
			resp := kmsg.NewPtrDescribeConfigsResponse()
			resp.Version = r.Version
			for _, res := range r.Resources {
				rr := kmsg.NewDescribeConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, kerr.UnknownTopicOrPartition.Code
				resp.Resources = append(resp.Resources, rr)
			}
			return resp, nil, true
		})
	}
	unknownOnce()
	ret, err := kc.TopicRetention(ctx, "fresh")
	if err != nil {
		t.Fatalf("retention of a topic the broker learns of a moment late: %v", err)
	}
	if ret.Age != time.Hour {
		t.Errorf("retention %+v, want 1h", ret)
	}
	unknownOnce()
	td, err := kc.DescribeTopics(ctx, []string{"fresh"})
	if err != nil {
		t.Fatalf("describe a topic the broker learns of a moment late: %v", err)
	}
	if got := td["fresh"].Configs["retention.ms"]; got != "3600000" {
		t.Errorf("configs %v, want retention.ms 3600000", td["fresh"].Configs)
	}
}
