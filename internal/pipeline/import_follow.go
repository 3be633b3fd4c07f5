package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
)

// DefaultPollInterval is how often import --follow lists the bucket.
const DefaultPollInterval = 10 * time.Second

// LaneScanPolls is how many polls go by for one scan of the bucket while a
// Lane carries everything (a safety net; the lane unsettles when it misses records).
const LaneScanPolls = 10

// ImportFollowOptions configure a continuous import (import --follow).
type ImportFollowOptions struct {
	ImportOptions
	// PollInterval is the pause between two scans of the bucket
	// (DefaultPollInterval when 0).
	PollInterval time.Duration
	// ShutdownTimeout bounds finishing the open transactions once ctx ends
	// (DefaultShutdownTimeout when 0).
	ShutdownTimeout time.Duration
	// AfterScan, if set, is called after every scan with its number (from 1);
	// tests use it to wait for a scan instead of sleeping.
	AfterScan func(scan int)
	// Wake, if set, starts the next scan before PollInterval has passed
	// (migrate signals each object its exporter completes).
	Wake <-chan struct{}
	// Owns, if set, limits each scan to the source partitions it reports as
	// owned now (migrate: those its exporter owns). Ownership moves between
	// copies, so a partition taken (again) first fences the previous owner's
	// transactional writer and then reads the progress that is final after it.
	Owns func(topic string, partition int32) bool
	// Lane, if set, brings records from the exporter of the same process
	// (migrate); they are written as soon as they arrive, between scans.
	Lane *Lane
	// StopAfter, if above 0, ends the run with a partition's error once it
	// has failed that many scans in a row and the last failure is not a Kafka
	// fault (one-shot migrate: a record the target refuses, a schema id no
	// registry knows, would otherwise be retried while the migration waits for
	// it forever). 0: a service retries at every scan.
	StopAfter int
}

// importFollower is the state of a continuous import across scans.
type importFollower struct {
	kc       *kafka.Client
	b        *blob.Bucket
	o        *ImportFollowOptions
	log      *slog.Logger
	col      *Collector
	metrics  ImportMetrics
	targetOf map[string]string // prepared source topics → targets
	sourceOf map[string]string
	parts    map[string]map[int32]*partitionImport
	failed   map[*partitionImport]bool // retried with the progress reloaded
	failures map[*partitionImport]int  // scans failed in a row
	fatal    error                     // a partition's error after StopAfter failed scans
	skipped  map[string]bool           // unparsable keys already reported
}

// ImportFollow imports the selected topics continuously: every PollInterval it
// lists the bucket and imports, per partition in offset order, the objects past
// the partition's progress, each in one transaction with the progress (as
// Import). Objects are visible only once complete (S3 uploads; file:// renames
// into place), and fileblob's *.tmp files are ignored. An object that appears
// below a partition's progress is skipped with a warning; one that starts past
// it leaves a hole, which is waited on unless nothing of the partition was
// imported yet. Topics that appear later and match the selection are taken.
//
// When ctx ends, ImportFollow finishes the objects in flight (their
// transactions commit or abort; nothing is left half-written) and returns the
// summary with a nil error; past o.ShutdownTimeout it abandons them and returns
// ErrShutdownTimeout. A partition whose import fails is logged and retried at
// the next scan from its committed progress; target checks that fail (too few
// partitions, records the progress does not account for) end the import, and
// checks the target does not answer are made again at the next scan.
func ImportFollow(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o ImportFollowOptions) (Summary, error) {
	started := time.Now()
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if err := checkNotBackup(ctx, b, bucketName, o.TopicsDir); err != nil {
		return Summary{}, err
	}
	o.Group = o.group(bucketName)
	o.laneFed = o.Lane != nil
	f := &importFollower{
		kc: kc, b: b, o: &o, log: o.Logger, col: NewCollector(), metrics: o.metrics(),
		targetOf: map[string]string{}, sourceOf: map[string]string{},
		parts: map[string]map[int32]*partitionImport{}, failed: map[*partitionImport]bool{}, failures: map[*partitionImport]int{}, skipped: map[string]bool{},
	}
	f.log = Logger(f.log)
	defer f.closeAll()
	logMode(f.col, f.log, &o.ImportOptions)
	f.log.Info("import --follow starting", "progress_group", o.Group, "selection", o.Selector.String(), "bucket", bucketName, "shard", o.Shard.String(), "poll_interval", o.PollInterval.String())

	// Transactions run on work, which outlives ctx by the shutdown timeout so
	// that the object in flight is committed rather than aborted.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var expired atomic.Bool
	stopTimer := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(o.ShutdownTimeout, func() { expired.Store(true); cancelWork() })
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stopTimer()

	summary := func() Summary { return f.col.Summary("import", bucketName, started) }
	if err := f.loop(ctx, work); err != nil {
		return summary(), err
	}
	cancelWork()
	if expired.Load() {
		return summary(), fmt.Errorf("%w after %s: the objects in flight were abandoned (their transactions abort; a restart imports them)", ErrShutdownTimeout, o.ShutdownTimeout)
	}
	s := summary()
	f.log.Info("import --follow stopped", "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	return s, nil
}

// loop scans the bucket every PollInterval (sooner on Wake) until ctx ends,
// and writes what the lane brings in between.
func (f *importFollower) loop(ctx, work context.Context) error {
	o := f.o
	var laneReady <-chan struct{}
	if o.Lane != nil {
		laneReady = o.Lane.Ready()
	}
	poll := time.NewTimer(0)
	defer poll.Stop()
	skipped := 0
	for scan := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-laneReady:
			f.drainLane(ctx, work)
			continue
		case <-poll.C:
			// While the lane carries everything a scan finds nothing to
			// import, and holds the lane up while it lists and reads: scan
			// every LaneScanPolls polls only (every poll to delete objects).
			if o.Lane != nil && o.Lane.Settled() && !o.DeleteImported && skipped < LaneScanPolls-1 {
				skipped++
				poll.Reset(o.PollInterval)
				continue
			}
		case <-o.Wake:
			if o.Lane != nil && o.Lane.Settled() {
				continue // the lane carried the object's records
			}
		}
		skipped = 0
		if o.Lane != nil {
			o.Lane.settle()
		}
		if err := f.scan(ctx, work); err != nil {
			return err
		}
		f.metrics.Ready(true)
		if o.AfterScan != nil {
			o.AfterScan(scan)
		}
		scan++
		poll.Reset(o.PollInterval)
		if o.Lane != nil {
			// Runs kept until the progress reached them may go now.
			f.drainLane(ctx, work)
		}
	}
}

