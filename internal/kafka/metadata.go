package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listTopics is kadm's ListTopicsWithInternal without its metadata cache: kadm
// answers from metadata up to MetadataMinAge (5 s) old, so a topic created a
// moment ago (by this run, another tool, a restore --follow round) could look
// missing, and the checks made before writing into it (partition count,
// records already there) would be skipped. Every question about topics asks
// the broker. No topics: every topic.
func listTopics(ctx context.Context, cl *kgo.Client, topics ...string) (kadm.TopicDetails, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	td := make(kadm.TopicDetails, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		d := kadm.TopicDetail{Topic: *t.Topic, ID: t.TopicID, IsInternal: t.IsInternal, Partitions: kadm.PartitionDetails{}, Err: kerr.ErrorForCode(t.ErrorCode)}
		for _, p := range t.Partitions {
			d.Partitions[p.Partition] = kadm.PartitionDetail{
				Topic: *t.Topic, Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: p.Replicas, ISR: p.ISR, OfflineReplicas: p.OfflineReplicas, Err: kerr.ErrorForCode(p.ErrorCode),
			}
		}
		td[*t.Topic] = d
	}
	return td, nil
}

// topicDetails is listTopics with the client's timeout and its retries of
// transient errors, as every topic question of the Client asks it.
func (c *Client) topicDetails(ctx context.Context, topics ...string) (kadm.TopicDetails, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	var td kadm.TopicDetails
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		td, err = listTopics(ctx, c.cl, topics...)
		return err
	})
	return td, err
}
