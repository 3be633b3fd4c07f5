package store

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"gocloud.dev/blob"
)

// ListPageSize is the number of objects List asks for per page, the default
// page of every gocloud driver.
const ListPageSize = 1000

// listAttempts bounds how often ListPage asks for one page again after a file
// of a local folder vanished while the page was read.
const listAttempts = 10

// ListPage returns one page of b's listing as (*blob.Bucket).ListPage does, in
// lexicographical order of keys: pageToken is blob.FirstPageToken for the first
// page, and an empty next token ends the listing. Every listing of a bucket in
// kferry goes through ListPage (or List, built on it), because of one quirk it
// absorbs:
//
// A local folder (file://) is listed by reading each directory and then asking
// for each file's size; a file renamed in between (an object whose temporary
// file is moved into place by a concurrent writer) fails the page with
// NotFound, although nothing is wrong with the bucket. ListPage then asks for
// the same page again, up to listAttempts times in all: the page token is a
// key, so the answer continues the listing exactly where it stood, and the new
// object is listed under its final name if the listing has not passed it yet,
// as on a cloud store. Any other error, and NotFound from a cloud store (a
// missing bucket), is returned at once.
func ListPage(ctx context.Context, b *blob.Bucket, pageToken []byte, pageSize int, opts *blob.ListOptions) ([]*blob.ListObject, []byte, error) {
	for attempt := 1; ; attempt++ {
		if listAttemptHook != nil {
			listAttemptHook(attempt)
		}
		objs, next, err := b.ListPage(ctx, pageToken, pageSize, opts)
		if err == nil || attempt == listAttempts || !fileVanished(err) || ctx.Err() != nil {
			return objs, next, err
		}
	}
}

// listAttemptHook, when a test sets it, runs before each attempt of ListPage.
var listAttemptHook func(attempt int)

// fileVanished reports whether a listing failed because a file of a local
// folder was gone when its size was asked for: fileblob hands out the
// *fs.PathError of that lstat.
func fileVanished(err error) bool {
	var pathErr *fs.PathError
	return errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist)
}

// ListIterator iterates over a listing made with List.
type ListIterator struct {
	b     *blob.Bucket
	opts  *blob.ListOptions
	token []byte
	page  []*blob.ListObject
}

// List lists b as (*blob.Bucket).List does, page by page through ListPage, so
// that a listing of a local folder survives files being renamed into place
// while it runs. opts may be nil. Use it instead of b.List everywhere.
func List(b *blob.Bucket, opts *blob.ListOptions) *ListIterator {
	return &ListIterator{b: b, opts: opts, token: blob.FirstPageToken}
}

// Next returns the next object, or io.EOF after the last one. After an error
// other than io.EOF the listing cannot go on; start a new one.
func (it *ListIterator) Next(ctx context.Context) (*blob.ListObject, error) {
	for len(it.page) == 0 {
		if len(it.token) == 0 {
			return nil, io.EOF
		}
		page, next, err := ListPage(ctx, it.b, it.token, ListPageSize, it.opts)
		if err != nil {
			return nil, err
		}
		it.page, it.token = page, next
	}
	obj := it.page[0]
	it.page = it.page[1:]
	return obj, nil
}
