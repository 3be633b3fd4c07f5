package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/metrics"
	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/store"
)

type migrateOptions struct {
	key               keyFlags
	source, target    kafkaFlags
	sourceProfile     string
	targetProfile     string
	sel               selectFlags
	report            reportFlags
	store             storeFlags
	via               string
	renames           []string
	follow, cutover   bool
	groups            string
	group             string
	topicsDir         string
	rotateInterval    time.Duration
	direct            bool
	rotateBytes       string
	pollInterval      time.Duration
	lagInterval       time.Duration
	reportInterval    time.Duration
	groupsInterval    time.Duration
	shutdownTimeout   time.Duration
	sessionTimeout    time.Duration
	metadataMaxAge    time.Duration
	metricsAddr       string
	createTopics      bool
	replicationFactor int
	appendTo          bool
	compression       string
	deleteImported    bool
	sourceRegistry    registryFlags
	targetRegistry    registryFlags
}

func newMigrateCmd(g *globals) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate --source-brokers A --target-brokers B --via URL (--topics a,b | --topic-regex RE)",
		Short: "Copy topics from one cluster to another through a bucket, once or live, with consumer-group offsets",
		Long:  migrateLong + envHelp,
		Example: `  kferry migrate --source-brokers old:9092 --target-brokers new:9092 --topics orders,payments \
      --via s3://bucket/migration?region=eu-west-1 --groups 'billing-.*'
  kferry migrate --follow --source-brokers b-1.msk:9098 --source-sasl-mechanism aws-msk-iam --source-tls \
      --target-brokers redpanda:9092 --topic-regex 'orders-.*' --rename 'orders-(.*)=shop.orders.$1' \
      --via s3://bucket/live?region=eu-west-1 --groups '.*' --metrics-addr 127.0.0.1:9466
  kferry migrate --cutover ...same flags...      # after stopping the producers`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if err := applyEnvOnly(fs, nil); err != nil {
				return err
			}
			if err := applySideProfiles(fs, map[string]string{"source-": o.sourceProfile, "target-": o.targetProfile}); err != nil {
				return err
			}
			if _, err := applyFile(fs); err != nil {
				return err
			}
			return runMigrate(cmd.Context(), g, o)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// applySideProfiles sets a side's prefixed connection flags (source-brokers,
// target-sasl-password, ...) from a --config profile written for one-cluster
// commands (brokers, sasl-password, ...), where neither the command line nor
// the environment set them.
func applySideProfiles(fs *pflag.FlagSet, profiles map[string]string) error {
	path, _ := settingPath(fs)
	for _, prefix := range []string{"source-", "target-"} {
		name := profiles[prefix]
		if name == "" {
			continue
		}
		if path == "" {
			return usageErrorf("--%sprofile %s needs --config FILE", prefix, name)
		}
		sf, err := loadSettings(path)
		if err != nil {
			return err
		}
		p, ok := sf.profiles[name]
		if !ok {
			return usageErrorf("--%sprofile %q is not in %s (profiles: %s)", prefix, name, path, strings.Join(sortedKeys(sf.profiles), ", "))
		}
		for k, v := range p {
			f := fs.Lookup(prefix + k)
			if f == nil {
				if globalKeys[k] {
					continue
				}
				return usageErrorf("--config %s: profile %s: %q is not a connection setting of migrate's %s side", path, name, k, strings.TrimSuffix(prefix, "-"))
			}
			if f.Changed {
				continue
			}
			if err := fs.Set(f.Name, scalar(v)); err != nil {
				return usageErrorf("--config %s: profile %s: %s: %v", path, name, k, err)
			}
		}
	}
	return nil
}

