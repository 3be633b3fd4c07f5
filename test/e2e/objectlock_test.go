package e2e

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestObjectLock: export and backup with --object-lock-days give every object
// they write (data objects, the multipart one included, and manifests) an S3
// Object Lock retention of the chosen mode and length; S3 then refuses to
// delete those versions, and a rerun still succeeds (it adds versions). A
// bucket without Object Lock fails the run before anything is written, and a
// store without Object Lock is a usage error.
func TestObjectLock(t *testing.T) {
	needS3(t)
	t.Parallel()
	// Partition 0 holds about 17.5 MiB, written as one multipart upload.
	_, brokers := faultSource(t, 140, 20)
	bucket := createLockBucket(t)
	export := []string{"export", "--brokers", brokers, "--topics", faultTopic, "--to", s3URL(bucket), "--object-lock-days", "1"}

	before := time.Now()
	mustSucceed(t, kferry(t, runOpts{env: rootEnv()}, export...))
	after := time.Now()
	keys := listObjects(t, bucket)
	if len(keys) < faultPartitions {
		t.Fatalf("export wrote %v, want an object per partition at least", keys)
	}
	multipart := checkRetention(t, bucket, keys, types.ObjectLockRetentionModeGovernance, 1, before, after)
	if multipart == 0 {
		t.Errorf("no object of %v was a multipart upload; the test must cover CreateMultipartUpload", keys)
	}
	wantDeleteRefused(t, bucket, keys[0])

	// Object names are deterministic: a rerun rewrites them as new versions
	// and leaves the locked ones.
	mustSucceed(t, kferry(t, runOpts{env: rootEnv()}, export...))
	if again := listObjects(t, bucket); !slices.Equal(again, keys) {
		t.Errorf("after the rerun the bucket lists %v, want %v", again, keys)
	}

	// backup: compliance mode, with server-side encryption asked in the URL.
	backupURL := "s3://" + bucket + "/backup?endpoint=" + env.s3Endpoint + "&use_path_style=true&region=us-east-1&ssetype=AES256"
	before = time.Now()
	r := kferry(t, runOpts{env: rootEnv()}, "backup", "--brokers", brokers, "--topics", faultTopic, "--to", backupURL,
		"--object-lock-days", "2", "--object-lock-mode", "compliance")
	mustSucceed(t, r)
	after = time.Now()
	var backupKeys []string
	var manifests int
	for _, k := range listObjects(t, bucket) {
		if strings.HasPrefix(k, "backup/") {
			backupKeys = append(backupKeys, k)
			if strings.Contains(k, "_kferry/backups/") {
				manifests++
			}
		}
	}
	if manifests != 1 {
		t.Errorf("backup wrote %v, want one manifest among them", backupKeys)
	}
	checkRetention(t, bucket, backupKeys, types.ObjectLockRetentionModeCompliance, 2, before, after)
	mustSucceed(t, kferry(t, runOpts{env: rootEnv()}, "verify", backupURL))
}

// TestObjectLockRefused: --object-lock-days on a bucket without Object Lock
// fails at once with one line saying how to create such a bucket and leaves
// nothing; on a local folder, and with a bad mode, it is a usage error.
func TestObjectLockRefused(t *testing.T) {
	needS3(t)
	t.Parallel()
	_, brokers := faultSource(t, 0, 5)
	plain := createBucket(t)
	r := kferry(t, runOpts{env: rootEnv()}, "export", "--brokers", brokers, "--topics", faultTopic, "--to", s3URL(plain), "--object-lock-days", "1")
	wantError(t, r, 1, "--object-lock-days", plain, "no Object Lock enabled", "--object-lock-enabled-for-bucket")
	if keys, uploads := listObjects(t, plain), incompleteUploads(t, plain); len(keys) > 0 || len(uploads) > 0 {
		t.Errorf("the refused run left objects %v and uploads %v", keys, uploads)
	}
	r = kferry(t, runOpts{env: rootEnv()}, "backup", "--brokers", brokers, "--to", s3URL(plain), "--object-lock-days", "1")
	wantError(t, r, 1, "--object-lock-days", "no Object Lock enabled")

	dir := t.TempDir()
	r = kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", faultTopic, "--to", "file://"+dir, "--object-lock-days", "1")
	wantError(t, r, 2, "--object-lock-days", "s3://")
	r = kferry(t, runOpts{env: rootEnv()}, "export", "--brokers", brokers, "--topics", faultTopic, "--to", s3URL(plain), "--object-lock-days", "1", "--object-lock-mode", "forever")
	wantError(t, r, 2, "--object-lock-mode", "governance or compliance")
	r = kferry(t, runOpts{}, "backup", "--brokers", brokers, "--to", "file://"+dir, "--object-lock-days", "-3")
	wantError(t, r, 2, "--object-lock-days -3")
}

// createLockBucket creates a bucket with Object Lock enabled, as the root user.
func createLockBucket(t *testing.T) string {
	t.Helper()
	name := bucketName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s3Client(env.s3Access, env.s3Secret).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true)})
	if err != nil {
		t.Fatalf("create bucket %s with object lock: %v", name, err)
	}
	return name
}

// checkRetention asserts that every key's current version has a retention of
// mode until days after a moment between before and after, and returns how
// many of them were multipart uploads.
func checkRetention(t *testing.T, bucket string, keys []string, mode types.ObjectLockRetentionMode, days int, before, after time.Time) (multipart int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s3Client(env.s3Access, env.s3Secret)
	d := time.Duration(days) * 24 * time.Hour
	for _, k := range keys {
		out, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Errorf("retention of %s: %v", k, err)
			continue
		}
		until := aws.ToTime(out.Retention.RetainUntilDate)
		if out.Retention.Mode != mode || until.Before(before.Add(d).Truncate(time.Second)) || until.After(after.Add(d)) {
			t.Errorf("%s is retained %s until %s, want %s until %d days after the run", k, out.Retention.Mode, until, mode, days)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Errorf("head %s: %v", k, err)
		} else if strings.Contains(aws.ToString(head.ETag), "-") {
			multipart++
		}
	}
	return multipart
}

// wantDeleteRefused asserts that deleting the current version of key is
// refused and that the version is still there afterwards.
func wantDeleteRefused(t *testing.T, bucket, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s3Client(env.s3Access, env.s3Secret)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head %s: %v", key, err)
	}
	version := head.VersionId
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: version})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("delete of locked %s (version %s): %v, want AccessDenied", key, aws.ToString(version), err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: version}); err != nil {
		t.Errorf("locked %s (version %s) is gone after the refused delete: %v", key, aws.ToString(version), err)
	}
}