func (f *importFollower) closeAll() {
	for _, byP := range f.parts {
		for _, pi := range byP {
			pi.close()
		}
	}
}

// scan lists the bucket once and imports what is new. A listing error is
// logged and retried at the next scan.
func (f *importFollower) scan(ctx, work context.Context) error {
	cat, err := catalog.Scan(work, f.b, f.o.TopicsDir, f.o.Layout, false)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		f.metrics.Error("list")
		f.log.Warn("scan of the bucket failed; retrying at the next poll", "err", err)
		return nil
	}
	f.reportSkipped(cat)
	if err := checkOtherLayout(cat, f.o.Selector, f.o.Layout); err != nil {
		return err // the settings are wrong: waiting would not help
	}
	if err := f.prepareFresh(work, cat); err != nil {
		return err
	}
	run := f.partitionsToRun(cat)
	if err := f.fence(work, run); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		f.log.Warn("fencing the partitions' previous writers failed; retrying at the next poll", "err", err)
		return nil
	}
	f.runAll(ctx, work, run)
	return f.fatal
}

// prepareFresh checks (and creates) the targets of topics seen for the first
// time. A Kafka fault leaves them fresh for the next scan; a failed check
// ends the run.
func (f *importFollower) prepareFresh(work context.Context, cat *catalog.Catalog) error {
	var fresh []string
	names := cat.TopicNames()
	if f.o.Lane != nil {
		// The lane brings records before a topic's first object: its
		// description, written when the exporter takes it, is enough.
		for t := range cat.Metas {
			if _, ok := cat.Topics[t]; !ok {
				names = append(names, t)
			}
		}
		slices.Sort(names)
	}
	for _, t := range names {
		if _, ok := f.targetOf[t]; ok || !f.o.Selector.Matches(t) {
			continue
		}
		if !f.o.Files.Empty() && !slices.Contains(f.o.Files.Topics(), t) {
			continue
		}
		fresh = append(fresh, t)
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := f.prepare(work, cat, fresh); err != nil {
		if !kafkaFault(err) {
			return err
		}
		// The target did not answer (a broker restarting): a fault, not a
		// check that failed; the topics are fresh again at the next scan.
		f.metrics.Error("prepare")
		f.log.Warn("checking the new topics' targets failed; retrying at the next poll", "topics", strings.Join(fresh, ","), "err", err)
	}
	return nil
}

// partitionsToRun returns the partitions this copy imports in this scan, in
// topic and partition order, creating their state on first sight. A
// partition another copy took over is closed, to be fenced and reloaded if
// it comes back.
func (f *importFollower) partitionsToRun(cat *catalog.Catalog) []*partitionImport {
	var run []*partitionImport
	for src, dst := range f.targetOf {
		for _, po := range cat.Partitions(src) {
			po = filterGroups(po, f.o.Files)
			if len(po.Groups) == 0 || !f.o.Shard.Owns(src, po.Partition) {
				continue
			}
			if f.o.Owns != nil && !f.o.Owns(src, po.Partition) {
				if pi := f.parts[src][po.Partition]; pi != nil && !f.failed[pi] {
					pi.close()
					f.failed[pi] = true // taken again later: fence and reload
				}
				continue
			}
			if f.parts[src] == nil {
				f.parts[src] = map[int32]*partitionImport{}
			}
			pi := f.parts[src][po.Partition]
			if pi == nil {
				f.col.Partition(src, po.Partition)
				pi = newPartitionImport(importTask{src: po, target: dst}, &f.o.ImportOptions, f.o.Group, f.kc.Config(), f.col, f.log, f.metrics)
				f.parts[src][po.Partition] = pi
				f.failed[pi] = true // progress not loaded yet
			}
			pi.t.src = po
			run = append(run, pi)
		}
	}
	sort.Slice(run, func(i, j int) bool {
		a, b := run[i].t.src, run[j].t.src
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return run
}

// fence fences the previous writers of the partitions about to resume
// together (kafka.Client.FenceTxnIDs), so none waits on another's abandoned
// transaction: their own (per partition: --follow writes one partition per
// transaction) and their slots' (a one-shot import of the same progress
// group writes through them, see TxnSlot).
func (f *importFollower) fence(work context.Context, run []*partitionImport) error {
	var ids []string
	slots := map[string]bool{}
	for _, pi := range run {
		if f.failed[pi] {
			ids = append(ids, importTxnID(f.o.Group, pi.t.target, pi.t.src.Partition))
			slots[SlotTxnID(f.o.Group, f.o.Shard, TxnSlot(pi.t.target, pi.t.src.Partition))] = true
		}
	}
	for id := range slots {
		ids = append(ids, id)
	}
	return f.kc.FenceTxnIDs(work, ids)
}

// runAll runs one pass over each partition, --parallelism at a time.
func (f *importFollower) runAll(ctx, work context.Context, run []*partitionImport) {
	par := Parallelism(f.o.Parallelism)
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, par)
	)
	for _, pi := range run {
		mu.Lock()
		reload := f.failed[pi]
		mu.Unlock()
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := f.passOne(ctx, work, pi, reload)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				delete(f.failed, pi)
				delete(f.failures, pi)
				pi.lag()
				return
			}
			f.failed[pi] = true
			f.failures[pi]++
			if ctx.Err() != nil {
				return
			}
			// Kafka faults are ridden out here as everywhere (the migration's
			// lag measures give up on a cluster that stays away).
			if f.o.StopAfter > 0 && f.failures[pi] >= f.o.StopAfter && !kafkaFault(err) {
				if f.fatal == nil {
					f.fatal = fmt.Errorf("import of %s/%d failed %d times in a row: %w", pi.t.src.Topic, pi.t.src.Partition, f.failures[pi], err)
				}
				return
			}
			f.log.Warn("import of a partition failed; retrying at the next poll from its committed progress", "topic", pi.t.src.Topic, "partition", pi.t.src.Partition, "err", err)
		}()
	}
	wg.Wait()
}

