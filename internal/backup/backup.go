package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// ErrGaps means a backup completed but records were missing: retention removed
// them before they could be read. The manifest records each gap.
var ErrGaps = errors.New("backup has gaps")

// BackupOptions configure a backup.
type BackupOptions struct {
	Selector plan.Selector
	// Groups selects the consumer groups whose offsets are kept; nil keeps every
	// group that has committed offsets on the selected topics.
	Groups *regexp.Regexp
	Naming layout.Naming
	// Key, if set, encrypts every object and the manifest (pkg/seal); an
	// incremental backup must use the key of the backups before it.
	Key         *seal.Key
	FlushSize   int
	RotateBytes int64
	Parallelism int
	Version     string
	// SkipUnchanged writes no manifest when nothing changed since the newest
	// backup (no new records, same topics, configs and group offsets); Backup
	// then returns that backup's manifest. backup --follow sets it.
	SkipUnchanged bool
	Progress      pipeline.Progress
	Logger        *slog.Logger
	Now           func() time.Time
	// DryRun returns the plan (Summary.Plan) without reading a record or
	// writing anything.
	DryRun bool
	// Registry, if set, is the source cluster's Schema Registry: the schemas
	// of wire-format keys and values are stored with the backup (SchemasKey),
	// so a restore into a cluster with an empty registry needs nothing else.
	Registry schemareg.Source
}

// backupPartition is one partition's manifest entry being built.
type backupPartition struct {
	mu     sync.Mutex
	entry  manifest.Partition
	digest []byte // roller's array once a record was rolled
	roller manifest.Roller
	// resumeAt is where the previous backup of this lineage ended (the start
	// offset for a new one): reading starts later only if retention removed
	// records in between.
	resumeAt int64
	// knownGaps counts the gaps earlier backups recorded; later ones are
	// this run's.
	knownGaps int
	// per open object
	minTS, maxTS int64
}

// Backup copies the selected topics into native objects and writes a manifest
// that covers them, their configs and the consumer groups' offsets. A bucket that
// already holds a backup gets an incremental one: only records after the previous
// manifest's end offsets are read, and the new manifest covers everything. The
// manifest is written last, so a crashed backup leaves no manifest claiming data
// it does not have, and a rerun rewrites the same object names.
func Backup(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o BackupOptions) (pipeline.Summary, *manifest.Manifest, error) {
	br, err := startBackup(ctx, kc, b, bucketName, o)
	if err != nil {
		return pipeline.Summary{}, nil, err
	}
	if err := br.selectTopics(ctx); err != nil {
		return pipeline.Summary{}, nil, err
	}
	br.planPartitions()
	if o.DryRun {
		return br.dryRunSummary(), nil, nil
	}
	pipeline.SetTotal(o.Progress, pipeline.OffsetsIn(br.tasks))
	native, err := format.Lookup("native")
	if err != nil {
		return pipeline.Summary{}, nil, err
	}
	if err := br.export(ctx, native); err != nil {
		return br.summary(), nil, fmt.Errorf("%w; no manifest was written, so the bucket's newest backup is still %s", err, orNone(br.m.Parent))
	}
	br.reportGaps()
	groups, err := br.groupOffsets(ctx)
	if err != nil {
		return br.summary(), nil, err
	}
	assemble(br.m, br.selected, br.details, br.parts, groups)
	carryOver(br.m, br.prev, br.selected, func(t string) bool { _, ok := br.all[t]; return ok }, br.col)
	if o.SkipUnchanged && br.prev != nil && len(br.gaps) == 0 && sameContent(br.prev, br.m) {
		br.log.Debug("nothing changed since the newest backup; no manifest written", "newest", br.prev.ID)
		return br.summary(), br.prev, nil
	}
	if err := br.storeSchemas(ctx); err != nil {
		return br.summary(), nil, err
	}
	return br.writeManifest(ctx)
}

