package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// checkNotBackup refuses the topics folder of kferry backups (which backup
// always writes under the default topics folder, beside its manifests): its
// native objects of a deleted topic's old lineage look like an export, those
// of the current lineage (under topics/lineage=N/) do not, and only the
// manifests tell which objects make up the backup.
func checkNotBackup(ctx context.Context, b *blob.Bucket, bucketName, topicsDir string) error {
	if strings.Trim(topicsDir, "/") != layout.DefaultTopicsDir {
		return nil
	}
	ids, err := catalog.ListBackups(ctx, b)
	if err != nil || len(ids) == 0 {
		return err
	}
	return fmt.Errorf("%w (%d manifests under _kferry/backups/, newest %s), not an export: restore it with kferry restore --from %s, which follows deleted and recreated topics and checks every object", ErrBackupBucket, len(ids), ids[len(ids)-1], bucketName)
}

// ImportOptions configure a one-shot import.
type ImportOptions struct {
	Selector  plan.Selector // source topics, as named in the bucket
	Files     layout.FileFilters
	Renames   layout.Renames
	TopicsDir string
	// Layout is where objects sit under a topic's folder: the export's
	// partitioner (nil: the default's partition=<p>).
	Layout            layout.Layout
	Strict            bool
	CreateTopics      bool
	ReplicationFactor int16 // -1: the broker's default
	Append            bool  // allow targets that already hold records
	Parallelism       int
	// HoleWait (with follow) is how long to wait for a missing object at an
	// offset hole before going past it (DefaultHoleWait when 0). Negative: go
	// past holes at once, for a bucket whose objects are known to appear in
	// order with nothing missing (migrate, whose exporter wrote them).
	HoleWait time.Duration
	Key      *seal.Key // decrypts encrypted objects
	// ContiguousOffsets states that the source partitions had no offset gaps
	// (no transactions, no compaction), so the records of an object without
	// an offsets record are at its start offset + index, and overlapping such
	// objects can be imported exactly. Without it they are refused (ErrOverlap).
	ContiguousOffsets bool
	Producer          kafka.WriterOptions
	// Group is the progress group on the target (ImportGroup of the bucket and
	// selection when empty): its offset on a target partition is the next
	// source offset to import.
	Group string
	// AtLeastOnce drops the transactions: records are produced idempotently
	// and the progress is committed after them, so an import interrupted and
	// run again may write an object's records twice.
	AtLeastOnce bool
	// TxnObjects bounds the objects one transaction carries (TxnBatchObjects
	// when 0; 1: one per object).
	TxnObjects int
	// Shard limits the import to the source partitions it owns.
	Shard    Shard
	Progress Progress
	// Metrics receives what the import does; nil for none.
	Metrics ImportMetrics
	// DeleteImported deletes an object (with its keys and headers siblings)
	// once the progress is committed past it: a staging bucket that does not
	// grow (migrate --delete-imported, import --follow --delete-imported).
	DeleteImported bool
	// OnCommit, if set, is called after each committed transaction with the
	// source and target offsets of the records it wrote (migrate translates
	// consumer-group offsets with them). Calls for one partition are in order.
	OnCommit func(Committed)
	Logger   *slog.Logger
	// DryRun returns the plan (Summary.Plan): target topics are not created,
	// writers are not fenced, nothing is written.
	DryRun bool
	// laneFed: a Lane moves the progress ahead of the objects, so objects
	// below it are expected, not worth a warning.
	laneFed bool
}

func (o *ImportOptions) group(bucketName string) string {
	if o.Group != "" {
		return o.Group
	}
	return ImportGroup(bucketName, o.TopicsDir, o.Selector, "", nil)
}

type importTask struct {
	src    *catalog.PartitionObjects
	target string
}

// ErrOtherLayout means selected topics have objects in the folders of another
// partitioner than the one import was given: importing the rest would leave
// them behind and look complete.
var ErrOtherLayout = catalog.ErrOtherLayout

