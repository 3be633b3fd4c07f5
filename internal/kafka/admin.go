package kafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrGroupActive means a consumer group has members, so its offsets may not be
// changed underneath it.
var ErrGroupActive = errors.New("consumer group has active members")

// ClusterID returns the cluster's id ("" for clusters too old to have one).
func (c *Client) ClusterID(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	m, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("cluster metadata: %w", err)
	}
	return m.Cluster, nil
}

// TopicDetails is a topic's shape and its explicitly set configs.
type TopicDetails struct {
	TopicInfo
	Configs map[string]string
}

// DescribeTopics returns partition count, replication factor, topic id and the
// configs set on each topic (not broker defaults), for restoring it elsewhere;
// no topics means every topic of the cluster.
func (c *Client) DescribeTopics(ctx context.Context, topics []string) (map[string]TopicDetails, error) {
	td, err := c.topicDetails(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	out := map[string]TopicDetails{}
	for name, t := range td {
		if t.Err != nil {
			return nil, fmt.Errorf("describe topic %s: %w", name, t.Err)
		}
		rf := 0
		for _, p := range t.Partitions {
			rf = max(rf, len(p.Replicas))
		}
		out[name] = TopicDetails{
			TopicInfo: TopicInfo{Name: name, Partitions: len(t.Partitions), ReplicationFactor: rf, Internal: t.IsInternal, ID: fmt.Sprintf("%x", t.ID[:])},
			Configs:   map[string]string{},
		}
	}
	names := topics
	if len(names) == 0 { // every topic: kadm describes no configs for an empty list
		for name := range out {
			names = append(names, name)
		}
	}
	rcs, err := c.describeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, err
	}
	for _, rc := range rcs {
		d, ok := out[rc.Name]
		if !ok {
			continue
		}
		for _, cfg := range rc.Configs {
			if cfg.Value == nil || cfg.Sensitive || cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
				continue
			}
			d.Configs[cfg.Key] = *cfg.Value
		}
	}
	return out, nil
}

// describeTopicConfigs describes the topics' configs within the timeout,
// retrying a topic's retriable error as a failed request is retried: a broker
// answers UNKNOWN_TOPIC_OR_PARTITION for a topic created a moment ago, until
// it has read the topic from the metadata log.
func (c *Client) describeTopicConfigs(ctx context.Context, topics ...string) (kadm.ResourceConfigs, error) {
	var rcs kadm.ResourceConfigs
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		if rcs, err = c.adm.DescribeTopicConfigs(ctx, topics...); err != nil {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
			}
		}
		return nil
	})
	return rcs, err
}

// CreateTopicWithConfigs creates a topic with configs; replicationFactor -1 takes
// the broker's default. It reports whether this call created it.
func (c *Client) CreateTopicWithConfigs(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	cfgs := map[string]*string{}
	for k, v := range configs {
		cfgs[k] = &v
	}
	resp, err := c.adm.CreateTopic(ctx, partitions, replicationFactor, cfgs, name)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create topic %s (%d partitions): %w", name, partitions, err)
	}
	return true, nil
}

// GroupOffset is one committed offset of a consumer group.
type GroupOffset struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
	Metadata  string
}

