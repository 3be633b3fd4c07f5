package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/store"
)

// storeFlags are the flags of commands that write objects: S3 Object Lock
// retention for every object and manifest they write.
type storeFlags struct {
	lockDays int
	lockMode string
	// dryRun opens a missing local folder without creating it (store.Options.DryRun).
	dryRun bool
}

func (s *storeFlags) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&s.lockDays, "object-lock-days", 0, "S3 Object Lock: protect every object written (data and manifests) from deletion for this many days; the bucket must have Object Lock enabled. 0: no retention")
	fs.StringVar(&s.lockMode, "object-lock-mode", "governance", "S3 Object Lock mode with --object-lock-days: governance (principals with s3:BypassGovernanceRetention may still delete) or compliance (nobody can until it expires)")
}

// openDestination opens a bucket to write with the flags' options, as the
// package's openDestination does (a missing local folder is created) and checks
// that it answers. Retention asked of a bucket that cannot hold it (not s3://)
// is a usage error.
func (s *storeFlags) openDestination(ctx context.Context, raw string) (*blob.Bucket, error) {
	mode, err := store.ParseLockMode(s.lockMode)
	if err != nil {
		return nil, usageErrorf("--object-lock-mode: %v", err)
	}
	if s.lockDays < 0 {
		return nil, usageErrorf("--object-lock-days %d: want 0 (no retention) or more days", s.lockDays)
	}
	o := store.Options{CreateDir: true, DryRun: s.dryRun, ObjectLock: store.ObjectLock{Mode: mode, Days: s.lockDays}}
	return checked(ctx, raw, func(ctx context.Context, raw string) (*blob.Bucket, error) {
		b, err := store.OpenWith(ctx, raw, o)
		switch {
		case errors.Is(err, store.ErrObjectLockUnsupported):
			return nil, fmt.Errorf("%w: --object-lock-days: %w", ErrUsage, err)
		case errors.Is(err, store.ErrObjectLockNotEnabled):
			return nil, fmt.Errorf("--object-lock-days: %w", err)
		}
		return b, err
	})
}