func (f *importFollower) passOne(ctx, work context.Context, pi *partitionImport, reload bool) error {
	if reload {
		pi.close() // a failed transaction's writer is not reused
		pi.next, pi.lastKey, pi.lastSize = -1, "", 0
		// Another copy (or a killed run) may have imported this partition
		// until now: resume fences its writer before reading the progress.
		if err := pi.resume(work); err != nil {
			return err
		}
	}
	err := pi.pass(ctx, work, f.b, true)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// prepare maps new source topics to targets, creates missing targets and
// checks the existing ones as Import does, once per topic.
func (f *importFollower) prepare(ctx context.Context, cat *catalog.Catalog, topics []string) error {
	for _, src := range topics {
		dst, err := f.o.Renames.Target(src)
		if err != nil {
			return fmt.Errorf("rename %s: %w", src, err)
		}
		if other, dup := f.sourceOf[dst]; dup {
			return fmt.Errorf("topics %s and %s would both be imported into %s; their records would interleave, so refine --rename", other, src, dst)
		}
	}
	col := NewCollector() // prepareTargets' per-partition entries are made in scan
	if _, _, err := prepareTargets(ctx, f.kc, cat, topics, &f.o.ImportOptions, col, f.log); err != nil {
		return err
	}
	for _, w := range col.warnings {
		f.col.Warn(w)
	}
	for src, dst := range col.targets {
		f.targetOf[src], f.sourceOf[dst] = dst, src
		f.col.Target(src, dst)
	}
	return nil
}

// kafkaFault reports an error of Kafka that may pass: one it marks
// retriable, or a call that ran out of its timeout.
func kafkaFault(err error) bool {
	return kafka.Transient(err) || errors.Is(err, context.DeadlineExceeded)
}

// reportSkipped warns once per unparsable key; fileblob's *.tmp files of
// objects being written are expected and ignored.
func (f *importFollower) reportSkipped(cat *catalog.Catalog) {
	for _, k := range cat.Skipped {
		if f.skipped[k] || catalog.TempFile.MatchString(k) || strings.HasSuffix(k, ".tmp") {
			continue
		}
		f.skipped[k] = true
		f.log.Warn("key under the topics folder is not an object name; skipped", "key", k)
	}
}
