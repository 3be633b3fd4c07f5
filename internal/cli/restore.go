package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

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
	registry          registryFlags
	sourceRegistry    registryFlags
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

Records in the Schema Registry wire format get the target registry's ids with
--schema-registry (the new cluster's): the schemas come from the backup when it
was made with backup --schema-registry, else from --source-schema-registry.

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
	o.addFlags(cmd.Flags())
	return cmd
}

func (o *restoreOptions) addFlags(fs *pflag.FlagSet) {
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
	fs.IntVar(&o.parallelism, "parallelism", 0, "writers at once: transactional slots, each a share of the partitions (default: 2 × CPUs, at least 8)")
	fs.BoolVar(&o.follow, "follow", false, "keep restoring each new backup as it appears, until SIGTERM/SIGINT")
	fs.DurationVar(&o.pollInterval, "poll-interval", backup.DefaultRestoreInterval, "with --follow: how often to look for a newer backup")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "with --follow: how long SIGTERM/SIGINT may take to finish the restore in flight")
	fs.StringVar(&o.group, "group", "", "with --follow: progress group on the target (default: kferry-restore-follow-<hash>)")
	o.registry.addFlags(fs, "", "the target's: the schemas of wire-format keys and values (from --source-schema-registry, or those the backup stored) are registered in it under <topic>-value and <topic>-key and the records' ids rewritten")
	o.sourceRegistry.addFlags(fs, "source-", "the backed-up cluster's, which knows the records' schema ids")
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
	log, cfg, sel, err := g.preamble(&o.kafka, &o.sel)
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
	if err := o.checkModes(); err != nil {
		return err
	}
	if err := o.report.refuseFollow(o.follow); err != nil {
		return err
	}
	storedSchemas, ctx, err := o.bindRegistries(ctx, renames)
	if err != nil {
		return err
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
	if storedSchemas {
		if ctx, err = o.bindStoredSchemas(ctx, b, renames, key); err != nil {
			return err
		}
	}
	ro := backup.RestoreOptions{
		Selector: sel, Renames: renames, BackupID: o.backupID, Since: since, Until: until, Groups: groups,
		ReplicationFactor: int16(o.replicationFactor), Force: o.force, AtLeastOnce: o.atLeastOnce, IncludeDeleted: o.includeDeleted, Key: key, // #nosec G115 -- range checked by checkModes
		Parallelism: o.parallelism, Logger: log, DryRun: o.report.dryRun,
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

// checkModes validates the replication factor and the flags that belong to one
// mode only (one-shot or --follow).
func (o *restoreOptions) checkModes() error {
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
	return nil
}

// bindRegistries binds the registries to ctx (they connect only when used).
// Without --source-schema-registry the schemas come from the backup, which
// the caller reads once connected (bindStoredSchemas): stored is then true.
func (o *restoreOptions) bindRegistries(ctx context.Context, renames layout.Renames) (stored bool, _ context.Context, _ error) {
	if o.registry.cfg.URL == "" || o.sourceRegistry.cfg.URL != "" {
		ctx, err := o.registry.bind(ctx, renames, &o.sourceRegistry)
		return false, ctx, err
	}
	if o.follow {
		return false, ctx, usageErrorf("restore --follow translates schema ids with --source-schema-registry (the schemas one backup stored do not cover the next)")
	}
	return true, ctx, nil
}

// bindStoredSchemas binds the target registry with the schemas the backup
// stored as the source of the records' ids.
func (o *restoreOptions) bindStoredSchemas(ctx context.Context, b *blob.Bucket, renames layout.Renames, key *seal.Key) (context.Context, error) {
	m, err := catalog.LoadManifest(ctx, b, o.backupID, key) // the backup restore reads, or why there is none
	if err != nil {
		return ctx, err
	}
	stored, complete, err := backup.LoadManifestSchemas(ctx, b, m, key)
	switch {
	case err != nil:
		return ctx, fmt.Errorf("%w; give --source-schema-registry (the backed-up cluster's registry) to translate the records' schema ids without it", err)
	case stored == nil:
		return ctx, usageErrorf("--schema-registry: backup %s stored no schemas (back up with --schema-registry to store them); give --source-schema-registry, the backed-up cluster's registry, to translate the records' schema ids", m.ID)
	case !complete:
		return ctx, usageErrorf("--schema-registry: backup %s stored the schemas of its own records only (a backup before it was made without --schema-registry); give --source-schema-registry, the backed-up cluster's registry, to translate the records' schema ids", m.ID)
	}
	return o.registry.bindWith(ctx, renames, stored, "restore this topic without --schema-registry to copy its keys and values unchanged")
}
