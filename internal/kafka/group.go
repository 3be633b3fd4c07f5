package kafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/arena"
	"github.com/kferry/kferry/pkg/record"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// TopicsOf returns the topics of parts, each once, in the order they first
// appear.
func TopicsOf(parts []TopicPartition) []string {
	var topics []string
	seen := map[string]bool{}
	for _, tp := range parts {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			topics = append(topics, tp.Topic)
		}
	}
	return topics
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Batch is what one poll delivered for one partition.
type Batch struct {
	TopicPartition
	// TopicID is the id (hex) of the topic the records come from, "" when the
	// broker does not say (before Kafka 3.1).
	TopicID string
	// Records are the data records in offset order (transaction markers and
	// aborted records left out). They belong to the receiver: the reader does
	// not reuse them.
	Records []*record.Record
	// Next is the offset after the last record fetched, transaction markers
	// included: committing it skips nothing that holds data.
	Next int64
}

// GroupOptions configure a GroupReader.
type GroupOptions struct {
	// Group is the consumer group every member of one continuous export joins.
	Group string
	// Topics are consumed by name; Regexes select topics as
	// regexp.MatchString does (anchor them to match whole names). With
	// Regexes, new matching topics are taken as they appear; internal topics
	// like __consumer_offsets never match a regex.
	Topics  []string
	Regexes []string
	// Exclude lists regexes of topics never to consume (regex mode only).
	Exclude []string
	// MetadataMaxAge bounds how long new partitions and topics go unnoticed
	// (default 10s).
	MetadataMaxAge time.Duration
	// SessionTimeout is how long the group waits for a silent member before
	// giving its partitions to the others (default 45s).
	SessionTimeout time.Duration
	// RebalanceTimeout bounds how long members may take to give up partitions
	// in a rebalance (default 60s).
	RebalanceTimeout time.Duration

	// The callbacks run one at a time, never while Poll delivers batches, on a
	// goroutine of the reader. OnAssigned learns of partitions the member now
	// owns (possibly none: it then only says the member joined); OnRevoked of
	// partitions it is giving up: the group waits until it returns, so it is
	// the moment to finish work and Commit; OnLost of partitions taken away
	// after a fatal group error, when commits no longer succeed.
	OnAssigned func(ctx context.Context, parts []TopicPartition)
	OnRevoked  func(ctx context.Context, parts []TopicPartition)
	OnLost     func(ctx context.Context, parts []TopicPartition)
	// OnRetry, if set, learns of each commit retried after a transient error.
	OnRetry func(op string, err error)
}

// GroupReader consumes topics as one member of a consumer group, with the
// cooperative-sticky balancer and manual commits only: an offset is committed
// when, and only when, the caller calls Commit. Records are read_committed;
// partitions without a committed offset start at their log start. Poll must be
// called from one goroutine; Commit, Lag and Joined may be called from any.
type GroupReader struct {
	o     GroupOptions
	cl    *kgo.Client
	adm   *kadm.Client
	limit *RateLimit

	mu       sync.Mutex
	assigned map[TopicPartition]bool
	joined   bool
}

// NewGroupReader joins the group in the background and returns at once; Poll
// delivers records once partitions are assigned.
func NewGroupReader(ctx context.Context, cfg Config, o GroupOptions) (*GroupReader, error) {
	if o.Group == "" {
		return nil, errors.New("group reader: no group")
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	if o.MetadataMaxAge <= 0 {
		o.MetadataMaxAge = 10 * time.Second
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 45 * time.Second
	}
	if o.RebalanceTimeout <= 0 {
		o.RebalanceTimeout = time.Minute
	}
	g := &GroupReader{o: o, assigned: map[TopicPartition]bool{}, limit: cfg.Limit}
	topics := o.Topics
	if len(o.Regexes) > 0 {
		topics = append([]string(nil), o.Regexes...)
		for _, t := range o.Topics {
			topics = append(topics, `\A`+regexp.QuoteMeta(t)+`\z`)
		}
		opts = append(opts, kgo.ConsumeRegex())
		if len(o.Exclude) > 0 {
			opts = append(opts, kgo.ConsumeExcludeTopics(o.Exclude...))
		}
	}
	if len(topics) == 0 {
		return nil, errors.New("group reader: no topics")
	}
	opts = append(opts,
		kgo.ConsumeTopics(topics...),
		kgo.ConsumerGroup(o.Group),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// Callbacks never run while a poll's records are being handed out, so a
		// revoke sees every record the member took for the partition.
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // so that Next moves past transaction markers
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMaxAge(o.MetadataMaxAge),
		kgo.MetadataMinAge(min(o.MetadataMaxAge, 5*time.Second)),
		kgo.SessionTimeout(o.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, o.SessionTimeout/3)),
		kgo.RebalanceTimeout(o.RebalanceTimeout),
		// As for Reader: the partition limit sets the memory per partition.
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(g.onAssigned),
		kgo.OnPartitionsRevoked(g.onRevoked),
		kgo.OnPartitionsLost(g.onLost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka group reader: %w", err)
	}
	g.cl, g.adm = cl, kadm.NewClient(cl)
	pctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, unreachable(ctx, cfg, err)
	}
	return g, nil
}

