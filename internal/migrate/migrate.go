package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
)

// Mode says when a migration stops.
type Mode int

const (
	// Once stops when the target holds every record up to the source end
	// offsets captured at the start.
	Once Mode = iota
	// Follow runs until its context ends (a signal).
	Follow
	// Cutover runs until the lag of every partition is 0, then stops and
	// commits the final consumer-group offsets.
	Cutover
)

func (m Mode) String() string {
	return [...]string{"one-shot", "follow", "cutover"}[m]
}

// Defaults of a migration.
const (
	DefaultRotate       = 2 * time.Second
	DefaultPoll         = 2 * time.Second
	DefaultReport       = 30 * time.Second
	DefaultGroupsPeriod = 10 * time.Second
)

// ErrInterrupted means a one-shot migration or a cutover was stopped
// before the target caught up; a rerun with the same flags resumes it.
var ErrInterrupted = errors.New("migration interrupted before the target caught up")

// Metrics receives what a migration does (internal/metrics implements it).
type Metrics interface {
	ExportSide() pipeline.FollowMetrics
	ImportSide() pipeline.ImportMetrics
	// Lag is a source partition's records not yet on the target, and the
	// seconds since the oldest of them was first seen on the source.
	Lag(topic string, partition int32, records int64, seconds float64)
	// GroupOffsetsCommitted counts translated offsets committed on the target.
	GroupOffsetsCommitted(n int)
}

// Options configure a migration: a continuous export from the source
// cluster and a continuous import into the target running together through
// one bucket prefix. Export and Import are set as for export --follow and
// import --follow; Migrate fixes what the pairing needs (native objects, so
// keys, headers, timestamps and offsets travel; source timestamps kept; one
// exporter writing each partition's objects in order, so offset holes are
// transaction markers or compaction and are passed at once).
type Options struct {
	Export pipeline.FollowOptions
	Import pipeline.ImportFollowOptions
	Mode   Mode
	// Groups selects the consumer groups of the source whose offsets are
	// translated onto the target; nil: none.
	Groups *regexp.Regexp
	// LagInterval is how often lag is measured (2s when 0); ReportInterval how
	// often it is logged (DefaultMigrateReport when 0); GroupsInterval how often
	// group offsets are translated while following (DefaultMigrateGroupsPeriod).
	LagInterval, ReportInterval, GroupsInterval time.Duration
	Metrics                                     Metrics
	Logger                                      *slog.Logger
	// Direct hands the records the exporter reads to the importer as well
	// (pipeline.Lane): they reach the target without waiting for their
	// object. Not with schema id rewriting, which happens in decoding.
	// LaneBytes bounds the record bytes handed over and not yet written
	// (pipeline.DefaultLaneBytes when 0).
	Direct    bool
	LaneBytes int64
	// DryRun returns the plan (Summary.Plan): no topic is created, nothing
	// is read or written.
	DryRun bool
}

// DefaultGroup is the default name of a migration's consumer group on the
// source and its progress group on the target: one per bucket URL (without
// secrets), selection and renames, so a rerun with the same flags resumes.
func DefaultGroup(bucketURL, topicsDir string, sel plan.Selector, renames []string) string {
	return pipeline.GroupName("kferry-migrate-", bucketURL, topicsDir, sel, strings.Join(renames, "\x00"))
}

