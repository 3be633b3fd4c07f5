package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/buildinfo"
	"github.com/kferry/kferry/internal/catalog"
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
	registry    registryFlags
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
	o.registry.addFlags(fs, "", "the source cluster's: the schemas of wire-format keys and values are stored with the backup, so that restore --schema-registry can register them in a new registry")
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
	log, cfg, sel, err := g.preamble(&o.kafka, &o.sel)
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
	if err := o.report.refuseFollow(o.follow); err != nil {
		return err
	}
	o.store.dryRun = o.report.dryRun
	reg, err := o.registry.client(nil)
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
		Key: key, FlushSize: o.flushSize, RotateBytes: rotate, Parallelism: o.parallelism, Version: buildinfo.Version(),
		Logger: log, DryRun: o.report.dryRun,
	}
	if reg != nil {
		bo.Registry = reg // a nil *Client in the interface would not be nil
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
