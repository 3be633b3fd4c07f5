package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/store"
)

// Defaults of a continuous export.
const (
	DefaultFollowRotate    = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultLagInterval     = 2 * time.Second
)

// leaveTimeout bounds leaving the group and closing the client when a
// continuous export stops.
const leaveTimeout = 5 * time.Second

// FollowMetrics receives what a continuous export does (internal/metrics
// implements it for Prometheus). Methods are called from many goroutines.
type FollowMetrics interface {
	// ObjectWritten: an object set is visible and its offsets are committed.
	ObjectWritten(topic string, partition int32, records, bytes int64, upload time.Duration)
	// Lag is an owned partition's end offset minus the group's committed one.
	Lag(topic string, partition int32, records int64)
	// Forget: the member no longer owns the partition.
	Forget(topic string, partition int32)
	Owned(partitions int)
	Error(kind string)
	Retry(op string)
	// Ready: whether the member is in its group.
	Ready(ok bool)
}

type NoFollowMetrics struct{}

func (NoFollowMetrics) ObjectWritten(string, int32, int64, int64, time.Duration) {}
func (NoFollowMetrics) Lag(string, int32, int64)                                 {}
func (NoFollowMetrics) Forget(string, int32)                                     {}
func (NoFollowMetrics) Owned(int)                                                {}
func (NoFollowMetrics) Error(string)                                             {}
func (NoFollowMetrics) Retry(string)                                             {}
func (NoFollowMetrics) Ready(bool)                                               {}

// FollowOptions configure a continuous export (export --follow). The embedded
// ExportOptions apply as for a one-shot export, except that RotateInterval is
// wall-clock time since an object's first record arrived (DefaultFollowRotate
// when 0), which bounds how long a record waits before it is in the bucket.
type FollowOptions struct {
	ExportOptions
	// Group is the consumer group the members of one continuous export share
	// (see DefaultGroup).
	Group string
	// ShutdownTimeout bounds finishing open objects once ctx ends
	// (DefaultShutdownTimeout when 0).
	ShutdownTimeout time.Duration
	// SessionTimeout is how long the group waits for a member that stopped
	// answering (a crash) before giving its partitions to others (45s when 0).
	SessionTimeout time.Duration
	// MetadataMaxAge bounds how long new partitions and topics go unnoticed
	// (10s when 0).
	MetadataMaxAge time.Duration
	// LagInterval is how often the lag of owned partitions is measured (2s when 0).
	LagInterval time.Duration
	Metrics     FollowMetrics
	// OnOwnership, if set, is told of partitions the member takes (owned
	// true) and gives up (false; after their open objects are committed).
	OnOwnership func(parts []kafka.TopicPartition, owned bool)
	// Lane, if set, also gets every batch once its records are in the open
	// object (migrate: its importer writes them before the object is done).
	Lane *Lane
}

// DefaultGroup is the consumer group of a continuous export when none is
// given: one per bucket URL (without secrets), topics folder and topic
// selection, so that copies started with the same flags share the work.
func DefaultGroup(bucketURL, topicsDir string, sel plan.Selector) string {
	return GroupName("kferry-export-", bucketURL, topicsDir, sel)
}

// GroupName is prefix plus a hash of what identifies a run: the bucket URL
// (without secrets), topics folder, topic selection and each of extra. The
// names of existing runs must not change (a rerun finds its progress by
// them), so fields are only ever appended.
func GroupName(prefix, bucketURL, topicsDir string, sel plan.Selector, extra ...string) string {
	names := slices.Clone(sel.Names)
	slices.Sort(names)
	h := sha256.New()
	// A hash.Hash never returns a write error.
	_, _ = fmt.Fprintf(h, "%s\x00%s\x00%s\x00", bucketURL, strings.Trim(topicsDir, "/"), strings.Join(names, ","))
	if sel.Regex != nil {
		h.Write([]byte(sel.Regex.String()))
	}
	for _, e := range extra {
		_, _ = fmt.Fprintf(h, "\x00%s", e)
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:12]
}

