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
}

func (s *storeFlags) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&s.lockDays, "object-lock-days", 0, "S3 Object Lock: protect every object written (data and manifests) from deletion for this many days; the bucket must have Object Lock enabled. 0: no retention")
	fs.StringVar(&s.lockMode, "object-lock-mode", "governance", "S3 Object Lock mode with --object-lock-days: governance (principals with s3:BypassGovernanceRetention may still delete) or compliance (nobody can until it expires)")
}

// options returns the store options the flags ask for; bad values are usage
// errors.
func (s *storeFlags) options(createDir bool) (store.Options, error) {
	mode, err := store.ParseLockMode(s.lockMode)
	if err != nil {
		return store.Options{}, usageErrorf("--object-lock-mode: %v", err)
	}
	if s.lockDays < 0 {
		return store.Options{}, usageErrorf("--object-lock-days %d: want 0 (no retention) or more days", s.lockDays)
	}
	return store.Options{CreateDir: createDir, ObjectLock: store.ObjectLock{Mode: mode, Days: s.lockDays}}, nil
}

// openBucket is the package's openBucket with the flags' options: it opens a
// bucket to write and checks that it answers. Retention asked of a bucket that
// cannot hold it (not s3://) is a usage error.
func (s *storeFlags) openBucket(ctx context.Context, raw string) (*blob.Bucket, error) {
	return s.open(ctx, raw, false)
}

// openDestination is openBucket that also creates a missing local folder, as
// store.OpenDestination does.
func (s *storeFlags) openDestination(ctx context.Context, raw string) (*blob.Bucket, error) {
	return s.open(ctx, raw, true)
}

func (s *storeFlags) open(ctx context.Context, raw string, createDir bool) (*blob.Bucket, error) {
	o, err := s.options(createDir)
	if err != nil {
		return nil, err
	}
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
