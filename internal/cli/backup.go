package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/store"
)

type backupOptions struct {
	key         keyFlags
	kafka       kafkaFlags
	sel         selectFlags
	report      reportFlags
	to          string
	groups      string
	flushSize   int
	rotateBytes string
	parallelism int
	store       storeFlags
	follow      bool
	interval    time.Duration
	shutdown    time.Duration
}

func newBackupCmd(g *globals) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup --brokers B --to URL [--topics a,b | --topic-regex RE] [--groups RE]",
		Short: "Back up topics with everything: keys, headers, timestamps, configs, group offsets",
		Long: `backup writes the selected topics (default: all but internal ones) in kferry's
native format (Avro container files, docs/FORMAT.md) with every record's offset,
timestamp, key, value and headers, and then a manifest under _kferry/backups/ with
the topics' partition counts and configs, the consumer groups' committed offsets
and every object's offsets, record count and SHA-256.

A second backup to the same URL is incremental: it reads only what came after the
newest manifest and writes a manifest that covers everything. The manifest is
written last: a backup that fails leaves the previous one the newest.

With --follow, backup keeps running: every --interval (default 1m) it makes an
incremental backup of what arrived since, each a complete restorable manifest
(none when nothing changed), so at most one interval of records is at risk.
Retention gaps are logged as errors and recorded in the manifests; the rounds go
on. SIGTERM or SIGINT finish the round in flight and exit 0 within
--shutdown-timeout. Run one copy per bucket URL. restore --follow on another
cluster applies the manifests as they appear (a warm standby).

Exit status: 0 done, 1 failed (also when retention removed records before they
could be read: the rest is backed up and the manifest records the gaps), 2 usage.` + envHelp,
		Example: `  kferry backup --brokers localhost:9092 --to s3://bucket/kafka?region=eu-west-1
  kferry backup --brokers b:9092 --topic-regex 'orders-.*' --groups 'billing-.*' --to file:///backups/kafka
  kferry backup --follow --interval 30s --brokers b:9092 --to s3://bucket/kafka?region=eu-west-1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runBackup(cmd.Context(), g, o)
		},
	}
	fs := cmd.Flags()
	o.kafka.addFlags(fs)
	o.key.addFlags(fs)
	o.sel.addFlags(fs)
	o.report.addFlags(fs)
	o.store.addFlags(fs)
	fs.StringVar(&o.to, "to", "", "bucket URL to back up to (as for export)")
	fs.StringVar(&o.groups, "groups", "", "keep the offsets of consumer groups whose whole name matches this regex (default: every group with offsets on the topics)")
	fs.IntVar(&o.flushSize, "flush-size", 0, "records per object; 0: rotate by size only")
	fs.StringVar(&o.rotateBytes, "rotate-bytes", "64MiB", "start a new object after this many bytes of records")
	fs.IntVar(&o.parallelism, "parallelism", 0, "partitions backed up at once (default: 2 × CPUs)")
	fs.BoolVar(&o.follow, "follow", false, "keep backing up: an incremental backup every --interval until SIGTERM/SIGINT")
	fs.DurationVar(&o.interval, "interval", backup.DefaultBackupInterval, "with --follow: time between the starts of two backups")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "with --follow: how long SIGTERM/SIGINT may take to finish the backup in flight")
	return cmd
}

func runBackup(ctx context.Context, g *globals, o *backupOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := o.kafka.config()
	if err != nil {
		return err
	}
	sel, err := o.sel.selector()
	if err != nil {
		return err
	}
	groups, err := fullRegex("--groups", o.groups)
	if err != nil {
		return err
	}
	rotate, err := parseSize(o.rotateBytes)
	if err != nil {
		return usageErrorf("--rotate-bytes: %v", err)
	}
	if o.to == "" {
		return usageErrorf("--to is required: the bucket URL to back up to")
	}
	if o.interval <= 0 || o.shutdown <= 0 {
		return usageErrorf("--interval and --shutdown-timeout must be positive")
	}
	if o.flushSize < 0 {
		return usageErrorf("--flush-size %d: want 0 (rotate by size only) or more records", o.flushSize)
	}
	if err := checkParallelism(o.parallelism); err != nil {
		return err
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	b, kc, release, err := connect(ctx, o.to, o.store.openDestination, cfg)
	if err != nil {
		return err
	}
	defer release()
	bo := backup.BackupOptions{
		Selector: sel, Groups: groups, Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir},
		Key: key, FlushSize: o.flushSize, RotateBytes: rotate, Parallelism: o.parallelism, Version: Version,
		Logger: log, DryRun: o.report.dryRun,
	}
	if err := o.report.refuseFollow(o.follow); err != nil {
		return err
	}
	if o.follow {
		s, err := backup.BackupFollow(ctx, kc, b, store.Redact(o.to), backup.BackupFollowOptions{
			BackupOptions: bo, Interval: o.interval, ShutdownTimeout: o.shutdown,
			AfterRound: func(_ int, m *manifest.Manifest) {
				log.Info("newest backup", "id", m.ID, "parent", orDash(m.Parent))
			},
		})
		return o.report.finish(g.stdout, s, err)
	}
	bar := g.newProgress("backup")
	bo.Progress = asProgress(bar)
	s, m, err := backup.Backup(ctx, kc, b, store.Redact(o.to), bo)
	bar.done(g)
	if m == nil {
		err = backupInterrupted(ctx, err, s)
	}
	out := &printer{w: g.stdout}
	if m != nil {
		out.printf("backup %s written (parent %s): %d topics, %d groups\n", m.ID, orDash(m.Parent), len(m.Topics), len(m.Groups))
	}
	return cmp.Or(o.report.finish(g.stdout, s, err), out.err)
}

// backupHint says where a --backup id that the bucket lacks was looked for,
// and how to list the ones it has.
func backupHint(err error, raw string) error {
	if !errors.Is(err, catalog.ErrUnknownBackup) {
		return err
	}
	u := store.Redact(raw)
	return fmt.Errorf("%w in %s; `kferry ls %s` lists them", err, u, u)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type restoreOptions struct {
	key               keyFlags
	kafka             kafkaFlags
	sel               selectFlags
	report            reportFlags
	from              string
	renames           []string
	backupID          string
	since, until      string
	groups            string
	replicationFactor int
	force             bool
	atLeastOnce       bool
	includeDeleted    bool
	parallelism       int
	follow            bool
	pollInterval      time.Duration
	shutdown          time.Duration
	group             string
}

func newRestoreCmd(g *globals) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore --from URL --brokers B [--rename 'REGEX=REPLACEMENT'] [--until TIME] [--groups RE]",
		Short: "Restore a backup exactly once: topics, configs, records, group offsets",
		Long: `restore reads a backup's manifest (the newest, or --backup ID), creates missing