// backupRun is one backup's state, shared by the steps of Backup.
type backupRun struct {
	kc         *kafka.Client
	b          *blob.Bucket
	bucketName string
	o          BackupOptions
	log        *slog.Logger
	now        func() time.Time
	started    time.Time
	prev       *manifest.Manifest // the bucket's newest backup, nil if none
	m          *manifest.Manifest // the manifest this run writes
	all        map[string]kafka.TopicInfo
	selected   []string
	details    map[string]kafka.TopicDetails
	ranges     []kafka.PartitionRange
	col        *pipeline.Collector
	parts      map[string]map[int32]*backupPartition
	tasks      []kafka.PartitionRange // the ranges still to read, longest first
	// gaps lists the ranges retention removed before they were read; the
	// partitions' OnGap callbacks append to it concurrently.
	gapsMu sync.Mutex
	gaps   []string
	ids    schemaIDs // with o.Registry
}

// startBackup loads the bucket's newest backup and starts the manifest that
// follows it, refusing an id that does not sort after it.
func startBackup(ctx context.Context, kc *kafka.Client, b *blob.Bucket, bucketName string, o BackupOptions) (*backupRun, error) {
	br := &backupRun{kc: kc, b: b, bucketName: bucketName, o: o, now: time.Now, ids: schemaIDs{ids: map[int]struct{}{}}}
	if o.Now != nil {
		br.now = o.Now
	}
	br.started = br.now()
	br.log = pipeline.Logger(o.Logger)
	prev, err := catalog.LoadManifest(ctx, b, "", o.Key)
	if err != nil && !errors.Is(err, manifest.ErrNoBackup) {
		return nil, err
	}
	br.prev = prev
	br.m = &manifest.Manifest{FormatVersion: manifest.FormatVersion, ID: manifest.NewID(br.started), KferryVersion: o.Version, Started: br.started.UTC()}
	if prev != nil {
		br.m.Parent = prev.ID
		if br.m.ID <= prev.ID {
			return nil, fmt.Errorf("backup id %s is not after the newest backup %s; check the clock", br.m.ID, prev.ID)
		}
	}
	return br, nil
}

// selectTopics asks the cluster for its id, its topics, the selected topics'
// details and their partitions' offset ranges.
func (br *backupRun) selectTopics(ctx context.Context) error {
	var err error
	if br.m.ClusterID, err = br.kc.ClusterID(ctx); err != nil {
		return err
	}
	if br.all, err = br.kc.Topics(ctx); err != nil {
		return err
	}
	names := make([]string, 0, len(br.all))
	for n := range br.all {
		names = append(names, n)
	}
	if br.selected, err = plan.Select(names, br.o.Selector, br.source()); err != nil {
		return err
	}
	if br.details, err = br.kc.DescribeTopics(ctx, br.selected); err != nil {
		return err
	}
	br.ranges, err = br.kc.Ranges(ctx, br.selected)
	return err
}

// source names the cluster in plans and selection errors.
func (br *backupRun) source() string {
	return "cluster " + fmt.Sprint(br.kc.Config().Brokers)
}

// planPartitions continues each partition's entry of the previous manifest and
// collects the ranges still to read, longest first, and the gaps retention
// left since the previous backup.
func (br *backupRun) planPartitions() {
	br.col = pipeline.NewCollector()
	br.parts = map[string]map[int32]*backupPartition{}
	for _, r := range br.ranges {
		bp, task := planPartition(br.prev, br.details[r.Topic], r, br.col)
		if task.Start > bp.resumeAt {
			br.gaps = append(br.gaps, fmt.Sprintf("%s/%d offsets %d-%d", r.Topic, r.Partition, bp.resumeAt, task.Start-1))
		}
		if br.parts[r.Topic] == nil {
			br.parts[r.Topic] = map[int32]*backupPartition{}
		}
		br.parts[r.Topic][r.Partition] = bp
		br.col.Partition(r.Topic, r.Partition)
		if task.Start < task.End {
			br.tasks = append(br.tasks, task)
		}
	}
	sort.Slice(br.tasks, func(i, j int) bool {
		return br.tasks[i].End-br.tasks[i].Start > br.tasks[j].End-br.tasks[j].Start
	})
}

// dryRunSummary is the summary of a dry run: the plan, nothing read or written.
func (br *backupRun) dryRunSummary() pipeline.Summary {
	p := pipeline.RangePlan("backup", br.source(), br.bucketName, br.tasks)
	p.Notes = append(p.Notes, "backup id "+br.m.ID+", parent "+orNone(br.m.Parent))
	p.Warnings = br.col.Warnings()
	return pipeline.Summary{Command: "backup", Bucket: br.bucketName, Started: br.started, Plan: p}
}