// Follow exports the selected topics continuously as one member of the consumer
// group o.Group: Kafka spreads the partitions over the members, and new
// partitions and (with a regex) new topics are taken as they appear. Objects are
// named by start offset as in Export; a partition's offset is committed to the
// group only once the object holding the records before it is complete in the
// bucket, and the next object is made visible only after that commit, so at most
// one visible object per partition is uncommitted, and whoever reads the
// partition next rewrites it under the same name. A partition the member gives
// up in a rebalance has its open object finished and committed first.
//
// When ctx ends, Follow finishes and commits every open object, leaves the group
// and returns the summary of what this member wrote, with a nil error; past
// o.ShutdownTimeout it abandons what is still open (uncommitted, so it is
// exported again by the next owner) and returns ErrShutdownTimeout naming it.
func Follow(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o FollowOptions) (Summary, error) {
	started := time.Now()
	f, err := newFollower(ctx, kc, b, &o)
	if err != nil {
		return Summary{}, err
	}
	defer f.stopWork()
	summary := func() Summary { return f.col.Summary("export", bucketName, started) }
	if err := f.checkSelection(ctx); err != nil {
		return summary(), err
	}
	// Before the group reader: its first assignment may fail the run (fail
	// calls stopPoll) before NewGroupReader has returned.
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	f.stopPoll = stopPoll
	if f.gr, err = kafka.NewGroupReader(ctx, kc.Config(), f.groupOptions()); err != nil {
		return summary(), err
	}
	f.log.Info("export --follow starting", "group", o.Group, "selection", o.Selector.String(), "format", o.Format, "bucket", bucketName, "rotate_interval", o.RotateInterval.String())

	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		f.reportLag(pollCtx)
	}()
	for pollCtx.Err() == nil {
		if err := f.gr.Poll(pollCtx, f.dispatch(pollCtx), f.transient); err != nil && pollCtx.Err() == nil {
			f.fail(err)
		}
	}
	<-lagDone
	err = f.shutdown(ctx.Err() != nil)
	s := summary()
	f.log.Info("export --follow stopped", "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	return s, err
}

// follower is one member's state of a continuous export.
type follower struct {
	o   *FollowOptions
	eo  ExportOptions // what partitionExport sees: no record-time rotation
	kc  *kafka.Client
	b   *blob.Bucket
	vf  objset.Formats
	col *Collector
	log *slog.Logger
	m   FollowMetrics
	gr  *kafka.GroupReader

	// work carries uploads and commits; it ends only when the shutdown times
	// out, so that a stop signal lets them finish.
	work     context.Context
	stopWork context.CancelFunc
	stopPoll context.CancelFunc
	timedOut atomic.Bool

	mu        sync.Mutex
	workers   map[kafka.TopicPartition]*partWorker
	metas     map[string]int    // topic → partition count written to its TopicMeta
	ids       map[string]string // topic → the topic id its objects come from
	recreated map[string]bool   // topics deleted and recreated while exported
	// laneFrom is where the next batch offered to the lane continues from,
	// per partition read since it was taken (absent: none offered yet).
	laneFrom  map[kafka.TopicPartition]int64
	failure   error
	abandoned []string
}

