package kafkatest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SetPartitions grows topic to n partitions, as kafka-topics --alter does.
func (c *Cluster) SetPartitions(ctx context.Context, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).UpdatePartitions(ctx, n, topic)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("set %s to %d partitions: %w", topic, n, err)
	}
	return nil
}

// HoldOffsetCommits leaves every later OffsetCommit request of group
// unanswered, as a stalled coordinator would, for the rest of the cluster's
// life. The returned function tells how many requests it holds.
func (c *Cluster) HoldOffsetCommits(group string) func() int64 {
	var held atomic.Int64
	c.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req, ok := kr.(*kmsg.OffsetCommitRequest); !ok || req.Group != group {
			return nil, nil, false
		}
		held.Add(1)
		return nil, nil, true
	})
	return held.Load
}

// FenceOffsetCommits answers every later OffsetCommit of group with
// ILLEGAL_GENERATION, as the coordinator does for a member the group has moved
// on from (it stalled past its session timeout).
func (c *Cluster) FenceOffsetCommits(group string) {
	c.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req, ok := kr.(*kmsg.OffsetCommitRequest)
		if !ok || req.Group != group {
			return nil, nil, false
		}
		resp := kmsg.NewPtrOffsetCommitResponse()
		resp.Version = req.Version
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.IllegalGeneration.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// HidePlainOffsets answers every later OffsetFetch of group that does not ask
// for RequireStable as if the group had committed nothing, as a broker does
// while a killed writer's commit is still being written out; stable fetches
// get the real answer.
func (c *Cluster) HidePlainOffsets(group string) {
	c.ControlKey(int16(kmsg.OffsetFetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req, ok := kr.(*kmsg.OffsetFetchRequest)
		if !ok {
			return nil, nil, false
		}
		if req.RequireStable {
			return nil, nil, false
		}
		resp, ok := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		if !ok {
			return nil, nil, false
		}
		resp.Version = req.Version
		for _, g := range req.Groups {
			if g.Group != group {
				return nil, nil, false
			}
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			for _, tp := range g.Topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
				for _, p := range tp.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		if len(req.Groups) == 0 {
			return nil, nil, false
		}
		return resp, nil, true
	})
}

// HoldCommits leaves every later EndTxn(commit) of transactional id txnID
// unanswered and unapplied, as for a writer killed after it sent its records
// and TxnOffsetCommit but before its EndTxn reached the coordinator; held runs
// at the first. The returned function stops holding.
func (c *Cluster) HoldCommits(txnID string, held func()) (stop func()) {
	var on, once atomic.Bool
	on.Store(true)
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req, ok := kr.(*kmsg.EndTxnRequest)
		if !on.Load() || !ok || !req.Commit || req.TransactionalID != txnID {
			return nil, nil, false
		}
		if once.CompareAndSwap(false, true) {
			held()
		}
		return nil, nil, true
	})
	return func() { on.Store(false) }
}

// AbortCommits turns the next n EndTxn(commit) requests of transactional id
// txnID into aborts that answer as a commit would: the writer is told its
// transaction committed while nothing of it is visible. franz-go does the same
// on its own when it believes no record of a transaction reached a broker, and
// has believed so of acknowledged records under load.
func (c *Cluster) AbortCommits(txnID string, n int) {
	var left atomic.Int64
	left.Store(int64(n))
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req, ok := kr.(*kmsg.EndTxnRequest)
		if ok && req.Commit && req.TransactionalID == txnID && left.Add(-1) >= 0 {
			req.Commit = false
		}
		return nil, nil, false
	})
}