// checkOtherLayout refuses a selection that includes topics with objects in
// other folders than l's.
func checkOtherLayout(cat *catalog.Catalog, sel plan.Selector, l layout.Layout) error {
	var topics []string
	for t := range cat.OtherLayout {
		if sel.Empty() || sel.Matches(t) {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	slices.Sort(topics)
	if l == nil {
		l = layout.DefaultLayout{}
	}
	return fmt.Errorf("%w: topic %s has objects outside the folders of the %s (e.g. %s); import with the export's --partitioner settings (and its --timezone, --locale), or leave the topic out with --topics",
		ErrOtherLayout, strings.Join(topics, ", "), l, cat.OtherLayout[topics[0]])
}

// Import writes the selected topics of the bucket into Kafka, each source
// partition's records in offset order into the same partition number of the
// (renamed) target topic. Target topics are checked, and created if missing,
// before any record is written.
func Import(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o ImportOptions) (Summary, error) {
	started := time.Now()
	log := Logger(o.Logger)
	if err := checkNotBackup(ctx, b, bucketName, o.TopicsDir); err != nil {
		return Summary{}, err
	}
	cat, err := catalog.Scan(ctx, b, o.TopicsDir, o.Layout, o.Strict)
	if err != nil {
		return Summary{}, err
	}
	if err := checkOtherLayout(cat, o.Selector, o.Layout); err != nil {
		return Summary{}, err
	}
	col := NewCollector()
	if n := len(cat.Skipped); n > 0 {
		msg := fmt.Sprintf("%d keys under %q are not Confluent object names and were skipped (first: %s); --strict makes this an error", n, o.TopicsDir, cat.Skipped[0])
		col.Warn(msg)
		log.Warn(msg)
	}
	if len(cat.Topics) == 0 {
		return Summary{}, fmt.Errorf("%w: the bucket %s holds no objects under %q; check the URL and --topics-dir", plan.ErrNothingSelected, bucketName, o.TopicsDir)
	}
	selected, err := plan.Select(cat.TopicNames(), o.Selector, "bucket "+bucketName)
	if err != nil {
		return Summary{}, err
	}
	if !o.Files.Empty() {
		var kept []string
		for _, t := range selected {
			for _, ft := range o.Files.Topics() {
				if ft == t {
					kept = append(kept, t)
				}
			}
		}
		if len(kept) == 0 {
			return Summary{}, fmt.Errorf("%w: --files names none of the topics in the bucket (%s)", plan.ErrNothingSelected, strings.Join(selected, ", "))
		}
		selected = kept
	}
	if err := preflight(ctx, b, cat, selected, o.Key); err != nil {
		return Summary{}, err
	}
	o.Group = o.group(bucketName)
	tasks, topics, err := prepareTargets(ctx, kc, cat, selected, &o, col, log)
	if err != nil {
		return Summary{}, err
	}
	if o.DryRun {
		return Summary{Command: "import", Bucket: bucketName, Started: started, Plan: importPlan(kc, bucketName, &o, tasks, topics, col)}, nil
	}
	logMode(col, log, &o)
	run := &importRun{b: b, o: &o, cfg: kc.Config(), col: col, log: log, metrics: o.metrics()}
	err = run.importSlots(ctx, kc, tasks)
	s := col.Summary("import", bucketName, started)
	if err != nil {
		return s, fmt.Errorf("%w (%d records were written before the error; see the summary for which partitions)", err, s.Records)
	}
	log.Info("import done", "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	return s, nil
}

func (o *ImportOptions) metrics() ImportMetrics {
	if o.Metrics == nil {
		return NoImportMetrics{}
	}
	return o.Metrics
}

// logMode says how the import keeps its progress.
func logMode(col *Collector, log *slog.Logger, o *ImportOptions) {
	if o.AtLeastOnce {
		col.Warn("--at-least-once: no transactions; an import interrupted and run again may write some records twice")
		return
	}
	log.Info("importing with transactions (exactly once)", "progress_group", o.Group)
}

// prepareTargets maps source topics to targets, checks every target's partition
// count and emptiness, and creates missing ones, all before any record moves.
func prepareTargets(ctx context.Context, kc *kafka.Client, cat *catalog.Catalog, selected []string, o *ImportOptions, col *Collector, log *slog.Logger) ([]importTask, []plan.Topic, error) {
	existing, err := kc.Topics(ctx)
	if err != nil {
		return nil, nil, err
	}
	targetOf := map[string]string{}
	sourceOf := map[string]string{}
	for _, src := range selected {
		dst, err := o.Renames.Target(src)
		if err != nil {
			return nil, nil, fmt.Errorf("rename %s: %w", src, err)
		}
		if other, dup := sourceOf[dst]; dup {
			return nil, nil, fmt.Errorf("topics %s and %s would both be imported into %s; their records would interleave, so refine --rename", other, src, dst)
		}
		sourceOf[dst], targetOf[src] = src, dst
	}
	var toCheck []string
	for _, src := range selected {
		dst, need := targetOf[src], cat.PartitionCount(src)
		info, ok := existing[dst]
		switch {
		case ok && info.Partitions < need:
			return nil, nil, fmt.Errorf("%w: %s has %d partitions but %s in the bucket has %d; add partitions first (kafka-topics --alter --topic %s --partitions %d)", ErrTargetPartitions, dst, info.Partitions, src, need, dst, need)
		case ok:
			toCheck = append(toCheck, dst)
		case !o.CreateTopics:
			return nil, nil, fmt.Errorf("%w: %s does not exist; create it with %d partitions or drop --create-topics=false", ErrTargetMissing, dst, need)
		}
	}
	if !o.Append {
		owned := func(dst string, p int32) bool { return o.Shard.Owns(sourceOf[dst], p) }
		warn, err := CheckTargetsEmpty(ctx, kc, o.Group, o.Shard, o.AtLeastOnce, o.DryRun, toCheck, owned)
		if err != nil {
			return nil, nil, err
		}
		if warn != "" {
			col.Warn(warn)
		}
	}
	for _, src := range selected {
		for _, po := range cat.Partitions(src) {
			warnMissingSidecars(filterGroups(po, o.Files), col)
		}
	}
	var tasks []importTask
	var topics []plan.Topic
	for _, src := range selected {
		dst := targetOf[src]
		partitions, err := catalog.Int32Partitions(src, cat.PartitionCount(src))
		if err != nil {
			return nil, nil, err
		}
		if info, ok := existing[dst]; ok {
			topics = append(topics, plan.Topic{Name: dst, Partitions: int32(info.Partitions), Action: "use"}) // #nosec G115 -- a broker's partition count
		} else {
			topics = append(topics, plan.Topic{Name: dst, Partitions: partitions, Action: "create", ReplicationFactor: o.ReplicationFactor})
		}
		if _, ok := existing[dst]; !ok && !o.DryRun {
			created, err := kc.CreateTopic(ctx, dst, partitions, o.ReplicationFactor)
			if err != nil {
				return nil, nil, err
			}
			if created {
				log.Info("topic created", "topic", dst, "partitions", cat.PartitionCount(src))
			}
		}
		col.Target(src, dst)
		for _, po := range cat.Partitions(src) {
			po := filterGroups(po, o.Files)
			if len(po.Groups) == 0 || !o.Shard.Owns(src, po.Partition) {
				continue
			}
			col.Partition(src, po.Partition)
			tasks = append(tasks, importTask{src: po, target: dst})
		}
	}
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].src.Bytes > tasks[j].src.Bytes })
	return tasks, topics, nil
}