// Run copies the selected topics from src to dst through the bucket: an
// exporter (a member of o.Export.Group on src) writes native objects, an
// importer writes them into dst exactly once (transactions with its progress
// in o.Import.Group on dst), and a monitor measures the lag per partition and,
// with o.Groups, translates the source's consumer-group offsets so that
// consumers can move to dst and resume at the same record. Target topics are
// created first with the source's partition counts and configs.
//
// MigrateOnce returns when the target holds everything up to the end offsets
// captured at the start, MigrateCutover when the lag is 0 everywhere (final
// group offsets committed), MigrateFollow when ctx ends (nil error).
func Run(ctx context.Context, src, dst *kafka.Client, b *blob.Bucket, bucketName string, o Options) (pipeline.Summary, error) {
	started := time.Now()
	none := pipeline.Summary{Command: "migrate", Bucket: bucketName, Started: started}
	mg, err := newMigration(src, dst, &o)
	if err != nil {
		return pipeline.Summary{}, err
	}
	topics, err := mg.prepare(ctx)
	if err != nil {
		return none, err
	}
	if len(topics) == 0 && o.Mode != Follow {
		return none, fmt.Errorf("%w: no topic of the source matches %s (only --follow waits for topics to appear)", plan.ErrNothingSelected, o.Export.Selector.String())
	}
	if o.DryRun {
		return mg.dryRun(ctx, topics, none)
	}
	if o.Mode == Once {
		if mg.captured, err = src.Ranges(ctx, topics); err != nil {
			return none, err
		}
	}
	mg.log.Info("migrate starting", "direct", o.Direct, "mode", o.Mode.String(), "group", o.Export.Group, "selection", o.Export.Selector.String(), "bucket", bucketName, "groups", regexString(o.Groups))

	expCtx, stopExport := context.WithCancel(ctx)
	impCtx, stopImport := context.WithCancel(ctx)
	defer stopExport()
	defer stopImport()
	var (
		wg             sync.WaitGroup
		expSum, impSum pipeline.Summary
		expErr, impErr error
	)
	failed := make(chan struct{}, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if expSum, expErr = pipeline.Follow(expCtx, src, b, bucketName, o.Export); expErr != nil {
			failed <- struct{}{}
		}
	}()
	go func() {
		defer wg.Done()
		if impSum, impErr = pipeline.ImportFollow(impCtx, dst, b, bucketName, o.Import); impErr != nil {
			failed <- struct{}{}
		}
	}()

	done, err := mg.watch(ctx, failed)
	owned := mg.ownedNow() // before stopping gives every partition up
	stopExport()
	stopImport()
	wg.Wait()
	if err == nil {
		err = errors.Join(expErr, impErr)
	}
	var left string
	if err == nil && !done && o.Mode != Follow {
		// Stopped early: a fresh measure says what is left (the last one may
		// be old, or missing when the run was short).
		done, left = mg.finalMeasure(ctx)
	}
	if err == nil && done && o.Mode != Follow && o.Direct && o.Import.DeleteImported {
		err = mg.deleteImported(ctx, dst, b, bucketName, owned)
	}
	if err == nil && done && o.Groups != nil && o.Mode != Follow {
		err = mg.translateGroups(context.WithoutCancel(ctx), true, owned)
	}
	mg.report(true)
	s := summarize(impSum, expSum, bucketName, started)
	if err == nil && !done && o.Mode != Follow {
		err = fmt.Errorf("%w: %s; run it again with the same flags to resume", ErrInterrupted, left)
	}
	mg.log.Info("migrate stopped", "records", s.Records, "seconds", s.Seconds, "caught_up", done)
	return s, err
}

// finalMeasureTimeout bounds the measure of what is left when a one-shot
// migration or a cutover stops early.
const finalMeasureTimeout = 15 * time.Second

// finalMeasure measures once more after the run stopped early (its context
// ended) and reports whether the mode's goal is reached after all, or else
// what is left, in a few words.
func (mg *migration) finalMeasure(ctx context.Context) (bool, string) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalMeasureTimeout)
	defer cancel()
	caughtUp, err := mg.measure(mctx)
	switch {
	case err != nil:
		return false, fmt.Sprintf("what is left could not be measured (%v)", err)
	case caughtUp:
		mg.log.Info("stopped, but the target had caught up already")
		return true, ""
	}
	return false, mg.leftLine()
}

