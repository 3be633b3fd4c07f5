package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/store"
)

// pageSize is small, so that a few objects make many pages.
const pageSize = 4

func testListPages(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	var want []string
	sizes := map[string]int64{}
	for i := range 23 {
		key := fmt.Sprintf("topics/t/partition=%d/t+%d+%019d.json", i%3, i%3, i*10)
		if i%5 == 0 {
			key = fmt.Sprintf("_kferry/offsets/o%02d.json", i)
		}
		want = append(want, key)
		sizes[key] = int64(i)
		if err := b.WriteAll(ctx, key, []byte(strings.Repeat("x", i)), nil); err != nil {
			t.Fatalf("write %s: %s", key, shown(target, err))
		}
	}
	slices.Sort(want)

	// Page by page: each page holds at most pageSize objects, and together
	// they list every object once, in order.
	var got []string
	pages := 0
	for token := blob.FirstPageToken; len(token) > 0; {
		objs, next, err := store.ListPage(ctx, b, token, pageSize, nil)
		if err != nil {
			t.Fatalf("page %d: %s", pages+1, shown(target, err))
		}
		if len(objs) > pageSize {
			t.Errorf("page %d holds %d objects, more than the %d asked for", pages+1, len(objs), pageSize)
		}
		pages++
		if pages > len(want) {
			t.Fatalf("%d pages for %d objects: the listing does not end", pages, len(want))
		}
		for _, o := range objs {
			got = append(got, o.Key)
		}
		token = next
	}
	if pages < (len(want)+pageSize-1)/pageSize {
		t.Errorf("%d pages for %d objects of pages of %d", pages, len(want), pageSize)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the pages list (-want +got):\n%s", diff)
	}

	// List pages on its own, with sizes; gocloud's own iterator agrees.
	objs := listAll(t, ctx, target, b, nil)
	if diff := cmp.Diff(want, keys(objs)); diff != "" {
		t.Errorf("List lists (-want +got):\n%s", diff)
	}
	for i, o := range objs {
		if o.IsDir || o.Size != sizes[o.Key] {
			t.Errorf("object %d: %s of %d bytes (dir %v); want %d bytes", i, o.Key, o.Size, o.IsDir, sizes[o.Key])
		}
	}
	var plain []string
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("gocloud's listing: %s", shown(target, err))
		}
		plain = append(plain, o.Key)
	}
	if diff := cmp.Diff(want, plain); diff != "" {
		t.Errorf("gocloud's listing (-want +got):\n%s", diff)
	}
}

func testListPrefix(t *testing.T, ctx context.Context, target Target) {
	b := fresh(t, ctx, target)
	for _, key := range []string{"p/a", "p/b/1", "p/b/2", "p/c/d/e", "pq/x", "q"} {
		if err := b.WriteAll(ctx, key, []byte(key), nil); err != nil {
			t.Fatalf("write %s: %s", key, shown(target, err))
		}
	}
	for _, tc := range []struct {
		prefix, delim string
		want          []string // folders end in the delimiter
	}{
		{"", "", []string{"p/a", "p/b/1", "p/b/2", "p/c/d/e", "pq/x", "q"}},
		{"p/", "", []string{"p/a", "p/b/1", "p/b/2", "p/c/d/e"}},
		{"p", "", []string{"p/a", "p/b/1", "p/b/2", "p/c/d/e", "pq/x"}},
		{"p/b/", "", []string{"p/b/1", "p/b/2"}},
		{"p/b/3", "", nil},
		{"", "/", []string{"p/", "pq/", "q"}},
		{"p/", "/", []string{"p/a", "p/b/", "p/c/"}},
		{"p/c/", "/", []string{"p/c/d/"}},
	} {
		opts := &blob.ListOptions{Prefix: tc.prefix, Delimiter: tc.delim}
		// Through List (pages of ListPageSize) and through pages of one
		// object, where folders must not repeat across pages.
		for _, size := range []int{store.ListPageSize, 1} {
			got := listPages(t, ctx, target, b, opts, size)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("prefix %q delimiter %q, pages of %d (-want +got):\n%s", tc.prefix, tc.delim, size, diff)
			}
		}
	}
}

// listAll lists b through store.List.
func listAll(t *testing.T, ctx context.Context, target Target, b *blob.Bucket, opts *blob.ListOptions) []*blob.ListObject {
	t.Helper()
	var out []*blob.ListObject
	it := store.List(b, opts)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("list: %s", shown(target, err))
		}
		out = append(out, o)
	}
}

// listPages lists b through store.ListPage in pages of size, each key with
// "/" appended when it is a folder and does not end in one already.
func listPages(t *testing.T, ctx context.Context, target Target, b *blob.Bucket, opts *blob.ListOptions, size int) []string {
	t.Helper()
	var out []string
	for token := blob.FirstPageToken; len(token) > 0; {
		objs, next, err := store.ListPage(ctx, b, token, size, opts)
		if err != nil {
			t.Fatalf("list: %s", shown(target, err))
		}
		for _, o := range objs {
			if o.IsDir != strings.HasSuffix(o.Key, "/") {
				t.Errorf("%s: IsDir %v", o.Key, o.IsDir)
			}
			out = append(out, o.Key)
		}
		if len(out) > 100 {
			t.Fatalf("the listing does not end: %v", out)
		}
		token = next
	}
	return out
}

func keys(objs []*blob.ListObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// describe shows objects as key:size.
func describe(objs []*blob.ListObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, fmt.Sprintf("%s:%d", o.Key, o.Size))
	}
	return out
}
