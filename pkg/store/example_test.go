package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/store"
)

// A bucket opened from a URL, written to and listed. mem:// lives in memory,
// for tests and examples; s3://, gs://, azblob:// and file:// work the same.
func ExampleOpen() {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	for _, key := range []string{
		"topics/orders/partition=0/orders+0+0000000000.json",
		"topics/orders/partition=1/orders+1+0000000000.json",
		"topics/payments/partition=0/payments+0+0000000000.json",
	} {
		if err := b.WriteAll(ctx, key, []byte("{}\n"), nil); err != nil {
			fmt.Println(err)
			return
		}
	}
	// List, not b.List: it also survives a local folder's concurrent renames.
	it := store.List(b, &blob.ListOptions{Prefix: "topics/orders/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(obj.Key, obj.Size)
	}
	// Output:
	// topics/orders/partition=0/orders+0+0000000000.json 3
	// topics/orders/partition=1/orders+1+0000000000.json 3
}

// A local folder as a bucket: OpenDestination creates it, keys are paths below
// it (without the sidecar files gocloud writes by default), and Check tells a
// folder that does not exist in one line.
func ExampleOpenDestination() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "kferry-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	dir := filepath.Join(tmp, "backups", "kafka")

	b, err := store.OpenDestination(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "topics/orders/partition=0/orders+0+0000000000.json", []byte("{}\n"), nil); err != nil {
		fmt.Println(err)
		return
	}
	err = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(tmp, path)
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	missing := filepath.Join(tmp, "elsewhere")
	_, err = store.Open(ctx, missing) // a plain path is a local folder too
	fmt.Println(errors.Is(err, store.ErrBucketNotFound))
	// Output:
	// backups/kafka/topics/orders/partition=0/orders+0+0000000000.json
	// true
}

// Redact is a bucket URL as logs and errors show it: a value that may be a
// secret is replaced, the settings of the stores are kept.
func ExampleRedact() {
	fmt.Println(store.Redact("s3://bucket/kafka?region=eu-west-1&X-Amz-Signature=abc123"))
	fmt.Println(store.Redact("s3://bucket/kafka?endpoint=https://user:hunter2@minio.local:9000"))
	// Output:
	// s3://bucket/kafka?region=eu-west-1&X-Amz-Signature=REDACTED
	// s3://bucket/kafka?endpoint=https://REDACTED@minio.local:9000
}

// Credentials never belong in a bucket URL: they come from each cloud's
// standard chain. A URL that carries one is refused, without repeating it.
func ExampleOpen_credentials() {
	_, err := store.Open(context.Background(), "s3://AKIAEXAMPLE:secret@bucket/kafka")
	fmt.Println(errors.Is(err, store.ErrBadURL))
	fmt.Println(err)
	// Output:
	// true
	// bad bucket URL: s3://REDACTED@bucket/kafka carries credentials (user:password@); they do not belong in a URL: use the AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or pod role)
}
