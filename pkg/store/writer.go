package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// CloseWriter closes w and returns its error. gocloud's Azure writer (v0.47.0)
// panics in Close after a failed or cancelled upload (it dereferences a pipe
// reader its upload goroutine set to nil), which would crash kferry where it
// should report the failure, or abort an object on purpose. The panic becomes
// an error here; the object was not written. Every writer kferry opens is
// closed through it.
func CloseWriter(w *blob.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the upload failed (the storage driver panicked closing it: %v)", r)
		}
	}()
	return w.Close()
}

// WriteAll writes p to key in one object, like blob.Bucket.WriteAll, with
// CloseWriter's protection.
func WriteAll(ctx context.Context, b *blob.Bucket, key string, p []byte, opts *blob.WriterOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(ctx, key, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		cancel() // the upload is discarded
		_ = CloseWriter(w)
		return err
	}
	return CloseWriter(w)
}

// Uploads says how an object streams into the bucket: parts of PartBytes, Parts
// of them in flight. On S3 an upload also buffers only PartBytes before it
// chooses between one PutObject and a multipart upload: the SDK's transfer
// manager reads up to 16 MiB into memory first (growing a slice to it) when
// left alone, which for an export that streams three objects per partition on
// several partitions at once was most of its peak memory.
type Uploads struct {
	PartBytes int64 // at least MinPartBytes: S3 refuses smaller parts but the last
	Parts     int
}

// MinPartBytes is the smallest part S3 takes (but for an upload's last).
const MinPartBytes = 5 << 20

// WriterOptions returns o with the upload shaped by u on b's driver.
func (u Uploads) WriterOptions(b *blob.Bucket, o blob.WriterOptions) *blob.WriterOptions {
	// With the threshold at the part size, a part under S3's minimum would
	// turn every object of two such parts into an upload S3 refuses.
	u.PartBytes = max(u.PartBytes, MinPartBytes)
	o.BufferSize, o.MaxConcurrency = int(u.PartBytes), u.Parts
	var client *s3.Client
	if !b.As(&client) {
		return &o
	}
	before := o.BeforeWrite
	o.BeforeWrite = func(as func(any) bool) error {
		// gocloud's s3blob does not take the threshold; its writer hands out
		// its transfer manager, which is replaced in place by one that does.
		var tm *transfermanager.Client
		if as(&tm) && tm != nil {
			*tm = *transfermanager.New(client, func(to *transfermanager.Options) {
				to.PartSizeBytes, to.Concurrency = u.PartBytes, u.Parts
				to.MultipartUploadThreshold = u.PartBytes
				to.RequestChecksumCalculation = client.Options().RequestChecksumCalculation
			})
		}
		if before != nil {
			return before(as)
		}
		return nil
	}
	return &o
}