topics with the backed-up partition counts and configs, and writes every record
into the same partition number with its key, value, headers and timestamp.

Each object goes into Kafka in one transaction together with the restore's
progress (consumer group kferry-restore-<backup id>) and the translated offsets of
the backed-up consumer groups: a restore killed at any moment and run again
writes every record exactly once. A group's committed offset O lands on the first
restored record whose source offset is ≥ O. --at-least-once turns transactions
off for clusters that forbid them.

--until T restores, per partition, everything before the first record stamped
after T; --since T starts at the first record stamped at or after T. TIME is
RFC 3339 or Unix milliseconds.

Topics that were deleted from the source (the manifest marks them) are skipped
with a warning unless --include-deleted is given or they are named in --topics.
Retention gaps that the backup recorded are named in the summary. A manifest
whose objects do not account for a partition's offsets is refused before
anything is written (kferry verify lists its problems).

With --follow, restore keeps running (a warm standby fed by backup --follow):
it restores the newest backup and then every newer one as it appears (checked
every --poll-interval), each resuming where the previous ended, with one
progress group (--group, default kferry-restore-follow-<hash of bucket URL,
selection and renames>), so every record is written once. Group offsets are
translated as their records arrive; groups with consumers on the target are
left alone. Partitions added at the source are added to the standby's topics.
A source topic deleted and recreated (a new lineage in the backup) stops the
standby while its topic holds the old lineage's records: delete that topic and
start again, and the new lineage is restored from its start. A failed round is
retried at the next poll; 5 failures in a row (as for backup --follow), or one
that retrying cannot cure, end the run. SIGTERM or SIGINT finish the
transaction in flight and exit 0. A standby may start before the first backup:
a local folder that does not exist yet is created and watched (a missing cloud
bucket is still an error).

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry restore --from s3://bucket/kafka?region=eu-west-1 --brokers target:9092
  kferry restore --from file:///backups/kafka --brokers b:9092 --rename 'orders=orders-restored' \
      --until 2026-11-25T12:00:00Z --groups 'billing-.*'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runRestore(cmd.Context(), g, o)
		},
	}
	fs := cmd.Flags()
	o.kafka.addFlags(fs)
	o.key.addFlags(fs)
	o.sel.addFlags(fs)
	o.report.addFlags(fs)
	fs.StringVar(&o.from, "from", "", "bucket URL of the backup")
	fs.StringArrayVar(&o.renames, "rename", nil, "rename topics 'REGEX=REPLACEMENT' (as for import); repeatable")
	fs.StringVar(&o.backupID, "backup", "", "backup id to restore (default: the newest; kferry ls lists them)")
	fs.StringVar(&o.since, "since", "", "restore from the first record stamped at or after TIME (RFC 3339 or Unix ms)")
	fs.StringVar(&o.until, "until", "", "restore up to the first record stamped after TIME (RFC 3339 or Unix ms)")
	fs.StringVar(&o.groups, "groups", "", "translate the offsets of backed-up groups whose whole name matches this regex (default: all)")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "replication factor of created topics (-1: the broker's default)")
	fs.BoolVar(&o.force, "force", false, "restore into topics that hold records or whose cleanup.policy differs")
	fs.BoolVar(&o.atLeastOnce, "at-least-once", false, "no transactions (for clusters that forbid them); a rerun may duplicate records")
	fs.BoolVar(&o.includeDeleted, "include-deleted", false, "also restore topics that were deleted from the source (skipped by default)")
	fs.IntVar(&o.parallelism, "parallelism", 0, "partitions restored at once (default: 2 × CPUs)")
	fs.BoolVar(&o.follow, "follow", false, "keep restoring each new backup as it appears, until SIGTERM/SIGINT")
	fs.DurationVar(&o.pollInterval, "poll-interval", backup.DefaultRestoreInterval, "with --follow: how often to look for a newer backup")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "with --follow: how long SIGTERM/SIGINT may take to finish the restore in flight")
	fs.StringVar(&o.group, "group", "", "with --follow: progress group on the target (default: kferry-restore-follow-<hash>)")
	return cmd
}