// watch measures lag every LagInterval until the mode's end (done true), ctx
// ends or a side fails. A one-shot migration or a cutover gives up with
// kafka.ErrUnavailable once the measures have failed pipeline.PartitionRestarts
// times in a row over the Kafka timeout (the longer of the two clusters'), as
// import does: a cluster that stays away would otherwise keep it running for
// ever, its sides retrying at every scan.
func (mg *migration) watch(ctx context.Context, failed <-chan struct{}) (done bool, err error) {
	tick := time.NewTicker(mg.o.LagInterval)
	defer tick.Stop()
	lastReport, lastGroups := time.Now(), time.Time{}
	var faults int
	var faultSince time.Time
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-failed:
			return false, nil
		case <-tick.C:
		}
		caughtUp, err := mg.measure(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			if faults++; faults == 1 {
				faultSince = time.Now()
			}
			if err := mg.giveUp(faults, time.Since(faultSince), err); err != nil {
				return false, err
			}
			mg.log.Warn("measuring lag failed; trying again", "error", err.Error())
			continue
		}
		faults = 0
		if caughtUp && mg.o.Mode != Follow {
			return true, nil
		}
		if time.Since(lastReport) >= mg.o.ReportInterval {
			mg.report(false)
			lastReport = time.Now()
		}
		if mg.o.Groups != nil && time.Since(lastGroups) >= mg.o.GroupsInterval {
			if err := mg.translateGroups(ctx, false, mg.ownedNow()); err != nil && ctx.Err() == nil {
				mg.log.Warn("translating consumer-group offsets failed; trying again", "error", err.Error())
			}
			lastGroups = time.Now()
		}
	}
}

// giveUp returns the error that ends a one-shot migration or a cutover whose
// lag measures have failed faults times in a row for faulty, nil while it
// should go on trying (and always in Follow mode, a service).
func (mg *migration) giveUp(faults int, faulty time.Duration, err error) error {
	timeout := func(c *kafka.Client) time.Duration {
		if t := c.Config().Timeout; t > 0 {
			return t
		}
		return kafka.DefaultTimeout
	}
	src, dst := timeout(mg.src), timeout(mg.dst)
	if mg.o.Mode == Follow || faults <= pipeline.PartitionRestarts || faulty < max(src, dst) {
		return nil
	}
	return fmt.Errorf("%w: migrate gave up after %d failed lag measures over %s (--source-timeout %s, --target-timeout %s): %w; once the brokers answer again, run the same command: it resumes from the committed progress",
		kafka.ErrUnavailable, faults, faulty.Round(100*time.Millisecond), src, dst, err)
}

// migration is the state a migration's monitor keeps.
type migration struct {
	src, dst *kafka.Client
	o        *Options
	log      *slog.Logger
	m        Metrics
	captured []kafka.PartitionRange // one-shot: the ends to reach

	mu       sync.Mutex
	parts    map[partKey]*migratedPart
	targetOf map[string]string
	// committed remembers translated offsets already committed on the target.
	committed map[groupKey]int64
	warned    map[groupKey]bool
	owned     map[partKey]bool // partitions this copy's exporter owns
	// wake starts the importer's next scan (an object completed, partitions
	// taken: their topics' descriptions are in the bucket).
	wake chan struct{}
	// planTopics and planWarnings are what prepare found (for a dry run).
	planTopics   []plan.Topic
	planWarnings []string
}

type partKey struct {
	topic     string
	partition int32
}

type groupKey struct {
	group string
	partKey
}

