package cli

import (
	"cmp"
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/layout"
)

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
		cfg, err := o.kafka.config(g.stderr)
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