func flatten(m map[string][]int32) []TopicPartition {
	var out []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, TopicPartition{t, p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func (g *GroupReader) onAssigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	parts := flatten(m)
	g.mu.Lock()
	g.joined = true
	for _, tp := range parts {
		g.assigned[tp] = true
	}
	g.mu.Unlock()
	if g.o.OnAssigned != nil {
		g.o.OnAssigned(ctx, parts)
	}
}

func (g *GroupReader) onRevoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	parts := flatten(m)
	if len(parts) > 0 && g.o.OnRevoked != nil {
		g.o.OnRevoked(ctx, parts)
	}
	g.drop(parts)
}

func (g *GroupReader) onLost(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	parts := flatten(m)
	g.mu.Lock()
	g.joined = false
	g.mu.Unlock()
	if len(parts) > 0 && g.o.OnLost != nil {
		g.o.OnLost(ctx, parts)
	}
	g.drop(parts)
}

func (g *GroupReader) drop(parts []TopicPartition) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, tp := range parts {
		delete(g.assigned, tp)
	}
}

// Joined reports whether the member has joined the group and has not lost it
// since.
func (g *GroupReader) Joined() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.joined
}

// Assigned returns the partitions the member owns now, sorted.
func (g *GroupReader) Assigned() []TopicPartition {
	g.mu.Lock()
	m := map[string][]int32{}
	for tp := range g.assigned {
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	g.mu.Unlock()
	return flatten(m)
}

// Poll waits for records (or ctx) and hands them to fn, partition by partition,
// each partition's records in offset order. Rebalance callbacks wait until
// Poll returns. Errors of fn end Poll and are returned as they are; a transient
// fetch error goes to onTransient (the client retries by itself), a permanent
// one is returned.
func (g *GroupReader) Poll(ctx context.Context, fn func(Batch) error, onTransient func(TopicPartition, error)) error {
	fetches := g.cl.PollFetches(ctx)
	defer g.cl.AllowRebalance()
	if err := ctx.Err(); err != nil {
		return err // anything polled is left uncommitted, so it is read again
	}
	if err := g.limit.wait(ctx, fetchedBytes(fetches)); err != nil {
		return err
	}
	var ferr error
	fetches.EachError(func(t string, p int32, err error) {
		switch {
		case ferr != nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			ferr = err
		case groupSessionLost(err):
			// The member lost its group to a fault that may pass (the
			// coordinator's broker down or moving); franz-go rejoins by
			// itself, and OnLost has dropped the partitions' open work.
			if onTransient != nil {
				onTransient(TopicPartition{t, p}, err)
			}
		case kerr.IsRetriable(err) || errors.Is(err, kerr.UnknownTopicOrPartition):
			if onTransient != nil {
				onTransient(TopicPartition{t, p}, err)
			}
		default:
			ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	var err error
	fetches.EachTopic(func(ft kgo.FetchTopic) {
		id := topicID(ft.TopicID)
		for _, fp := range ft.Partitions {
			if err == nil {
				err = deliver(kgo.FetchTopicPartition{Topic: ft.Topic, FetchPartition: fp}, id, fn)
			}
		}
	})
	return err
}

// groupSessionLost reports a group session that franz-go lost to a fault
// that may pass (see isRetriable), or because the coordinator dropped the
// member (its session expired: heartbeats late on a loaded machine, a long
// pause) or moved to a new generation without it. franz-go rejoins by itself
// in every case; such a loss once ended a migrate --follow.
func groupSessionLost(err error) bool {
	var gs *kgo.ErrGroupSession
	if !errors.As(err, &gs) {
		return false
	}
	return isRetriable(gs.Err) || errors.Is(gs.Err, kerr.UnknownMemberID) ||
		errors.Is(gs.Err, kerr.IllegalGeneration) || errors.Is(gs.Err, kerr.RebalanceInProgress)
}

// deliver hands one fetched partition's records to fn as a Batch.
func deliver(ftp kgo.FetchTopicPartition, id string, fn func(Batch) error) error {
	if len(ftp.Records) == 0 {
		return nil
	}
	b := Batch{TopicPartition: TopicPartition{ftp.Topic, ftp.Partition}, TopicID: id}
	recs := make([]record.Record, 0, len(ftp.Records))
	var headers arena.Arena[record.Header]
	for _, kr := range ftp.Records {
		b.Next = kr.Offset + 1
		if kr.Attrs.IsControl() {
			continue
		}
		recs = append(recs, fromKgo(kr, &headers))
	}
	b.Records = make([]*record.Record, len(recs))
	for i := range recs {
		b.Records[i] = &recs[i]
	}
	return fn(b)
}

// ErrFenced means the group no longer counts this member as the owner of a
// partition (it was too slow and the group moved on), so its commit was refused.
var ErrFenced = errors.New("partition no longer owned by this member")

// Commit records next as the group's position on tp (the next offset to read)
// and waits until the group coordinator has it. Transient errors (coordinator
// moving, rebalance starting) are retried for up to the client timeout.
func (g *GroupReader) Commit(ctx context.Context, tp TopicPartition, next int64) error {
	deadline := time.Now().Add(max(g.o.RebalanceTimeout, 10*time.Second))
	for try := 0; ; try++ {
		err := g.commitOnce(ctx, tp, next)
		if err == nil {
			return nil
		}
		switch {
		case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.StaleMemberEpoch):
			return fmt.Errorf("commit %s offset %d: %w: %w", tp, next, ErrFenced, err)
		case ctx.Err() != nil:
			return fmt.Errorf("commit %s offset %d: %w", tp, next, ctx.Err())
		case !isRetriable(err) && !errors.Is(err, kerr.RebalanceInProgress):
			// A broker down (refused dial) is retried too: the coordinator
			// may be restarting or moving to another broker.
			return fmt.Errorf("commit %s offset %d: %w", tp, next, err)
		case time.Now().After(deadline):
			return fmt.Errorf("commit %s offset %d: still failing after %d tries: %w", tp, next, try+1, err)
		}
		if g.o.OnRetry != nil {
			g.o.OnRetry("commit", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff(try)):
		}
	}
}

func (g *GroupReader) commitOnce(ctx context.Context, tp TopicPartition, next int64) error {
	var rerr error
	offsets := map[string]map[int32]kgo.EpochOffset{tp.Topic: {tp.Partition: {Epoch: -1, Offset: next}}}
	g.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && rerr == nil {
					rerr = err
				}
			}
		}
	})
	return rerr
}