// export reads the planned ranges into native objects, one partition export
// per range, recording each object and gap in the partition's entry.
func (br *backupRun) export(ctx context.Context, native format.Format) error {
	eo := &pipeline.ExportOptions{Format: "native", Naming: br.o.Naming, FlushSize: br.o.FlushSize, RotateBytes: br.o.RotateBytes, Key: br.o.Key, Progress: br.o.Progress, Logger: br.log}
	br.log.Info("backup starting", "id", br.m.ID, "parent", br.m.Parent, "topics", len(br.selected), "partitions", len(br.ranges), "bucket", br.bucketName)
	return pipeline.RunPartitions(ctx, br.kc, br.tasks, br.o.Parallelism, func(r kafka.PartitionRange) *pipeline.PartitionExport {
		return br.partitionExport(eo, native, r)
	})
}

// partitionExport is the export of one range, wired to its partition's entry.
func (br *backupRun) partitionExport(eo *pipeline.ExportOptions, native format.Format, r kafka.PartitionRange) *pipeline.PartitionExport {
	bp := br.parts[r.Topic][r.Partition]
	peo := eo
	if l := bp.entry.Lineage; l > 0 {
		// A new lineage starts at offsets the old one has objects for: its
		// objects get names of their own, or they would overwrite objects
		// that older manifests list.
		lo := *eo
		lo.Naming.TopicsDir = lineageDir(eo.Naming.TopicsDir, l)
		peo = &lo
	}
	pe := &pipeline.PartitionExport{Opts: peo, Bucket: br.b, Formats: objset.Formats{native}, Col: br.col, Log: br.log, Range: r}
	pe.OnRecord = bp.addRecord
	if br.o.Registry != nil {
		pe.OnRecord = func(rec *record.Record) { bp.addRecord(rec); br.ids.add(rec) }
	}
	pe.OnCommit = func(set *objset.Writer) { bp.addObject(set, br.m.ID) }
	pe.OnGap = func(from, to int64) {
		bp.addGap(from, to, "retention removed these records while the backup ran")
		br.gapsMu.Lock()
		br.gaps = append(br.gaps, fmt.Sprintf("%s/%d offsets %d-%d", r.Topic, r.Partition, from, to-1))
		br.gapsMu.Unlock()
	}
	return pe
}

// reportGaps puts the gaps this run found into the partitions' summaries.
func (br *backupRun) reportGaps() {
	for topic, byP := range br.parts {
		for p, bp := range byP {
			if found := bp.entry.Gaps[bp.knownGaps:]; len(found) > 0 {
				br.col.Update(topic, p, func(ps *pipeline.PartitionSummary) { ps.Gaps = found })
			}
		}
	}
}

// groupOffsets returns the offsets of the consumer groups the backup keeps.
func (br *backupRun) groupOffsets(ctx context.Context) ([]kafka.GroupOffset, error) {
	groups, err := br.kc.GroupOffsets(ctx, br.o.Groups, br.selected)
	if err != nil {
		return nil, err
	}
	if br.o.Groups == nil {
		groups = slices.DeleteFunc(groups, func(g kafka.GroupOffset) bool {
			// A restore's own progress is not a consumer's position; carrying it
			// into a backup would make a later restore think it is resuming.
			return strings.HasPrefix(g.Group, "kferry-restore-")
		})
	}
	return groups, nil
}

// writeManifest seals and writes the manifest, the last step of a backup, and
// returns ErrGaps if retention removed records before they were read.
func (br *backupRun) writeManifest(ctx context.Context) (pipeline.Summary, *manifest.Manifest, error) {
	m := br.m
	m.Warnings = br.col.Warnings()
	m.Finished = br.now().UTC()
	body, err := manifest.MarshalSealed(m, br.o.Key)
	if err != nil {
		return pipeline.Summary{}, nil, err
	}
	if err := store.WriteAll(ctx, br.b, manifest.Key(m.ID), body, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return br.summary(), nil, fmt.Errorf("write manifest %s: %w", manifest.Key(m.ID), err)
	}
	s := br.summary()
	br.log.Info("backup done", "id", m.ID, "records", s.Records, "objects", s.Objects, "seconds", s.Seconds)
	if len(br.gaps) > 0 {
		return s, m, fmt.Errorf("%w: %d ranges were removed by retention before they were read (%s); the rest is backed up and manifest %s records the gaps", ErrGaps, len(br.gaps), abbreviateList(br.gaps, 3), m.ID)
	}
	return s, m, nil
}

