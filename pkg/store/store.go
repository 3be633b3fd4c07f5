package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// buckets
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// buckets
	_ "gocloud.dev/blob/memblob" // mem:// buckets
)

// ErrBucketNotFound means the bucket (or local folder) does not exist.
var ErrBucketNotFound = errors.New("bucket not found")

// ErrAccessDenied means the credentials in use may not read or write the bucket.
var ErrAccessDenied = errors.New("access to bucket denied")

// ErrUnreachable means the storage endpoint did not accept a connection.
var ErrUnreachable = errors.New("bucket endpoint unreachable")

// ErrBadURL means the bucket URL cannot be parsed or names an unknown scheme.
var ErrBadURL = errors.New("bad bucket URL")

// CheckTimeout bounds the first call to a bucket, so a wrong endpoint fails fast.
const CheckTimeout = 20 * time.Second

// Open opens raw as a bucket. raw is a gocloud.dev URL ("s3://bucket/prefix?region=..",
// "file:///dir", "mem://") or a plain local path. For s3, gs and azblob the URL path
// is a key prefix inside the bucket. Local folders are written without gocloud's
// ".attrs" sidecar files, so they hold exactly the Confluent layout, and with
// temporary files next to their final names, so that writing works when the folder
// is on another file system than $TMPDIR. A local folder that does not exist is
// ErrBucketNotFound. s3 buckets retry the store's transient faults and time out
// stalled connections (S3MaxAttempts, DefaultStallTimeout; docs/faults.md).
// A URL that carries credentials (user:password@, also in endpoint=, or a
// credential-like parameter) is ErrBadURL, and errors show URLs only as Redact
// gives them.
func Open(ctx context.Context, raw string) (*blob.Bucket, error) {
	return OpenWith(ctx, raw, Options{})
}

// OpenDestination is Open for a bucket that is about to be written: a local folder
// that does not exist yet is created, as mkdir -p would. Cloud buckets are never
// created.
func OpenDestination(ctx context.Context, raw string) (*blob.Bucket, error) {
	return OpenWith(ctx, raw, Options{CreateDir: true})
}

// Options adjust how OpenWith opens a bucket.
type Options struct {
	// CreateDir creates a local folder that does not exist yet, as
	// OpenDestination does.
	CreateDir bool
	// ObjectLock, when enabled, gives every object written through the bucket an
	// S3 Object Lock retention (see ObjectLock). Only s3:// buckets take it
	// (ErrObjectLockUnsupported otherwise), and OpenWith then asks the bucket for
	// its Object Lock configuration: a bucket without one is
	// ErrObjectLockNotEnabled before anything is written.
	ObjectLock ObjectLock
	// DryRun, with CreateDir, creates no folder: a local folder that does not
	// exist opens as an empty in-memory bucket (what it would hold), after the
	// same checks of the URL and options.
	DryRun bool
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, raw string, o Options) (*blob.Bucket, error) {
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	if err := o.ObjectLock.validate(); err != nil {
		return nil, err
	}
	if o.ObjectLock.Enabled() && u.Scheme != "s3" {
		return nil, fmt.Errorf("%w: %s is a %s bucket", ErrObjectLockUnsupported, Redact(raw), u.Scheme)
	}
	prefix := ""
	switch u.Scheme {
	case "file":
		q := u.Query()
		if q.Get("metadata") == "" {
			q.Set("metadata", string(fileblob.MetadataDontWrite))
		}
		if q.Get("no_tmp_dir") == "" {
			q.Set("no_tmp_dir", "true")
		}
		if o.CreateDir && q.Get("create_dir") == "" {
			if _, err := os.Stat(filepath.FromSlash(u.Path)); o.DryRun && errors.Is(err, fs.ErrNotExist) {
				return blob.OpenBucket(ctx, "mem://")
			}
			q.Set("create_dir", "true")
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
	opened := u.String()
	var b *blob.Bucket
	if u.Scheme == "s3" {
		b, err = openS3(ctx, u, o.ObjectLock) // with kferry's retries and timeouts (s3.go)
	} else {
		b, err = blob.OpenBucket(ctx, opened)
	}
	if err != nil {
		if detail := err.Error(); strings.Contains(detail, "query parameter") {
			// gocloud refuses parameters it does not know, repeating the URL.
			detail = strings.TrimPrefix(detail, "open bucket "+opened+": ")
			return nil, scrub(fmt.Errorf("%w: %s: %s", ErrBadURL, Redact(raw), detail), raw, opened)
		}
		return nil, classify(fmt.Errorf("open %s: %w", Redact(raw), scrub(err, opened)), raw)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return b, nil
}

// Check makes one cheap call to the bucket and turns the classic failures (missing
// bucket, denied access, unreachable endpoint) into one-line errors that say what
// to do. An endpoint that does not answer within CheckTimeout (or stalls every
// attempt) is ErrUnreachable.
func Check(parent context.Context, b *blob.Bucket, raw string) error {
	ctx, cancel := context.WithTimeout(parent, CheckTimeout)
	defer cancel()
	// One level only, through List, which asks again when a file of a local
	// folder is renamed while it is listed.
	it := List(b, &blob.ListOptions{Delimiter: "/", BeforeList: limitCheckAttempts})
	_, err := it.Next(ctx)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	// A store that retries until the deadline (Cloud Storage's client does)
	// may have failed to connect all along: that is no stall.
	var op *net.OpError
	refused := errors.As(err, &op) && op.Op == "dial"
	if parent.Err() == nil && ctx.Err() != nil && !errors.Is(err, ErrStalled) && !refused {
		err = fmt.Errorf("%w: no answer within %s", ErrStalled, CheckTimeout)
	}
	return classify(fmt.Errorf("bucket %s: %w", Redact(raw), err), raw)
}

func parse(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty; give s3://bucket/prefix, gs://, azblob://, file:///dir or a local path", ErrBadURL)
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadURL, Redact(raw), err)
		}
		return &url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a URL (check its %%-escapes)", ErrBadURL, Redact(raw))
	}
	switch u.Scheme {
	case "s3", "gs", "azblob", "file", "mem":
	default:
		return nil, fmt.Errorf("%w: scheme %q not supported; use s3, gs, azblob, file or mem", ErrBadURL, u.Scheme)
	}
	if err := refuseCredentials(raw, u.Scheme); err != nil {
		return nil, err
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		// gocloud would drop it silently, and with it the end of a path
		// holding a '#'.
		return nil, fmt.Errorf("%w: %s: a bucket URL takes no #fragment (write a '#' in a path as %%23)", ErrBadURL, Redact(raw))
	}
	return u, nil
}