// Committed returns the group's committed offset of tp as this member knows it
// (from joining or from its own commits), or -1.
func (g *GroupReader) Committed(tp TopicPartition) int64 {
	if eo, ok := g.cl.CommittedOffsets()[tp.Topic][tp.Partition]; ok {
		return eo.Offset
	}
	return -1
}

// PartitionLag is how far the group's committed offset trails a partition's end.
type PartitionLag struct {
	TopicPartition
	End       int64 // last stable offset: the end a read_committed reader sees
	Committed int64 // the group's offset, or the log start without one
	Lag       int64 // records: End - Committed
	// Start is the log start offset; a committed offset below it means
	// retention deleted records the group never read (-1: not known).
	Start int64
}

// Lag returns the lag of every partition the member owns.
func (g *GroupReader) Lag(ctx context.Context) ([]PartitionLag, error) {
	parts := g.Assigned()
	if len(parts) == 0 {
		return nil, nil
	}
	topics := TopicsOf(parts)
	ends, err := g.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	committed := g.cl.CommittedOffsets()
	starts, err := g.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	out := make([]PartitionLag, 0, len(parts))
	for _, tp := range parts {
		end, ok := ends.Lookup(tp.Topic, tp.Partition)
		if !ok || end.Err != nil {
			continue
		}
		pl := PartitionLag{TopicPartition: tp, End: end.Offset, Committed: -1, Start: -1}
		if s, ok := starts.Lookup(tp.Topic, tp.Partition); ok && s.Err == nil {
			pl.Start = s.Offset
		}
		if eo, ok := committed[tp.Topic][tp.Partition]; ok && eo.Offset >= 0 {
			pl.Committed = eo.Offset
		} else {
			pl.Committed = pl.Start
		}
		if pl.Committed < 0 {
			continue
		}
		pl.Lag = max(pl.End-pl.Committed, 0)
		out = append(out, pl)
	}
	return out, nil
}

// Leave leaves the group (the remaining members take the partitions at once
// instead of after the session timeout) and waits for it until ctx ends. The
// revoke callback runs for the partitions still owned.
func (g *GroupReader) Leave(ctx context.Context) error {
	g.mu.Lock()
	g.joined = false
	g.mu.Unlock()
	if err := g.cl.LeaveGroupContext(ctx); err != nil {
		return fmt.Errorf("leave group %s: %w", g.o.Group, err)
	}
	return nil
}

// Close releases the reader's connections (leaving the group if Leave was not
// called).
func (g *GroupReader) Close() { g.cl.Close() }