// summary is the run's summary so far.
func (br *backupRun) summary() pipeline.Summary {
	return br.col.Summary("backup", br.bucketName, br.started)
}

// sameContent reports whether two manifests describe the same topics, objects
// and group offsets.
func sameContent(a, b *manifest.Manifest) bool {
	type content struct {
		Topics, Groups any
	}
	ja, err1 := json.Marshal(content{a.Topics, a.Groups})
	jb, err2 := json.Marshal(content{b.Topics, b.Groups})
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// lineageDir is the topics folder of the objects of lineage l (> 0) of a
// partition: "<topicsDir>/lineage=<l>", a name no Kafka topic can have.
func lineageDir(topicsDir string, l int) string {
	if d := strings.Trim(topicsDir, "/"); d != "" {
		return fmt.Sprintf("%s/lineage=%d", d, l)
	}
	return fmt.Sprintf("lineage=%d", l)
}

func orNone(id string) string {
	if id == "" {
		return "none"
	}
	return id
}

func abbreviateList(items []string, n int) string {
	if len(items) <= n {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:n], len(items)-n)
}

// planPartition continues the previous manifest's entry for r (or starts one) and
// returns the range still to read. A topic that was deleted and recreated, or a
// partition whose offsets went backwards, starts a new lineage; offsets that
// retention removed since the last backup become a gap.
func planPartition(prev *manifest.Manifest, td kafka.TopicDetails, r kafka.PartitionRange, col *pipeline.Collector) (*backupPartition, kafka.PartitionRange) {
	bp := &backupPartition{entry: manifest.Partition{Partition: r.Partition, StartOffset: r.Start, EndOffset: r.Start}, minTS: -1}
	var pp *manifest.Partition
	if prev != nil {
		if pt := prev.Topic(r.Topic); pt != nil {
			if pt.ID != "" && td.ID != "" && pt.ID != td.ID {
				col.Warn(fmt.Sprintf("%s was deleted and recreated since backup %s (topic id changed): partition %d starts a new lineage", r.Topic, prev.ID, r.Partition))
				if old := pt.PartitionByID(r.Partition); old != nil {
					bp.entry.Lineage = old.Lineage + 1
				}
			} else {
				pp = pt.PartitionByID(r.Partition)
			}
		}
	}
	if pp != nil && r.End < pp.EndOffset {
		col.Warn(fmt.Sprintf("%s/%d: end offset %d is below the %d already backed up (offsets went backwards): a new lineage starts", r.Topic, r.Partition, r.End, pp.EndOffset))
		bp.entry.Lineage = pp.Lineage + 1
		pp = nil
	}
	if pp != nil {
		bp.entry = *pp
		bp.entry.Objects = append([]manifest.Object(nil), pp.Objects...)
		bp.entry.Gaps = append([]manifest.Gap(nil), pp.Gaps...)
		bp.knownGaps = len(pp.Gaps)
		bp.digest, _ = manifest.ParseDigest(pp.Digest) // a bad digest only makes verify --brokers report a difference
	}
	from := bp.entry.EndOffset
	bp.resumeAt = from
	if from < r.Start {
		bp.addGap(from, r.Start, "retention removed these records before this backup")
		col.Warn(fmt.Sprintf("%s/%d: offsets %d to %d were removed by retention since the last backup; they are missing", r.Topic, r.Partition, from, r.Start-1))
		from = r.Start
	}
	bp.entry.EndOffset = r.End
	return bp, kafka.PartitionRange{Topic: r.Topic, Partition: r.Partition, Start: from, End: r.End}
}

func (bp *backupPartition) addRecord(rec *record.Record) {
	bp.digest = bp.roller.Roll(bp.digest, rec)
	ts := rec.Timestamp.UnixMilli()
	if rec.Timestamp.IsZero() {
		ts = 0
	}
	if bp.minTS < 0 || ts < bp.minTS {
		bp.minTS = ts
	}
	bp.maxTS = max(bp.maxTS, ts)
}