// warnMissingSidecars warns of values objects without the keys (or headers)
// object other objects of their partition have: their records go in with
// null keys (no headers), which is right only if the export wrote them
// without --store-keys (--store-headers), and a sign of a lost object
// otherwise.
func warnMissingSidecars(po *catalog.PartitionObjects, col *Collector) {
	var keys, headers int
	for _, g := range po.Groups {
		if g.Keys != nil {
			keys++
		}
		if g.Headers != nil {
			headers++
		}
	}
	for _, c := range []struct {
		n    int
		view string
		has  func(catalog.Group) bool
	}{
		{keys, "keys", func(g catalog.Group) bool { return g.Keys != nil }},
		{headers, "headers", func(g catalog.Group) bool { return g.Headers != nil }},
	} {
		if c.n == 0 || c.n == len(po.Groups) {
			continue
		}
		var missing []string
		for _, g := range po.Groups {
			if !c.has(g) {
				missing = append(missing, g.Values.Key)
			}
		}
		col.Warn(fmt.Sprintf("%s/%d: %d of %d objects have no .%s object beside them (first: %s); their records are imported without %s: right if they were exported without --store-%s, a lost object otherwise",
			po.Topic, po.Partition, len(missing), len(po.Groups), c.view, missing[0], c.view, c.view))
	}
}

// filterGroups keeps the groups whose values object --files admits.
func filterGroups(po *catalog.PartitionObjects, f layout.FileFilters) *catalog.PartitionObjects {
	if f.Empty() {
		return po
	}
	out := &catalog.PartitionObjects{Topic: po.Topic, Partition: po.Partition}
	for _, g := range po.Groups {
		if f.Admits(po.Topic, g.Values.Key) {
			out.Groups = append(out.Groups, g)
			out.Bytes += g.Values.Size
		}
	}
	return out
}

// preflight reads the first record of each selected topic before any topic is
// created or record written, so a missing or wrong key, or an object that is
// not what its name says, fails the import with nothing changed.
func preflight(ctx context.Context, b *blob.Bucket, cat *catalog.Catalog, selected []string, key *seal.Key) error {
	for _, t := range selected {
		parts := cat.Partitions(t)
		if len(parts) == 0 {
			continue
		}
		gr, err := objset.OpenGroup(ctx, b, parts[0].Groups[0], key)
		if err != nil {
			return err
		}
		var rec record.Record
		err = gr.Next(&rec)
		gr.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

// importRun is what every partition of one import shares.
type importRun struct {
	b       *blob.Bucket
	o       *ImportOptions
	cfg     kafka.Config
	col     *Collector
	log     *slog.Logger
	metrics ImportMetrics
	// pool lends the at-least-once slots their writers.
	pool WriterPool
}

// importPlan describes the tasks of an import: each partition's objects, from
// the first one's start offset (how many records they hold, only reading them
// tells).
func importPlan(kc *kafka.Client, bucketName string, o *ImportOptions, tasks []importTask, topics []plan.Topic, col *Collector) *plan.Plan {
	p := &plan.Plan{Command: "import", From: bucketName, To: "cluster " + fmt.Sprint(kc.Config().Brokers), Topics: topics, Warnings: col.Warnings()}
	for _, t := range tasks {
		pt := plan.Task{Topic: t.src.Topic, Partition: t.src.Partition, From: -1, To: -1, Objects: len(t.src.Groups), Bytes: t.src.Bytes, Target: t.target}
		if len(t.src.Groups) > 0 {
			pt.From = t.src.Groups[0].Start
		}
		p.Tasks = append(p.Tasks, pt)
	}
	mode := "exactly once: transactions of whole objects of several partitions with their progress, in group " + o.Group
	if o.AtLeastOnce {
		mode = "at least once (no transactions)"
	}
	p.Notes = append(p.Notes, mode, "record counts are known once the objects are read; a partition with committed progress resumes after it")
	return p
}
