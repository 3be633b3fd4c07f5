// Package store opens bucket URLs (s3, gs, azblob, file, mem) as gocloud.dev
// buckets, with kferry's defaults, a secret-free form for logs, and clear errors.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// buckets
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// buckets
	_ "gocloud.dev/blob/memblob" // mem:// buckets
	_ "gocloud.dev/blob/s3blob"  // s3:// buckets
	"gocloud.dev/gcerrors"
)

// ErrBucketNotFound means the bucket (or local folder) does not exist.
var ErrBucketNotFound = errors.New("bucket not found")

// ErrAccessDenied means the credentials in use may not read or write the bucket.
var ErrAccessDenied = errors.New("access to bucket denied")

// ErrBadURL means the bucket URL cannot be parsed or names an unknown scheme.
var ErrBadURL = errors.New("bad bucket URL")

// CheckTimeout bounds the first call to a bucket, so a wrong endpoint fails fast.
const CheckTimeout = 20 * time.Second

// Open opens raw as a bucket. raw is a gocloud.dev URL ("s3://bucket/prefix?region=..",
// "file:///dir", "mem://") or a plain local path. For s3, gs and azblob the URL path
// is a key prefix inside the bucket. Local folders are written without gocloud's
// ".attrs" sidecar files, so they hold exactly the Confluent layout.
func Open(ctx context.Context, raw string) (*blob.Bucket, error) {
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	prefix := ""
	switch u.Scheme {
	case "file":
		q := u.Query()
		if q.Get("metadata") == "" {
			q.Set("metadata", string(fileblob.MetadataDontWrite))
		}
		u.RawQuery = q.Encode()
	case "mem":
	default:
		prefix = strings.TrimPrefix(u.Path, "/")
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		u.Path = ""
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, classify(fmt.Errorf("open %s: %w", Redact(raw), err), raw)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return b, nil
}

// Check makes one cheap call to the bucket and turns the classic failures (missing
// bucket, denied access, unreachable endpoint) into one-line errors that say what
// to do.
func Check(ctx context.Context, b *blob.Bucket, raw string) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	it := b.List(&blob.ListOptions{})
	_, err := it.Next(ctx)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return classify(fmt.Errorf("bucket %s: %w", Redact(raw), err), raw)
}

// classify wraps err with the sentinel that matches its gocloud error code.
func classify(err error, raw string) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%w: %s does not exist; create it first (or check the URL and region): %v", ErrBucketNotFound, Redact(raw), rootCause(err))
	case gcerrors.PermissionDenied:
		return fmt.Errorf("%w: %s: the credentials in use may not access it; check AWS_PROFILE/AWS_ACCESS_KEY_ID or the bucket policy: %v", ErrAccessDenied, Redact(raw), rootCause(err))
	}
	if strings.Contains(err.Error(), "InvalidAccessKeyId") || strings.Contains(err.Error(), "SignatureDoesNotMatch") || strings.Contains(err.Error(), "AccessDenied") {
		return fmt.Errorf("%w: %s: the credentials were refused; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE: %v", ErrAccessDenied, Redact(raw), rootCause(err))
	}
	return err
}

// rootCause returns the innermost error's message, which for the AWS SDK is the
// service's own words, without the layers of operation names around it.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return strings.TrimSpace(err.Error())
		}
		err = next
	}
}

func parse(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty; give s3://bucket/prefix, gs://, azblob://, file:///dir or a local path", ErrBadURL)
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadURL, raw, err)
		}
		return &url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, Redact(raw))
	}
	switch u.Scheme {
	case "s3", "gs", "azblob", "file", "mem":
	default:
		return nil, fmt.Errorf("%w: scheme %q not supported; use s3, gs, azblob, file or mem", ErrBadURL, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s carries credentials; pass them through the environment (AWS_ACCESS_KEY_ID, ...) instead", ErrBadURL, Redact(raw))
	}
	return u, nil
}

// secretParams are URL query parameters whose values must never be shown.
var secretParams = map[string]bool{"secret_key_path": true, "access_key": true, "secret_key": true, "token": true, "sig": true, "x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true}

// Redact returns raw fit for logs, errors and reports: userinfo removed and the
// values of credential-like query parameters replaced.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		if strings.Contains(raw, "@") {
			return "<unparsable URL>"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if secretParams[strings.ToLower(k)] {
			q.Set(k, "REDACTED")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