func (bp *backupPartition) addObject(set *objset.Writer, backupID string) {
	sum, size := set.Stored()
	bp.mu.Lock()
	defer bp.mu.Unlock()
	bp.entry.Objects = append(bp.entry.Objects, manifest.Object{
		Key: set.Keys()[0], BackupID: backupID, FirstOffset: set.First(), LastOffset: set.Last(), Records: int64(set.Records()),
		MinTimestamp: bp.minTS, MaxTimestamp: bp.maxTS, Size: size, SHA256: sum, Digest: manifest.HexDigest(bp.digest),
	})
	bp.entry.Records += int64(set.Records())
	bp.entry.Digest = manifest.HexDigest(bp.digest)
	bp.minTS, bp.maxTS = -1, 0
}

func (bp *backupPartition) addGap(from, to int64, reason string) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	bp.entry.Gaps = append(bp.entry.Gaps, manifest.Gap{From: from, To: to, Reason: reason})
}

// assemble fills the manifest's topics and groups from the partitions' entries.
func assemble(m *manifest.Manifest, selected []string, details map[string]kafka.TopicDetails, parts map[string]map[int32]*backupPartition, groups []kafka.GroupOffset) {
	for _, name := range selected {
		td := details[name]
		t := manifest.Topic{Name: name, ID: td.ID, Partitions: td.Partitions, ReplicationFactor: td.ReplicationFactor, Configs: td.Configs}
		for _, bp := range parts[name] {
			t.Partition = append(t.Partition, bp.entry)
			for _, obj := range bp.entry.Objects {
				if obj.Records == 0 {
					continue
				}
				if m.MinTimestamp == 0 || obj.MinTimestamp < m.MinTimestamp {
					m.MinTimestamp = obj.MinTimestamp
				}
				m.MaxTimestamp = max(m.MaxTimestamp, obj.MaxTimestamp)
			}
		}
		sort.Slice(t.Partition, func(i, j int) bool { return t.Partition[i].Partition < t.Partition[j].Partition })
		m.Topics = append(m.Topics, t)
	}
	for _, g := range groups {
		if n := len(m.Groups); n == 0 || m.Groups[n-1].Group != g.Group {
			m.Groups = append(m.Groups, manifest.Group{Group: g.Group})
		}
		last := &m.Groups[len(m.Groups)-1]
		last.Offsets = append(last.Offsets, manifest.GroupOffset{Topic: g.Topic, Partition: g.Partition, Offset: g.Offset, Metadata: g.Metadata})
	}
}

// carryOver keeps, from the previous manifest, the topics this run did not
// select (and their groups' offsets), so every manifest covers the whole backup.
// A kept topic that the cluster no longer has is marked deleted (in this
// backup, the first time), so restore can tell it from one left unselected.
func carryOver(m, prev *manifest.Manifest, selected []string, exists func(string) bool, col *pipeline.Collector) {
	if prev == nil {
		return
	}
	taken := map[string]bool{}
	for _, t := range selected {
		taken[t] = true
	}
	for _, t := range prev.Topics {
		if taken[t.Name] {
			continue
		}
		if !t.Deleted() && !exists(t.Name) {
			t.DeletedIn = m.ID
			col.Warn(fmt.Sprintf("topic %s was deleted from the cluster: its backup is kept and marked deleted (restore skips it unless --include-deleted)", t.Name))
		}
		m.Topics = append(m.Topics, t)
	}
	sort.Slice(m.Topics, func(i, j int) bool { return m.Topics[i].Name < m.Topics[j].Name })
	for _, g := range prev.Groups {
		var keep []manifest.GroupOffset
		for _, off := range g.Offsets {
			if !taken[off.Topic] {
				keep = append(keep, off)
			}
		}
		if len(keep) == 0 {
			continue
		}
		i := sort.Search(len(m.Groups), func(i int) bool { return m.Groups[i].Group >= g.Group })
		if i < len(m.Groups) && m.Groups[i].Group == g.Group {
			m.Groups[i].Offsets = append(m.Groups[i].Offsets, keep...)
			continue
		}
		m.Groups = append(m.Groups, manifest.Group{})
		copy(m.Groups[i+1:], m.Groups[i:])
		m.Groups[i] = manifest.Group{Group: g.Group, Offsets: keep}
	}
}
