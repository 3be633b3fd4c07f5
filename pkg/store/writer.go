package store

import (
	"context"
	"fmt"

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
