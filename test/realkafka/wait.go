package realkafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pollInterval is the pause between two looks at a condition being polled.
const pollInterval = 100 * time.Millisecond

// waitReady polls the node with Metadata requests until it answers listing
// itself among at least want brokers. A broker opens its client listeners only
// once it is registered, caught up and unfenced, so an answer means it serves.
// It fails at once when the JVM exits, with the end of its log.
func (n *Node) waitReady(ctx context.Context, p *process, want int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0]
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var last error
	for {
		last = n.readyOnce(ctx, seed, want)
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return &startError{node: n.id, log: n.LogPath(), msg: fmt.Sprintf("exited during start (%v)", p.err), tail: n.logTail(40)}
		case <-ctx.Done():
			return &startError{node: n.id, log: n.LogPath(), msg: fmt.Sprintf("not ready: %v (last try: %v)", ctx.Err(), last), tail: n.logTail(40)}
		case <-poll.C:
		}
	}
}

func (n *Node) readyOnce(ctx context.Context, seed *kgo.Broker, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := seed.Request(ctx, req)
	if err != nil {
		return err
	}
	mr, ok := resp.(*kmsg.MetadataResponse)
	if !ok {
		return fmt.Errorf("metadata answered with %T", resp)
	}
	self := false
	for _, b := range mr.Brokers {
		self = self || b.NodeID == n.id
	}
	if !self || len(mr.Brokers) < want || mr.ControllerID < 0 {
		return fmt.Errorf("metadata lists %d brokers (self: %t, want %d), controller %d", len(mr.Brokers), self, want, mr.ControllerID)
	}
	return nil
}

// WaitTopic polls every running node until each one's metadata has the topic
// with a leader for every partition. A real broker learns of a new topic from
// the metadata log, a moment after CreateTopics has answered, and until then
// answers UNKNOWN_TOPIC_OR_PARTITION (kfake has no such delay).
func (c *Cluster) WaitTopic(ctx context.Context, topic string) error {
	return c.WaitTopicID(ctx, topic, [16]byte{})
}

// WaitTopicID is WaitTopic for the topic of that id (CreateTopics answers
// it): a topic deleted and created again under the same name is otherwise
// "there" while a broker still serves the deleted one, and records produced
// then go into the deleted topic's log. A zero id takes any.
func (c *Cluster) WaitTopicID(ctx context.Context, topic string, id [16]byte) error {
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		if err := n.waitTopic(ctx, topic, id); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) waitTopic(ctx context.Context, topic string, id [16]byte) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0]
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for {
		last := topicLed(ctx, seed, topic, id)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d: topic %s: %w (last: %w)", n.id, topic, ctx.Err(), last)
		case <-poll.C:
		}
	}
}

// topicLed asks one broker whether it knows topic with a leader everywhere.
func topicLed(ctx context.Context, seed *kgo.Broker, topic string, id [16]byte) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := seed.Request(ctx, req)
	if err != nil {
		return err
	}
	mr, ok := resp.(*kmsg.MetadataResponse)
	if !ok || len(mr.Topics) != 1 {
		return fmt.Errorf("metadata for %s answered with %T", topic, resp)
	}
	t := mr.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return err
	}
	if id != ([16]byte{}) && t.TopicID != id {
		return fmt.Errorf("topic id %x, not yet the new topic's %x", t.TopicID, id)
	}
	if len(t.Partitions) == 0 {
		return fmt.Errorf("no partitions yet")
	}
	for _, p := range t.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d: no leader", p.Partition)
		}
	}
	return nil
}