func runMigrate(ctx context.Context, g *globals, o *migrateOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	srcCfg, err := o.source.config(g.stderr)
	if err != nil {
		return err
	}
	dstCfg, err := o.target.config(g.stderr)
	if err != nil {
		return err
	}
	c, err := o.check()
	if err != nil {
		return err
	}
	sel, renames, groups, mode, rotateBytes := c.sel, c.renames, c.groups, c.mode, c.rotateBytes
	key, err := o.key.load()
	if err != nil {
		return err
	}
	o.store.dryRun = o.report.dryRun
	// The registry clients are checked here but connect only when used; the
	// importer's native objects decode through the translating format.
	if ctx, err = o.targetRegistry.bind(ctx, renames, &o.sourceRegistry); err != nil {
		return err
	}
	if o.targetRegistry.cfg.URL != "" && o.sourceRegistry.cfg.URL == "" {
		return usageErrorf("--target-schema-registry needs --source-schema-registry: the ids in the records are the source registry's")
	}
	b, src, release, err := connect(ctx, o.via, o.store.openDestination, srcCfg)
	if err != nil {
		return err
	}
	defer release()
	dst, err := kafka.Dial(ctx, dstCfg)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	bucket := store.Redact(o.via)
	group := o.group
	if group == "" {
		group = migrate.DefaultGroup(bucket, o.topicsDir, sel, o.renames)
	}
	mo := migrate.Options{
		Mode: mode, Groups: groups, Logger: log, DryRun: o.report.dryRun,
		// Records handed over directly skip the importer's decoding, which is
		// where schema ids are rewritten.
		Direct:      o.direct && o.targetRegistry.cfg.URL == "",
		LagInterval: o.lagInterval, ReportInterval: o.reportInterval, GroupsInterval: o.groupsInterval,
		Export: pipeline.FollowOptions{
			ExportOptions: pipeline.ExportOptions{
				Selector: sel, Naming: layout.Naming{TopicsDir: o.topicsDir, Pad: layout.DefaultPad},
				RotateBytes: rotateBytes, RotateInterval: o.rotateInterval, Key: key,
			},
			Group: group, ShutdownTimeout: o.shutdownTimeout, SessionTimeout: o.sessionTimeout, MetadataMaxAge: o.metadataMaxAge,
		},
		Import: pipeline.ImportFollowOptions{
			ImportOptions: pipeline.ImportOptions{
				Renames: renames, CreateTopics: o.createTopics, ReplicationFactor: int16(o.replicationFactor), // #nosec G115 -- range checked by check
				Append: o.appendTo, Producer: kafka.WriterOptions{Compression: o.compression}, Group: group,
				DeleteImported: o.deleteImported,
			},
			PollInterval: o.pollInterval, ShutdownTimeout: o.shutdownTimeout,
		},
	}
	if o.metricsAddr != "" {
		m := metrics.NewMigrate()
		stop, err := serveMetrics(o.metricsAddr, m.Handler(), log)
		if err != nil {
			return err
		}
		defer stop()
		mo.Metrics = m
	}
	s, err := migrate.Run(ctx, src, dst, b, bucket, mo)
	return o.report.finish(g.stdout, s, err)
}

