package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// ErrObjectLockUnsupported means Object Lock retention was asked for on a bucket
// whose store has no S3 Object Lock (anything but s3://). It is a usage error:
// nothing was opened.
var ErrObjectLockUnsupported = errors.New("object lock needs an s3:// bucket")

// ErrObjectLockNotEnabled means Object Lock retention was asked for, but the S3
// bucket has no Object Lock configuration, so S3 refuses retention on its
// objects.
var ErrObjectLockNotEnabled = errors.New("bucket has no Object Lock enabled")

// lockHint tells how to get a bucket that takes retention.
const lockHint = "create the bucket with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket ...) or enable it (aws s3api put-object-lock-configuration)"

// LockMode is an S3 Object Lock retention mode.
type LockMode string

const (
	// LockGovernance protects object versions from deletion and overwrite by
	// everyone but principals granted s3:BypassGovernanceRetention, who may
	// delete them or shorten their retention (sending the bypass header).
	LockGovernance LockMode = LockMode(types.ObjectLockModeGovernance)
	// LockCompliance protects object versions from everyone, the account's root
	// user included, until their retention ends; it cannot be shortened.
	LockCompliance LockMode = LockMode(types.ObjectLockModeCompliance)
)

// ParseLockMode reads "governance" or "compliance" in any case.
func ParseLockMode(s string) (LockMode, error) {
	for _, m := range []LockMode{LockGovernance, LockCompliance} {
		if strings.EqualFold(s, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("object lock mode %q: want governance or compliance", s)
}

// ObjectLock is the S3 Object Lock retention that every object written through
// a bucket gets: Mode, until Days days after the upload starts. The zero value
// asks for none.
//
// Retention is set on each PutObject and CreateMultipartUpload request, so data
// objects and manifests alike are covered, whatever WriterOptions the caller
// passes. The bucket must have Object Lock enabled, which implies versioning: a
// rerun that rewrites an object's name adds a version, and the locked one stays.
type ObjectLock struct {
	Mode LockMode // LockGovernance when empty
	Days int      // retention in days; 0 for none
}

// Enabled reports whether l asks for retention.
func (l ObjectLock) Enabled() bool { return l.Days > 0 }

func (l ObjectLock) validate() error {
	if l.Days < 0 {
		return fmt.Errorf("object lock: %d days: want 0 (none) or more", l.Days)
	}
	if l.Mode != "" {
		if _, err := ParseLockMode(string(l.Mode)); err != nil {
			return err
		}
	}
	return nil
}

func (l ObjectLock) mode() types.ObjectLockMode {
	if l.Mode == "" {
		return types.ObjectLockModeGovernance
	}
	m, _ := ParseLockMode(string(l.Mode)) // validated when the bucket was opened
	return types.ObjectLockMode(m)
}

// lockWrites sets l's retention on every PutObject and CreateMultipartUpload
// that does not set one itself, counting the days from the call, and turns S3's
// refusal of retention on a bucket without Object Lock into
// ErrObjectLockNotEnabled. S3 also demands a checksum header on such uploads;
// openS3 makes the SDK always send one.
func lockWrites(l ObjectLock) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kferryObjectLock",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				var mode *types.ObjectLockMode
				var until **time.Time
				switch p := in.Parameters.(type) {
				case *s3.PutObjectInput:
					mode, until = &p.ObjectLockMode, &p.ObjectLockRetainUntilDate
				case *s3.CreateMultipartUploadInput:
					mode, until = &p.ObjectLockMode, &p.ObjectLockRetainUntilDate
				default:
					return next.HandleInitialize(ctx, in)
				}
				if *mode == "" {
					*mode = l.mode()
					*until = aws.Time(time.Now().Add(time.Duration(l.Days) * 24 * time.Hour).UTC())
				}
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil && lockMissing(err) {
					err = fmt.Errorf("%w: %s: %w", ErrObjectLockNotEnabled, lockHint, err)
				}
				return out, md, err
			}), middleware.Before)
	}
}

// lockMissing recognises S3's answer to retention on a bucket without Object
// Lock: InvalidRequest "Bucket is missing Object Lock Configuration" (some
// servers spell it without spaces).
func lockMissing(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidRequest" {
		return false
	}
	msg := strings.ToLower(strings.ReplaceAll(api.ErrorMessage(), " ", ""))
	return strings.Contains(msg, "missingobjectlockconfiguration")
}

// checkObjectLock asks the bucket for its Object Lock configuration before
// anything is written, so that a bucket without it fails the run at once
// instead of at its first object (some servers store that object before they
// refuse its retention). Not being allowed to ask is no verdict: a writer role
// often lacks s3:GetBucketObjectLockConfiguration, and then the first write
// tells. Other failures (a missing bucket, refused keys, no answer) are
// returned for OpenWith to classify.
func checkObjectLock(ctx context.Context, client *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	out, err := client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)},
		func(o *s3.Options) { o.RetryMaxAttempts = s3CheckAttempts })
	var api smithy.APIError
	switch {
	case err == nil && out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled:
		return nil
	case err == nil:
		return fmt.Errorf("%w: %s", ErrObjectLockNotEnabled, lockHint)
	case errors.As(err, &api) && api.ErrorCode() == "ObjectLockConfigurationNotFoundError":
		return fmt.Errorf("%w: %s", ErrObjectLockNotEnabled, lockHint)
	case errors.As(err, &api) && lockCheckInconclusive[api.ErrorCode()]:
		slog.Debug("s3: cannot read the bucket's Object Lock configuration; the first upload will tell", "bucket", bucket, "code", api.ErrorCode())
		return nil
	}
	return err
}

// lockCheckInconclusive are the answers to GetObjectLockConfiguration that say
// nothing about the bucket's Object Lock.
var lockCheckInconclusive = map[string]bool{"AccessDenied": true, "NotImplemented": true, "MethodNotAllowed": true}