// parseTime reads RFC 3339 or Unix milliseconds.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usageErrorf("%s %q: use RFC 3339 (2026-11-25T12:00:00Z) or Unix milliseconds", flag, s)
	}
	return t, nil
}

func runRestore(ctx context.Context, g *globals, o *restoreOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := o.kafka.config()
	if err != nil {
		return err
	}
	sel, err := o.sel.selector()
	if err != nil {
		return err
	}
	renames, err := layout.ParseRenames(o.renames)
	if err != nil {
		return usageErrorf("--rename: %v", err)
	}
	groups, err := fullRegex("--groups", o.groups)
	if err != nil {
		return err
	}
	since, err := parseTime("--since", o.since)
	if err != nil {
		return err
	}
	until, err := parseTime("--until", o.until)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return usageErrorf("--since %s is after --until %s: nothing would be restored", o.since, o.until)
	}
	if err := checkParallelism(o.parallelism); err != nil {
		return err
	}
	if o.from == "" {
		return usageErrorf("--from is required: the bucket URL of the backup")
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	if o.replicationFactor < -1 || o.replicationFactor == 0 || o.replicationFactor > 32767 {
		return usageErrorf("--replication-factor must be -1 or a positive number")
	}
	if o.follow && (o.since != "" || o.until != "" || o.backupID != "") {
		return usageErrorf("--follow restores every new backup: --since, --until and --backup do not apply")
	}
	if !o.follow && o.group != "" {
		return usageErrorf("--group needs --follow (a one-shot restore's progress group is kferry-restore-<backup id>)")
	}
	if o.pollInterval <= 0 || o.shutdown <= 0 {
		return usageErrorf("--poll-interval and --shutdown-timeout must be positive")
	}
	open := openBucket
	if o.follow {
		open = openDestination // a standby may start before the first backup
	}
	b, kc, release, err := connect(ctx, o.from, open, cfg)
	if err != nil {
		return err
	}
	defer release()
	ro := backup.RestoreOptions{
		Selector: sel, Renames: renames, BackupID: o.backupID, Since: since, Until: until, Groups: groups,
		ReplicationFactor: int16(o.replicationFactor), Force: o.force, AtLeastOnce: o.atLeastOnce, IncludeDeleted: o.includeDeleted, Key: key,
		Parallelism: o.parallelism, Logger: log, DryRun: o.report.dryRun,
	}
	if err := o.report.refuseFollow(o.follow); err != nil {
		return err
	}
	if o.follow {
		ro.ProgressGroup = o.group
		if ro.ProgressGroup == "" {
			ro.ProgressGroup = backup.RestoreFollowGroup(store.Redact(o.from), sel, o.renames)
		}
		s, err := backup.RestoreFollow(ctx, kc, b, store.Redact(o.from), backup.RestoreFollowOptions{
			RestoreOptions: ro, PollInterval: o.pollInterval, ShutdownTimeout: o.shutdown,
		})
		return o.report.finish(g.stdout, s, err)
	}
	bar := g.newProgress("restore")
	ro.Progress = asProgress(bar)
	s, err := backup.Restore(ctx, kc, b, store.Redact(o.from), ro)
	bar.done(g)
	err = writerInterrupted(ctx, backupHint(err, o.from), "restore", s, o.atLeastOnce)
	return o.report.finish(g.stdout, s, err)
}

type verifyOptions struct {
	key      keyFlags
	kafka    kafkaFlags
	backupID string
	renames  []string
	topics   []string
	json     bool
	strict   bool
}

func newVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify URL [--backup ID] [--strict] [--brokers B [--rename ...]]",
		Short: "Check a backup: coverage, checksums, counts, gaps, unlisted objects, optionally the live topics",
		Long: `verify checks a backup (the newest, or --backup ID). From the manifest: each
partition's objects must account for its offsets, start to end minus the recorded
gaps, without overlap, with record counts that add up. From the objects: each
one's size, SHA-256 and record count, and that its records continue the
partition's rolling digest from the object before it. Missing, truncated and
altered objects and objects missing from the manifest are problems, named.

Warnings: every retention gap the manifest records (offsets the backup does not
have, with their count), and every object of the whole bucket that no manifest
lists (left by an interrupted backup: kferry prune removes them). --strict turns
warnings into failures.

With --brokers it also compares the backup record by record (key, value,
headers, timestamp) with the live topics (renamed with --rename, for a restored
copy) and names the first differing offset.

Exit status: 0 the backup is intact (and equal), 1 problems found (or warnings
with --strict), 2 usage error.` + envHelp,
		Example: `  kferry verify s3://bucket/kafka?region=eu-west-1
  kferry verify --strict file:///backups/kafka
  kferry verify file:///backups/kafka --brokers target:9092 --rename 'orders=orders-restored'`,
		Args: checkArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runVerify(cmd.Context(), g, args[0], o)
		},
	}
	fs := cmd.Flags()
	o.kafka.addFlags(fs) // --brokers: compare with the live topics of this cluster
	fs.StringVar(&o.backupID, "backup", "", "backup id (default: the newest)")
	o.key.addFlags(fs)
	fs.StringArrayVar(&o.renames, "rename", nil, "compare backed-up topic T with the live topic its rename gives")
	fs.StringSliceVar(&o.topics, "topics", nil, "verify only these backed-up topics")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.strict, "strict", false, "fail on warnings too: recorded retention gaps, objects that no manifest lists")
	return cmd
}

func runVerify(ctx context.Context, g *globals, raw string, o *verifyOptions) error {
	renames, err := layout.ParseRenames(o.renames)
	if err != nil {
		return usageErrorf("--rename: %v", err)
	}
	b, err := openBucket(ctx, raw)
	if err != nil {
		return err
	}
	defer closeBucket(b)
	key, err := o.key.load()
	if err != nil {
		return err
	}
	vo := backup.VerifyOptions{BackupID: o.backupID, Renames: renames, Topics: o.topics, Key: key, Strict: o.strict}
	if len(o.kafka.brokers) > 0 {
		cfg, err := o.kafka.config()
		if err != nil {
			return err
		}
		kc, err := kafka.Dial(ctx, cfg)
		if err != nil {
			return err
		}
		defer kc.Close()
		vo.Kafka = kc
	}
	rep, err := backup.Verify(ctx, b, vo)
	err = backupHint(err, raw)
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return cmp.Or(err, enc.Encode(rep))
	}
	out := &printer{w: g.stdout}
	if rep.Backup != "" {
		printVerify(out, rep, vo.Kafka != nil, o.strict, err)
	}
	return cmp.Or(err, out.err)
}

// maxWarnings bounds the warnings verify prints; --json has them all.
const maxWarnings = 20

func printVerify(out *printer, rep backup.VerifyReport, live, strict bool, err error) {
	out.printf("backup %s: %d objects, %d records checked", rep.Backup, rep.Objects, rep.Records)
	if live {
		out.printf(", %d records compared with the cluster", rep.Compared)
	}
	out.println()
	for _, p := range rep.Problems {
		out.println("  problem:", p)
	}
	for i, warn := range rep.Warnings {
		if i == maxWarnings {
			out.printf("  … and %d more warnings (--json lists them all)\n", len(rep.Warnings)-maxWarnings)
			break
		}
		out.println("  warning:", warn)
	}
	if len(rep.Gaps) > 0 {
		out.printf("  gaps: %d offsets in %d ranges are not in the backup (retention removed them before they were read)\n", rep.GapOffsets, len(rep.Gaps))
	}
	if len(rep.Unlisted) > 0 {
		var size int64
		for _, u := range rep.Unlisted {
			size += u.Size
		}
		out.printf("  unlisted: %d objects (%d bytes) are in no manifest (kferry prune lists and removes the backup's leftovers)\n", len(rep.Unlisted), size)
	}
	if len(rep.Problems) > 0 || err != nil {
		return // the error line says what failed; no "ok" before it
	}
	switch {
	case len(rep.Warnings) == 0:
		out.println("  ok: every object matches the manifest")
	case strict:
		out.printf("  failed: every object matches the manifest, but --strict fails on the %d warnings\n", len(rep.Warnings))
	default:
		out.printf("  ok: every object matches the manifest, with %d warnings (--strict fails on them)\n", len(rep.Warnings))
	}
}