// GroupOffsets returns the committed offsets on the given topics of every group
// whose name matches re (nil: all groups), sorted by group, topic, partition.
func (c *Client) GroupOffsets(ctx context.Context, re *regexp.Regexp, topics []string) ([]GroupOffset, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	var listed kadm.ListedGroups
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		listed, err = c.adm.ListGroups(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	var out []GroupOffset
	for _, g := range listed.Groups() {
		if re != nil && !re.MatchString(g) {
			continue
		}
		var resps kadm.OffsetResponses
		err := retriable(ctx, c.cfg.timeout(), func() (err error) {
			resps, err = c.adm.FetchOffsetsForTopics(ctx, g, topics...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("fetch offsets of group %s: %w", g, err)
		}
		resps.Each(func(r kadm.OffsetResponse) {
			if r.Err != nil || r.At < 0 {
				return
			}
			out = append(out, GroupOffset{Group: g, Topic: r.Topic, Partition: r.Partition, Offset: r.At, Metadata: r.Metadata})
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return out, nil
}

// CheckGroupsIdle returns ErrGroupActive naming the first group that has members.
func (c *Client) CheckGroupsIdle(ctx context.Context, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	described, err := c.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range groups {
		if d, ok := described[g]; ok && len(d.Members) > 0 {
			return fmt.Errorf("%w: %s has %d members on the target; stop its consumers first", ErrGroupActive, g, len(d.Members))
		}
	}
	return nil
}

// CommittedOffsetsMeta returns the offsets a group committed on topics, with
// their metadata. It asks for the group's offsets only (no topic metadata), so
// topics that do not exist yet or were just created are simply absent.
func (c *Client) CommittedOffsetsMeta(ctx context.Context, group string, topics []string) (map[string]map[int32]GroupOffset, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	var resps kadm.OffsetResponses
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		if resps, err = c.adm.FetchOffsets(ctx, group); err == nil {
			err = resps.Error()
		}
		return err
	})
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[string]map[int32]GroupOffset{}, nil // no commits yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	out := map[string]map[int32]GroupOffset{}
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err != nil || r.At < 0 || !want[r.Topic] {
			return
		}
		if out[r.Topic] == nil {
			out[r.Topic] = map[int32]GroupOffset{}
		}
		out[r.Topic][r.Partition] = GroupOffset{Group: group, Topic: r.Topic, Partition: r.Partition, Offset: r.At, Metadata: r.Metadata}
	})
	return out, nil
}

// RequireStable makes the committed-offset reads under ctx wait until no
// transaction holds offsets of the group pending (OffsetFetch RequireStable).
func RequireStable(ctx context.Context) context.Context { return kadm.RequireStable(ctx) }

// CommittedOffsets returns the offsets a group committed on topics.
func (c *Client) CommittedOffsets(ctx context.Context, group string, topics []string) (map[string]map[int32]int64, error) {
	meta, err := c.CommittedOffsetsMeta(ctx, group, topics)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	for t, ps := range meta {
		out[t] = map[int32]int64{}
		for p, o := range ps {
			out[t][p] = o.Offset
		}
	}
	return out, nil
}

// OffsetsAfter returns, per partition, the first offset whose timestamp is at or
// after ms (Kafka's offsets-for-times), or the end offset when none is.
func (c *Client) OffsetsAfter(ctx context.Context, ms int64, topics []string) (map[string]map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	lo, err := c.adm.ListOffsetsAfterMilli(ctx, ms, topics...)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("offsets for time %d: %w", ms, err)
	}
	out := map[string]map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, nil
}

// CommitOffsets commits offsets for groups that have no members here (a
// translated position for consumers that have not moved to this cluster yet).
// The broker refuses commits to a group with members (an unknown member id).
func (c *Client) CommitOffsets(ctx context.Context, offsets []GroupOffset) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	byGroup := map[string]kadm.Offsets{}
	var order []string
	for _, o := range offsets {
		os := byGroup[o.Group]
		if os == nil {
			os = kadm.Offsets{}
			byGroup[o.Group] = os
			order = append(order, o.Group)
		}
		os.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1, Metadata: o.Metadata})
	}
	for _, group := range order {
		err := retriable(ctx, c.cfg.timeout(), func() error {
			resp, err := c.adm.CommitOffsets(ctx, group, byGroup[group])
			if err == nil {
				err = resp.Error()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
	}
	return nil
}

// GroupMembers returns how many members each of groups has (0 for an empty or
// unknown group).
func (c *Client) GroupMembers(ctx context.Context, groups []string) (map[string]int, error) {
	out := make(map[string]int, len(groups))
	if len(groups) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	described, err := c.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range groups {
		out[g] = len(described[g].Members)
	}
	return out, nil
}

// StableOffsets returns what group committed on parts (partitions without a
// commit are absent), read with OffsetFetch RequireStable on exactly those
// partitions. A broker answers UNSTABLE_OFFSET_COMMIT for a partition while a
// transaction holds an offset of it pending; StableOffsets asks again, backing
// off, until the answer is final or the timeout passes. The partitions are
// named rather than the group's all: Kafka's classic coordinator ignores
// RequireStable when a fetch asks for all of a group's offsets.
//
// Only a writer that fenced the partition's previous writer first can rely on
// the answer being the last word: see TxnWriter.Resume.
func (c *Client) StableOffsets(ctx context.Context, group string, parts []TopicPartition) (map[TopicPartition]GroupOffset, error) {
	return stableOffsets(ctx, c.cl, c.cfg.timeout(), group, parts)
}

func stableOffsets(ctx context.Context, cl *kgo.Client, limit time.Duration, group string, parts []TopicPartition) (map[TopicPartition]GroupOffset, error) {
	out := make(map[TopicPartition]GroupOffset, len(parts))
	if len(parts) == 0 {
		return out, nil
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	pending := parts
	for tries := 0; ; tries++ {
		unstable, err := fetchOffsetsOnce(ctx, cl, group, pending, out, true)
		if err == nil && len(unstable) == 0 {
			return out, nil
		}
		if err != nil && !isRetriable(err) {
			return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
		}
		if err == nil {
			pending, err = unstable, fmt.Errorf("%s: %w", unstable[0], kerr.UnstableOffsetCommit)
		}
		// Short first pauses: a pending commit normally completes within
		// milliseconds of the writer's EndTxn.
		wait := min(10*time.Millisecond<<min(tries, 6), 500*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if parent.Err() != nil {
				return nil, fmt.Errorf("fetch offsets of group %s: %w", group, parent.Err())
			}
			return nil, fmt.Errorf("fetch offsets of group %s: still unstable after %s (an open transaction of another writer holds them; fence it first): %w", group, limit, err)
		case <-t.C:
		}
	}
}

// fetchOffsetsOnce sends one OffsetFetch for parts (RequireStable when
// stable), adds the offsets to out and returns the partitions still pending.
func fetchOffsetsOnce(ctx context.Context, cl *kgo.Client, group string, parts []TopicPartition, out map[TopicPartition]GroupOffset, stable bool) ([]TopicPartition, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group, req.RequireStable = group, stable
	index := map[string]int{}
	for _, tp := range parts {
		i, ok := index[tp.Topic]
		if !ok {
			i = len(req.Topics)
			index[tp.Topic] = i
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic = tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.Partition)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil, nil // nothing committed yet
		}
		return nil, err
	}
	var unstable []TopicPartition
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := TopicPartition{Topic: t.Topic, Partition: p.Partition}
			switch perr := kerr.ErrorForCode(p.ErrorCode); {
			case errors.Is(perr, kerr.UnstableOffsetCommit):
				unstable = append(unstable, tp)
			case perr != nil:
				return nil, fmt.Errorf("%s: %w", tp, perr)
			case p.Offset >= 0:
				meta := ""
				if p.Metadata != nil {
					meta = *p.Metadata
				}
				out[tp] = GroupOffset{Group: group, Topic: tp.Topic, Partition: tp.Partition, Offset: p.Offset, Metadata: meta}
			}
		}
	}
	return unstable, nil
}