func newMigration(src, dst *kafka.Client, o *Options) (*migration, error) {
	if o.Export.Group == "" || o.Import.Group == "" {
		return nil, errors.New("migrate: no group")
	}
	if o.LagInterval <= 0 {
		o.LagInterval = pipeline.DefaultLagInterval
	}
	if o.ReportInterval <= 0 {
		o.ReportInterval = DefaultReport
	}
	if o.GroupsInterval <= 0 {
		o.GroupsInterval = DefaultGroupsPeriod
	}
	if o.Export.RotateInterval <= 0 {
		o.Export.RotateInterval = DefaultRotate
	}
	if o.Import.PollInterval <= 0 {
		o.Import.PollInterval = DefaultPoll
	}
	if o.Mode != Follow && o.Import.StopAfter == 0 {
		// A run that waits to catch up must not wait on a partition that
		// cannot go on (a record the target refuses, a schema id no registry
		// knows): after the restarts a Kafka fault gets, its error ends it.
		o.Import.StopAfter = pipeline.PartitionRestarts
	}
	mg := &migration{src: src, dst: dst, o: o, log: o.Logger, m: o.Metrics,
		parts: map[partKey]*migratedPart{}, targetOf: map[string]string{},
		committed: map[groupKey]int64{}, warned: map[groupKey]bool{}, owned: map[partKey]bool{}}
	mg.log = pipeline.Logger(mg.log)
	if mg.m == nil {
		mg.m = noMigrateMetrics{}
	}
	o.Export.Logger, o.Import.Logger = mg.log.With("side", "export"), mg.log.With("side", "import")
	o.Export.Format, o.Export.StoreKeys, o.Export.StoreHeaders = "native", false, false
	em, im := mg.m.ExportSide(), mg.m.ImportSide()
	if em == nil {
		em = pipeline.NoFollowMetrics{}
	}
	if im == nil {
		im = pipeline.NoImportMetrics{}
	}
	wake := make(chan struct{}, 1)
	mg.wake = wake
	o.Export.Metrics, o.Import.Wake, o.Import.Metrics = wakingMetrics{FollowMetrics: em, wake: wake}, wake, im
	o.Import.Selector, o.Import.TopicsDir = o.Export.Selector, o.Export.Naming.TopicsDir
	o.Import.HoleWait = -1
	if o.Direct {
		lane := pipeline.NewLane(o.LaneBytes)
		o.Export.Lane, o.Import.Lane = lane, lane
	}
	// Copies started with the same flags share the work: each imports the
	// partitions its exporter owns, so one process writes a partition's
	// objects and its records.
	o.Export.OnOwnership = mg.ownership
	o.Import.Owns = mg.owns
	o.Import.Producer.KeepTimestamps = true
	o.Import.Key = o.Export.Key
	if o.Groups != nil {
		o.Import.OnCommit = mg.committedTxn // the offset map is for group translation only
	}
	return mg, nil
}

func (mg *migration) ownership(parts []kafka.TopicPartition, owned bool) {
	mg.mu.Lock()
	for _, tp := range parts {
		if owned {
			mg.owned[partKey{tp.Topic, tp.Partition}] = true
		} else {
			delete(mg.owned, partKey{tp.Topic, tp.Partition})
		}
	}
	mg.mu.Unlock()
	if owned {
		if mg.o.Import.Lane != nil {
			mg.o.Import.Lane.Unsettle() // their first objects are to be found
		}
		select {
		case mg.wake <- struct{}{}:
		default:
		}
	}
}

func (mg *migration) owns(topic string, partition int32) bool {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	return mg.owned[partKey{topic, partition}]
}

// ownedNow is a copy of the partitions owned now.
func (mg *migration) ownedNow() map[partKey]bool {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	out := make(map[partKey]bool, len(mg.owned))
	for k := range mg.owned {
		out[k] = true
	}
	return out
}

// wakingMetrics passes an exporter's metrics on and wakes the importer when an
// object is complete, so a record waits for the rotation, not for a poll too.
type wakingMetrics struct {
	pipeline.FollowMetrics
	wake chan struct{}
}