// migrateLong is the help text of kferry migrate.
const migrateLong = `migrate runs an export from the source cluster and an import into the target
together, through one bucket prefix (--via). Objects are kferry's native format,
so keys, headers, timestamps and source offsets travel; each record is written
to the same partition number of the (renamed) target topic exactly once
(transactions with the progress in a group on the target). Target topics are
created first with the source's partition counts and configs; a target with
fewer partitions, or holding records this migration did not write, is refused
before anything is copied.

Modes:
  (default)  one-shot: stop when the target holds every record up to the source
             end offsets captured at the start.
  --follow   live: keep copying until SIGTERM/SIGINT (exit 0).
  --cutover  keep copying until the lag is 0 on every partition, then stop and
             commit the final consumer-group offsets. Stop the producers (and,
             for exact offsets, the consumers) on the source first.

A one-shot run or a cutover whose import of a partition fails 5 times in a row
for another reason than a Kafka fault (a record the target refuses, a schema id
no registry knows) ends with that error; --follow retries at each poll.
--source-schema-registry with --target-schema-registry rewrite the schema ids of
wire-format keys and values to the target registry's.

Lag per partition (records, and seconds since the oldest missing record was
first seen on the source) is logged every --report-interval and served as
kferry_migrate_lag_records and kferry_migrate_lag_seconds on --metrics-addr.

--groups REGEX translates the offsets of the source's consumer groups whose
whole name matches: a group at source offset O is committed on the target at
the offset of the first copied record at or after O, so its consumers can move
to the target and resume at the same record. While following this runs every
--groups-interval; a group whose next record is not copied yet is placed after
the last copied one (its consumers would read a few records again, never miss
one); a group with members on the target is left alone (its consumers moved).

The same flags resume an interrupted migration: the exporter's consumer group
on the source and the progress group on the target share one name (--group,
default kferry-migrate-<hash of --via, selection and renames>). Copies started
with the same flags share the partitions (each imports what its exporter owns;
a partition that moves is fenced on the target first).

Every Kafka flag exists per side (--source-tls, --target-sasl-mechanism, ...;
KFERRY_SOURCE_SASL_PASSWORD, KFERRY_TARGET_SASL_PASSWORD), and --source-profile
and --target-profile take a side's settings from a --config profile.

A one-shot migration or a cutover stopped by a signal exits 1 saying how many
offsets per partition are not on the target yet; run the same command again.

Exit status: 0 done (or stopped by a signal with --follow), 1 failed or
interrupted, 2 usage error.`

func (o *migrateOptions) addFlags(fs *pflag.FlagSet) {
	o.source.addFlagsFor(fs, "source-", "source cluster: ")
	o.target.addFlagsFor(fs, "target-", "target cluster: ")
	fs.StringVar(&o.sourceProfile, "source-profile", "", "profile of the --config file whose connection settings (brokers, tls-*, sasl-*, ...) are the source's")
	fs.StringVar(&o.targetProfile, "target-profile", "", "profile of the --config file whose connection settings are the target's")
	o.key.addFlags(fs)
	o.sel.addFlags(fs)
	o.report.addFlags(fs)
	o.store.addFlags(fs)
	fs.StringVar(&o.via, "via", "", "bucket URL the records pass through (as for export --to); one migration per prefix")
	fs.StringArrayVar(&o.renames, "rename", nil, "rename topics 'REGEX=REPLACEMENT' (RegexRouter semantics); repeatable, first match wins")
	fs.BoolVar(&o.follow, "follow", false, "keep migrating as records arrive, until SIGTERM/SIGINT")
	fs.BoolVar(&o.cutover, "cutover", false, "migrate until the lag is 0 everywhere, then stop and commit the final consumer-group offsets")
	fs.StringVar(&o.groups, "groups", "", "translate the offsets of the source consumer groups whose whole name matches this regex")
	fs.StringVar(&o.group, "group", "", "consumer group on the source and progress group on the target (default: kferry-migrate-<hash>)")
	fs.StringVar(&o.topicsDir, "topics-dir", layout.DefaultTopicsDir, "top folder of the objects under --via")
	fs.DurationVar(&o.rotateInterval, "rotate-interval", migrate.DefaultRotate, "complete an object at the latest this long after its first record arrived")
	fs.StringVar(&o.rotateBytes, "rotate-bytes", "64MiB", "start a new object after this many uncompressed bytes")
	fs.DurationVar(&o.pollInterval, "poll-interval", migrate.DefaultPoll, "how often the importer lists the bucket (it also wakes for each object the exporter completes)")
	fs.DurationVar(&o.lagInterval, "lag-interval", 2*time.Second, "how often to measure the lag")
	fs.DurationVar(&o.reportInterval, "report-interval", migrate.DefaultReport, "how often to log the lag")
	fs.DurationVar(&o.groupsInterval, "groups-interval", migrate.DefaultGroupsPeriod, "with --follow: how often to translate consumer-group offsets")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "how long stopping may take to finish the objects and transactions in flight")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", 45*time.Second, "how long the source group waits for a member that stopped answering")
	fs.DurationVar(&o.metadataMaxAge, "metadata-max-age", 10*time.Second, "how often to look for new partitions and topics")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on host:port (e.g. 127.0.0.1:9466)")
	fs.BoolVar(&o.createTopics, "create-topics", true, "create missing target topics with the source's partition counts and configs")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "replication factor of created topics (-1: the target broker's default)")
	fs.BoolVar(&o.appendTo, "append", false, "allow target topics that already hold records")
	fs.StringVar(&o.compression, "produce-compression", "none", "compression of batches produced to the target: none, gzip, snappy, lz4, zstd")
	o.sourceRegistry.addFlags(fs, "source-", "the source cluster's, which knows the records' schema ids")
	o.targetRegistry.addFlags(fs, "target-", "the target cluster's: with --source-schema-registry, the schemas of wire-format keys and values are registered in it under <topic>-value and <topic>-key and their ids rewritten")
	fs.BoolVar(&o.direct, "direct", true, "also hand the records read from the source straight to the target's writer, so they need not wait for their object (lower latency); the bucket still gets every object and the target is written exactly once either way; always off with --target-schema-registry")
	fs.BoolVar(&o.deleteImported, "delete-imported", false, "delete each object from --via once its records are committed on the target (the bucket stays small; not with --object-lock-days)")
}