// GrowPartitions makes topic have at least total partitions (kafka-topics
// --alter --partitions), and reports whether it added any. A topic that has
// that many already is left alone.
func (c *Client) GrowPartitions(ctx context.Context, topic string, total int) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	var resps kadm.CreatePartitionsResponses
	err := retriable(ctx, c.cfg.timeout(), func() (err error) {
		if resps, err = c.adm.UpdatePartitions(ctx, total, topic); err == nil {
			err = resps.Error()
		}
		return err
	})
	if errors.Is(err, kerr.InvalidPartitions) {
		// The topic has total partitions or more (partitions cannot be
		// removed, so asking for fewer is refused the same way).
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("grow %s to %d partitions: %w", topic, total, err)
	}
	return true, nil
}

// KafkaDefaultRetention is Apache Kafka's default retention.ms (7 days), for
// topics that do not exist yet and set none.
const KafkaDefaultRetention = 7 * 24 * time.Hour

// Retention is a topic's time-based retention in effect.
type Retention struct {
	// Delete reports whether cleanup.policy deletes old records at all.
	Delete bool
	// Age is retention.ms; zero or less keeps records for ever.
	Age time.Duration
}

// Expires reports whether the retention deletes records stamped before some
// time, and that time as of now.
func (r Retention) Expires(now time.Time) (time.Time, bool) {
	if !r.Delete || r.Age <= 0 {
		return time.Time{}, false
	}
	return now.Add(-r.Age), true
}

// RetentionOf reads retention.ms and cleanup.policy from configs as a topic
// would apply them, with Kafka's defaults for those not set.
func RetentionOf(configs map[string]string) Retention {
	r := Retention{Delete: true, Age: KafkaDefaultRetention}
	if v, ok := configs["cleanup.policy"]; ok {
		r.Delete = slices.Contains(strings.Split(v, ","), "delete")
	}
	if ms, err := strconv.ParseInt(configs["retention.ms"], 10, 64); err == nil {
		r.Age = time.Duration(ms) * time.Millisecond
	}
	return r
}

// TopicRetention returns the retention a topic applies, broker defaults
// included (DescribeTopics returns only what is set on the topic).
func (c *Client) TopicRetention(ctx context.Context, topic string) (Retention, error) {
	rcs, err := c.describeTopicConfigs(ctx, topic)
	if err != nil {
		return Retention{}, err
	}
	in := map[string]string{}
	for _, rc := range rcs {
		for _, cfg := range rc.Configs {
			if cfg.Value != nil {
				in[cfg.Key] = *cfg.Value
			}
		}
	}
	return RetentionOf(in), nil
}
