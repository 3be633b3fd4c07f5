// Package store opens bucket URLs (s3, gs, azblob, file, mem) as gocloud.dev
// buckets, with kferry's defaults, a secret-free form for logs, and clear errors,
// and lists them (List, ListPage) in a way that a local folder's concurrent
// renames do not fail. Package storetest is the suite every store passes.
//
// # Opening a bucket
//
// [Open] takes the URLs that gocloud.dev's blob package takes, plus plain local
// paths, and returns the portable [*blob.Bucket] that the rest of kferry passes
// around; only this package imports storage drivers. The URL's path is a key
// prefix inside the bucket:
//
//	s3://bucket/prefix?region=eu-west-1              (also &endpoint=URL&use_path_style=true for S3-compatible stores)
//	gs://bucket/prefix
//	azblob://container/prefix
//	file:///var/backups/kafka, or /var/backups/kafka  (a local folder: keys are paths below it)
//	mem://                                           (in memory, for tests and examples)
//
// Credentials come from each cloud's standard chain (environment, profile,
// instance role), never from the URL: a URL that carries one is [ErrBadURL].
// An unknown query parameter is an error too, as in gocloud.dev. [OpenDestination]
// and [OpenWith] ([Options]) create a missing local folder, and can give every
// object written an S3 Object Lock retention ([ObjectLock]); a cloud bucket is
// never created.
//
// Opening is lazy on most stores; [Check] makes one cheap call and turns the
// classic failures into one-line errors that wrap [ErrBucketNotFound],
// [ErrAccessDenied] or [ErrUnreachable] and say what to do. Errors show URLs
// only as [Redact] gives them, which is also the form to log.
//
// # Listing and reading
//
// Every listing goes through [List] or [ListPage] rather than the bucket's own:
// a local folder's listing fails when a file is renamed into place while it is
// read (a concurrent writer completing an object), and these ask for the same
// page again. Reads and writes use the bucket directly. On s3://, every call
// retries the store's transient faults and times out stalled connections
// ([S3MaxAttempts], [DefaultStallTimeout], docs/faults.md).
package store
