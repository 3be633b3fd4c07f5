package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/kferry/kferry/internal/backup"
	"github.com/spf13/cobra"
)

type pruneOptions struct {
	key    keyFlags
	delete bool
	minAge time.Duration
	json   bool
}

func newPruneCmd(g *globals) *cobra.Command {
	o := &pruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune URL [--delete] [--min-age 1h]",
		Short: "Remove the objects of a backup bucket that no manifest lists",
		Long: `prune lists the objects that backups left in the bucket without any manifest
listing them: objects of an interrupted backup that a rerun did not rewrite (a
rerun with another --flush-size names its objects differently), objects of a
backup whose manifest was deleted, and temporary files of interrupted writes to a
local folder. It prints each with its size and the total. Nothing is deleted
unless --delete is given.

prune reads every manifest first (an encrypted backup needs --encrypt-key-file)
and stops when one cannot be read or when there is none. It never deletes a
manifest, an object that any manifest lists, an object it does not recognise as a
backup's (anything outside topics/<topic>/partition=<p>/<topic>+<p>+<offset>.kfr
and its lineage folders: those are listed as kept), objects of a topic that
kferry export also wrote into the bucket, or an object modified less than
--min-age ago (default 1h).

Do not run prune while a backup (also backup --follow) writes to the same URL:
objects of a backup in flight are in no manifest yet. --min-age keeps them in
all but unusual cases, each object's age is checked again right before it is
deleted, and prune stops if a manifest appears while it runs; but a backup that
rewrites an old object name just as prune deletes it would lose that object
(kferry verify would then report it missing).

Exit status: 0 done (also when there was something to delete and --delete was
not given), 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry prune file:///backups/kafka
  kferry prune --delete s3://bucket/kafka?region=eu-west-1
  kferry prune --delete --min-age 0 file:///backups/kafka   # no backup is running`,
		Args: checkArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runPrune(cmd.Context(), g, args[0], o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.delete, "delete", false, "delete the objects (default: only list them)")
	fs.DurationVar(&o.minAge, "min-age", backup.DefaultPruneMinAge, "keep objects modified less than this long ago (a running backup may be writing them)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	o.key.addFlags(fs)
	return cmd
}

func runPrune(ctx context.Context, g *globals, raw string, o *pruneOptions) error {
	if o.minAge < 0 {
		return usageErrorf("--min-age must not be negative")
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	key, err := o.key.load()
	if err != nil {
		return err
	}
	b, err := openBucket(ctx, raw)
	if err != nil {
		return err
	}
	defer closeBucket(b)
	rep, err := backup.Prune(ctx, b, backup.PruneOptions{Key: key, Delete: o.delete, MinAge: o.minAge, Logger: log})
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return err
	}
	if rep.Manifests > 0 {
		out := &printer{w: g.stdout}
		printPrune(out, rep, o.delete)
		err = cmp.Or(err, out.err)
	}
	return err
}

func printPrune(out *printer, rep backup.PruneReport, deleting bool) {
	if len(rep.Candidates) == 0 && len(rep.Kept) == 0 {
		out.printf("nothing to prune: the manifests of the %d backups list every object of the bucket\n", rep.Manifests)
		return
	}
	verb := "can be deleted"
	if deleting {
		verb = "are deleted"
	}
	out.printf("%d objects (%d bytes) that no manifest of the %d backups lists %s:\n", len(rep.Candidates), rep.CandidateBytes, rep.Manifests, verb)
	for _, u := range rep.Candidates {
		out.printf("  %s  %d bytes  %s\n", u.Key, u.Size, u.ModTime.UTC().Format(time.RFC3339))
	}
	for _, k := range rep.Kept {
		out.printf("  kept: %s (%d bytes): %s\n", k.Key, k.Size, k.Reason)
	}
	switch {
	case deleting:
		out.printf("deleted %d objects (%d bytes)\n", rep.Deleted, rep.DeletedBytes)
	case len(rep.Candidates) > 0:
		out.println("dry run: nothing was deleted; run again with --delete to delete them")
	}
}