func newFollower(ctx context.Context, kc *kafka.Client, b *blob.Bucket, o *FollowOptions) (*follower, error) {
	if o.Group == "" {
		return nil, errors.New("export --follow: no consumer group")
	}
	if o.RotateInterval <= 0 {
		o.RotateInterval = DefaultFollowRotate
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.LagInterval <= 0 {
		o.LagInterval = DefaultLagInterval
	}
	f := &follower{o: o, eo: o.ExportOptions, kc: kc, b: b, col: NewCollector(), log: o.Logger, m: o.Metrics,
		workers: map[kafka.TopicPartition]*partWorker{}, metas: map[string]int{}, ids: map[string]string{}, recreated: map[string]bool{},
		laneFrom: map[kafka.TopicPartition]int64{}}
	f.eo.RotateInterval, f.eo.Progress = 0, nil // the workers rotate by wall clock
	f.log = Logger(f.log)
	if f.m == nil {
		f.m = NoFollowMetrics{}
	}
	var err error
	if f.vf, err = o.formats(ctx); err != nil {
		return nil, err
	}
	f.work, f.stopWork = context.WithCancel(context.Background())
	return f, nil
}

// checkSelection refuses named topics that do not exist, as Export does; a
// regex that matches nothing yet is only a warning, since topics may appear.
func (f *follower) checkSelection(ctx context.Context) error {
	topics, err := f.kc.Topics(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	_, err = plan.Select(names, f.o.Selector, "cluster "+fmt.Sprint(f.kc.Config().Brokers))
	if errors.Is(err, plan.ErrNothingSelected) && f.o.Selector.Regex != nil {
		f.log.Warn("no topic matches yet; waiting for one to appear", "selection", f.o.Selector.String())
		return nil
	}
	return err
}

func (f *follower) groupOptions() kafka.GroupOptions {
	sel := f.o.Selector
	g := kafka.GroupOptions{
		Group: f.o.Group, MetadataMaxAge: f.o.MetadataMaxAge, SessionTimeout: f.o.SessionTimeout,
		Topics:     sel.Names,
		OnAssigned: f.assigned, OnRevoked: f.revoked, OnLost: f.lost,
		OnRetry: func(op string, err error) {
			f.m.Retry(op)
			f.log.Warn("retrying", "op", op, "err", err)
		},
	}
	if sel.Regex != nil || sel.Empty() {
		re := `.*`
		if sel.Regex != nil {
			re = sel.Regex.String() // anchored by the CLI
		}
		g.Regexes = []string{re}
		if !slices.ContainsFunc(sel.Names, func(n string) bool { return strings.HasPrefix(n, "__") }) {
			g.Exclude = []string{`\A__`} // as plan.Selector: internal topics only when named
		}
	}
	return g
}

// fail records the first fatal error and stops polling; open objects are still
// finished by the shutdown.
func (f *follower) fail(err error) {
	f.mu.Lock()
	if f.failure == nil {
		f.failure = err
		f.log.Error("export --follow failing", "err", err)
	}
	f.mu.Unlock()
	f.stopPoll()
}

func (f *follower) transient(tp kafka.TopicPartition, err error) {
	f.m.Error("fetch")
	if tp.Topic == "" { // not a partition's: the group session's
		f.log.Warn("group membership lost; rejoining", "err", err)
		return
	}
	f.log.Warn("fetch error; retrying", "topic", tp.Topic, "partition", tp.Partition, "err", err)
}

// dispatch hands a polled batch to its partition's worker, starting one if
// needed. It blocks while the worker is busy (bounded memory).
func (f *follower) dispatch(ctx context.Context) func(kafka.Batch) error {
	return func(b kafka.Batch) error {
		f.mu.Lock()
		recreated := f.recreated[b.Topic]
		known := f.ids[b.Topic]
		f.mu.Unlock()
		if !recreated && b.TopicID != "" && known != "" && b.TopicID != known {
			err := f.noteTopicID(ctx, b.Topic, b.TopicID)
			f.fail(err)
			return err
		}
		if recreated {
			return fmt.Errorf("export %s: %w", b.TopicPartition, ErrLineageChanged)
		}
		w := f.worker(b.TopicPartition)
		f.offer(b)
		select {
		case w.in <- b:
			return nil
		case <-w.done:
			return fmt.Errorf("export %s: worker ended", b.TopicPartition)
		case <-ctx.Done():
			return ctx.Err() // the batch is not committed, so it is read again
		}
	}
}

func (f *follower) worker(tp kafka.TopicPartition) *partWorker {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.workers[tp]; w != nil {
		return w
	}
	ctx, cancel := context.WithCancel(f.work)
	log := f.log.With("topic", tp.Topic, "partition", tp.Partition)
	w := &partWorker{f: f, tp: tp, log: log, ctx: ctx, cancel: cancel,
		in: make(chan kafka.Batch, 4), done: make(chan struct{}), committed: f.gr.Committed(tp)}
	// PartitionExport's log: rotate adds topic and partition itself.
	w.pe = &PartitionExport{Opts: &f.eo, Bucket: f.b, Formats: f.vf, Col: f.col, Log: f.log,
		Range: kafka.PartitionRange{Topic: tp.Topic, Partition: tp.Partition}}
	w.pe.OnCommit, w.pe.beforeCommit, w.pe.noChecksum = w.objectDone, w.checkOwner, true
	f.col.Partition(tp.Topic, tp.Partition)
	f.workers[tp] = w
	go w.run()
	return w
}

// release ends tp's worker, if any, and waits for it: gracefully (finish,
// upload and commit the open object) or, with abort, dropping the open object.
func (f *follower) release(tp kafka.TopicPartition, abort bool) {
	f.mu.Lock()
	w := f.workers[tp]
	f.mu.Unlock()
	if w == nil {
		return
	}
	if abort {
		w.cancel()
	} else {
		w.stopping.Store(true)
		w.closeOnce.Do(func() { close(w.in) })
	}
	<-w.done
	f.mu.Lock()
	if f.workers[tp] == w {
		delete(f.workers, tp)
	}
	f.mu.Unlock()
	f.m.Forget(tp.Topic, tp.Partition)
	if f.o.Lane != nil {
		f.mu.Lock()
		delete(f.laneFrom, tp)
		f.mu.Unlock()
		f.o.Lane.Forget(tp)
	}
}

// offer gives the batch to the lane, if any, as soon as it is polled: a
// worker busy uploading an object does not hold it back. What the lane gets
// need not reach an object (the worker may stop first): the importer writes
// a run only past its committed progress, and the records are read again by
// the partition's next owner, whose objects the importer then skips.
func (f *follower) offer(b kafka.Batch) {
	if f.o.Lane == nil {
		return
	}
	tp := b.TopicPartition
	f.mu.Lock()
	from, seen := f.laneFrom[tp]
	if !seen {
		from = f.gr.Committed(tp) // where the group's reading of tp resumed
	}
	f.laneFrom[tp] = b.Next
	f.mu.Unlock()
	f.o.Lane.Offer(tp, from, !seen && from < 0, b)
}

func (f *follower) releaseAll(parts []kafka.TopicPartition, abort bool) {
	var wg sync.WaitGroup
	for _, tp := range parts {
		wg.Go(func() { f.release(tp, abort) })
	}
	wg.Wait()
}

func (f *follower) assigned(ctx context.Context, parts []kafka.TopicPartition) {
	f.m.Ready(true)
	if len(parts) == 0 {
		return
	}
	f.log.Info("partitions assigned", "partitions", fmt.Sprint(parts))
	if err := f.checkTopicIDs(parts); err != nil {
		f.fail(err)
		return
	}
	f.writeMetas(parts)
	if f.o.OnOwnership != nil {
		f.o.OnOwnership(parts, true)
	}
}

func (f *follower) revoked(_ context.Context, parts []kafka.TopicPartition) {
	f.log.Info("partitions revoked", "partitions", fmt.Sprint(parts))
	f.releaseAll(parts, false)
	if f.o.OnOwnership != nil {
		f.o.OnOwnership(parts, false)
	}
}

func (f *follower) lost(_ context.Context, parts []kafka.TopicPartition) {
	f.m.Ready(false)
	f.log.Warn("partitions lost (group membership failed); dropping their open objects", "partitions", fmt.Sprint(parts))
	f.releaseAll(parts, true)
	if f.o.OnOwnership != nil {
		f.o.OnOwnership(parts, false)
	}
}

// writeMetas writes the TopicMeta of topics not yet described, or whose
// partition count grew, so that import recreates them with every partition.
func (f *follower) writeMetas(parts []kafka.TopicPartition) {
	f.mu.Lock()
	need := map[string]int{}
	for _, tp := range parts {
		if int(tp.Partition) >= f.metas[tp.Topic] {
			need[tp.Topic] = max(need[tp.Topic], int(tp.Partition)+1)
		}
	}
	f.mu.Unlock()
	if len(need) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(f.work, 30*time.Second)
	defer cancel()
	topics, err := f.kc.Topics(ctx)
	if err != nil {
		f.log.Warn("topic metadata not written", "err", err)
		return
	}
	for t, n := range need {
		info := topics[t]
		f.mu.Lock()
		id := f.ids[t]
		f.mu.Unlock()
		meta := catalog.TopicMeta{Topic: t, Partitions: max(info.Partitions, n), ReplicationFactor: info.ReplicationFactor, Format: f.o.Format, ExportedAt: time.Now().UTC(), ID: id}
		body, _ := json.MarshalIndent(meta, "", "  ")
		if err := store.WriteAll(ctx, f.b, catalog.TopicMetaKey(t), append(body, '\n'), nil); err != nil {
			f.m.Error("upload")
			f.log.Warn("topic metadata not written", "topic", t, "err", err)
			continue
		}
		f.mu.Lock()
		f.metas[t] = meta.Partitions
		f.mu.Unlock()
	}
}

// reportLag measures the owned partitions' lag every LagInterval until ctx ends.
func (f *follower) reportLag(ctx context.Context) {
	gapsSeen := map[kafka.TopicPartition]int64{}
	tick := time.NewTicker(f.o.LagInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := f.checkOwnedTopicIDs(ctx); err != nil {
			f.fail(err)
			return
		}
		lctx, cancel := context.WithTimeout(ctx, max(f.o.LagInterval, 5*time.Second))
		lags, err := f.gr.Lag(lctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				f.m.Error("lag")
				f.log.Debug("lag not measured", "err", err)
			}
			continue
		}
		f.m.Owned(len(f.gr.Assigned()))
		for _, l := range lags {
			f.m.Lag(l.Topic, l.Partition, l.Lag)
			if l.Start > l.Committed && l.Committed >= 0 && gapsSeen[l.TopicPartition] != l.Start {
				// The group's position fell off the log: the reader resumes at
				// the log start, so these records are lost to the bucket.
				gapsSeen[l.TopicPartition] = l.Start
				f.m.Error("gap")
				msg := fmt.Sprintf("%s/%d: retention deleted offsets %d-%d before they were exported; they are missing from the bucket (raise the topic's retention or the export's capacity)", l.Topic, l.Partition, l.Committed, l.Start-1)
				f.col.Warn(msg)
				f.log.Error("retention gap", "topic", l.Topic, "partition", l.Partition, "from", l.Committed, "to", l.Start-1)
			}
		}
	}
}

// shutdown finishes every worker within the shutdown timeout, leaves the group
// and returns the run's error. Only open objects that could not be finished
// make it time out: leaving the group and closing the client are bounded by
// leaveTimeout and only logged when they take longer (a member that joins
// while a killed one still holds the group waits for that one's session
// timeout; there is nothing of ours to finish then).
func (f *follower) shutdown(signalled bool) error {
	deadline := time.Now().Add(f.o.ShutdownTimeout)
	// Open objects get 4/5 of the time; leaving the group and closing the
	// client the rest, so the whole stop fits in the timeout.
	var releasing atomic.Bool
	releasing.Store(true)
	timer := time.AfterFunc(f.o.ShutdownTimeout*4/5, func() {
		if releasing.Load() {
			f.timedOut.Store(true)
			f.stopWork()
		}
	})
	f.mu.Lock()
	parts := make([]kafka.TopicPartition, 0, len(f.workers))
	for tp := range f.workers {
		parts = append(parts, tp)
	}
	f.mu.Unlock()
	if signalled {
		f.log.Info("stopping: finishing open objects", "partitions", len(parts), "timeout", f.o.ShutdownTimeout.String())
	}
	f.releaseAll(parts, false)
	releasing.Store(false)
	timer.Stop()
	f.m.Ready(false)
	bound := func() time.Duration { return max(0, min(time.Until(deadline), leaveTimeout)) }
	if !f.gr.Joined() {
		// Still joining (or never assigned anything): there is no
		// assignment to hand over, only a join to abandon.
		bound = func() time.Duration { return max(0, min(time.Until(deadline), leaveTimeout/10)) }
	}
	lctx, cancel := context.WithTimeout(context.Background(), bound())
	if err := f.gr.Leave(lctx); err != nil {
		f.log.Warn("leaving the group took too long; the group drops this member after its session timeout", "err", err)
	}
	cancel()
	// Closing waits for requests in flight (a join held by the coordinator,
	// one stuck at a silent broker), so past the bound the close goes on alone.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		f.gr.Close()
	}()
	select {
	case <-closed:
	case <-time.After(bound()):
		f.log.Warn("kafka client not closed in time; exiting without waiting for it")
	}
	f.stopWork()

	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.failure
	if f.timedOut.Load() {
		slices.Sort(f.abandoned)
		what := "nothing was open"
		if len(f.abandoned) > 0 {
			what = "abandoned " + strings.Join(f.abandoned, ", ") + "; those records are not committed, so the member that takes the partitions over exports them again"
		}
		terr := fmt.Errorf("%w after %s: %s", ErrShutdownTimeout, f.o.ShutdownTimeout, what)
		if err == nil {
			return terr
		}
		return fmt.Errorf("%w; %w", err, terr)
	}
	return err
}