// migrateFlags are the flags' values once checked.
type migrateFlags struct {
	sel         plan.Selector
	renames     layout.Renames
	groups      *regexp.Regexp
	mode        migrate.Mode
	rotateBytes int64
}

// check validates the flags that need no connection.
func (o *migrateOptions) check() (migrateFlags, error) {
	var c migrateFlags
	var err error
	c.sel, err = o.sel.selector()
	if err != nil {
		return c, err
	}
	if c.sel.Empty() {
		return c, usageErrorf("name the topics to migrate: --topics or --topic-regex")
	}
	c.renames, err = layout.ParseRenames(o.renames)
	if err != nil {
		return c, usageErrorf("--rename: %v", err)
	}
	c.groups, err = fullRegex("--groups", o.groups)
	if err != nil {
		return c, err
	}
	if o.via == "" {
		return c, usageErrorf("--via is required: the bucket URL the records pass through")
	}
	if err := checkTopicsDir(o.topicsDir); err != nil {
		return c, err
	}
	mode := migrate.Once
	switch {
	case o.follow && o.cutover:
		return c, usageErrorf("--follow and --cutover exclude each other: follow, then stop it and run --cutover")
	case o.follow:
		mode = migrate.Follow
	case o.cutover:
		mode = migrate.Cutover
	}
	rotateBytes, err := parseSize(o.rotateBytes)
	if err != nil {
		return c, usageErrorf("--rotate-bytes: %v", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--rotate-interval", o.rotateInterval}, {"--poll-interval", o.pollInterval}, {"--lag-interval", o.lagInterval}, {"--report-interval", o.reportInterval}, {"--groups-interval", o.groupsInterval}, {"--shutdown-timeout", o.shutdownTimeout}, {"--session-timeout", o.sessionTimeout}, {"--metadata-max-age", o.metadataMaxAge}} {
		if d.v <= 0 {
			return c, usageErrorf("%s must be positive", d.name)
		}
	}
	if o.replicationFactor < -1 || o.replicationFactor == 0 || o.replicationFactor > 32767 {
		return c, usageErrorf("--replication-factor must be -1 or a positive number")
	}
	if o.deleteImported && o.store.lockDays > 0 {
		return c, usageErrorf("--delete-imported and --object-lock-days exclude each other: locked objects cannot be deleted")
	}
	c.mode, c.rotateBytes = mode, rotateBytes
	return c, nil
}