func (w wakingMetrics) ObjectWritten(topic string, partition int32, records, bytes int64, upload time.Duration) {
	w.FollowMetrics.ObjectWritten(topic, partition, records, bytes, upload)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

type noMigrateMetrics struct{}

func (noMigrateMetrics) ExportSide() pipeline.FollowMetrics { return pipeline.NoFollowMetrics{} }
func (noMigrateMetrics) ImportSide() pipeline.ImportMetrics { return pipeline.NoImportMetrics{} }
func (noMigrateMetrics) Lag(string, int32, int64, float64)  {}
func (noMigrateMetrics) GroupOffsetsCommitted(int)          {}

// prepare resolves the selection on the source and creates the missing target
// topics with the source's partition counts and configs; it refuses targets
// with fewer partitions, or holding records this migration did not write.
// It returns the selected source topics.
func (mg *migration) prepare(ctx context.Context) ([]string, error) {
	topics, err := mg.selectTopics(ctx)
	if err != nil {
		return nil, err
	}
	if len(topics) == 0 {
		return nil, nil // a regex that matches nothing yet: topics are taken as they appear
	}
	srcTopics, err := mg.src.DescribeTopics(ctx, topics)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	existing, err := mg.dst.DescribeTopics(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	var targets []string // those that exist already: a topic created here is empty
	for _, t := range topics {
		target := mg.targetOf[t]
		want := srcTopics[t]
		if cur, ok := existing[target]; ok {
			targets = append(targets, target)
			if cur.Partitions < want.Partitions {
				return nil, fmt.Errorf("%w: %s has %d partitions on the target but %s has %d on the source; add partitions first (kafka-topics --alter --topic %s --partitions %d)", pipeline.ErrTargetPartitions, target, cur.Partitions, t, want.Partitions, target, want.Partitions)
			}
			mg.planTopics = append(mg.planTopics, plan.Topic{Name: target, Partitions: int32(cur.Partitions), Action: "use"}) // #nosec G115 -- a broker's partition count
			continue
		}
		if !mg.o.Import.CreateTopics {
			return nil, fmt.Errorf("target topic %s does not exist; create it with %d partitions or drop --create-topics=false", target, want.Partitions)
		}
		partitions, err := catalog.Int32Partitions(t, want.Partitions)
		if err != nil {
			return nil, err
		}
		mg.planTopics = append(mg.planTopics, plan.Topic{Name: target, Partitions: partitions, Action: "create", ReplicationFactor: mg.o.Import.ReplicationFactor, Configs: want.Configs})
		if mg.o.DryRun {
			continue
		}
		if _, err := mg.dst.CreateTopicWithConfigs(ctx, target, partitions, mg.o.Import.ReplicationFactor, want.Configs); err != nil {
			return nil, fmt.Errorf("create target topic %s: %w", target, err)
		}
		mg.log.Info("created target topic", "topic", target, "partitions", want.Partitions, "configs", len(want.Configs))
	}
	if !mg.o.Import.Append {
		all := func(string, int32) bool { return true }
		warn, err := pipeline.CheckTargetsEmpty(ctx, mg.dst, mg.o.Import.Group, mg.o.Import.Shard, mg.o.Import.AtLeastOnce, mg.o.DryRun, targets, all)
		if err != nil {
			return nil, err
		}
		if warn != "" {
			mg.planWarnings = append(mg.planWarnings, warn)
		}
	}
	return topics, nil
}

// selectTopics lists the source topics the selection takes now and their
// target names.
func (mg *migration) selectTopics(ctx context.Context) ([]string, error) {
	all, err := mg.src.Topics(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sel := mg.o.Export.Selector
	topics, err := plan.Select(names, sel, "source cluster "+fmt.Sprint(mg.src.Config().Brokers))
	if errors.Is(err, plan.ErrNothingSelected) && sel.Regex != nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mg.mu.Lock()
	defer mg.mu.Unlock()
	for _, t := range topics {
		if _, ok := mg.targetOf[t]; ok {
			continue
		}
		target, err := mg.o.Import.Renames.Target(t)
		if err != nil {
			return nil, fmt.Errorf("rename %s: %w", t, err)
		}
		for src, dst := range mg.targetOf {
			if dst == target {
				return nil, fmt.Errorf("topics %s and %s would both be migrated into %s; refine --rename", src, t, target)
			}
		}
		mg.targetOf[t] = target
	}
	return topics, nil
}

func regexString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
}

// dryRun returns the migration's plan: the source partitions as they are now
// (a continuous migration goes on past them), the target topics and the mode.
func (mg *migration) dryRun(ctx context.Context, topics []string, none pipeline.Summary) (pipeline.Summary, error) {
	ranges, err := mg.src.Ranges(ctx, topics)
	if err != nil {
		return none, err
	}
	p := pipeline.RangePlan("migrate", "cluster "+fmt.Sprint(mg.src.Config().Brokers), "cluster "+fmt.Sprint(mg.dst.Config().Brokers)+" via "+none.Bucket, ranges)
	for i := range p.Tasks {
		p.Tasks[i].Target = mg.targetOf[p.Tasks[i].Topic]
	}
	p.Topics, p.Warnings = mg.planTopics, mg.planWarnings
	p.Notes = append(p.Notes, "mode "+mg.o.Mode.String()+", consumer group "+mg.o.Export.Group+", group offsets "+regexString(mg.o.Groups))
	none.Plan = p
	return none, nil
}
