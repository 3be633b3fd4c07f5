package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// TestListWhileRenaming: a local folder's listing goes on while objects are
// renamed into place. fileblob reads a directory and then asks for each file's
// size, so a temporary file renamed in between fails the page with NotFound;
// ListPage asks for the page again. Here a real rename races each of the first
// attempts of every page: the listing must still list every object once, and
// the retries must have been needed.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestListWhileRenaming(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const stable = 1500
	for i := range stable {
		// Sorted before the renamed files, so that their sizes are asked for
		// well after the directory was read.
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a-%04d.json", i)), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Open(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// The renamer moves one temporary file into place (fileblob's naming:
	// "<key>.<hex>.tmp") for each of the first racing attempts of a page, and
	// none for later attempts, which therefore succeed.
	const racing = 3
	renames := make(chan struct{}, 1)
	renamed := make(chan error, 1)
	next := 0
	tmp := func(n int) string { return filepath.Join(dir, fmt.Sprintf("z-%05d.json.%x.tmp", n, n+0xabc)) }
	final := func(n int) string { return filepath.Join(dir, fmt.Sprintf("z-%05d.json", n)) }
	if err := os.WriteFile(tmp(next), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range renames {
			err := os.Rename(tmp(next), final(next))
			next++
			if err == nil {
				err = os.WriteFile(tmp(next), []byte("{}\n"), 0o600)
			}
			renamed <- err
		}
	}()
	attempts, pages := 0, 0
	pending := false
	listAttemptHook = func(attempt int) {
		if pending { // the rename of the attempt before is done by now
			if err := <-renamed; err != nil {
				t.Error(err)
			}
			pending = false
		}
		attempts++
		if attempt == 1 {
			pages++
		}
		if attempt <= racing {
			renames <- struct{}{}
			pending = true
		}
	}
	t.Cleanup(func() {
		listAttemptHook = nil
		close(renames)
	})

	for listing := range 20 {
		var keys []string
		it := List(b, nil)
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("listing %d: %v", listing, err)
			}
			keys = append(keys, obj.Key)
		}
		if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
			t.Fatalf("listing %d is not sorted or lists a key twice", listing)
		}
		n := 0
		for _, k := range keys {
			if strings.HasPrefix(k, "a-") {
				n++
			}
		}
		if n != stable {
			t.Fatalf("listing %d lists %d of the %d objects that did not move", listing, n, stable)
		}
	}
	if attempts == pages {
		t.Errorf("%d pages, none asked for twice: the renames never raced a listing", pages)
	}
	t.Logf("%d pages, %d attempts", pages, attempts)
}

// TestFileVanished: only a file gone from a local folder is asked again; a
// missing cloud bucket, which is NotFound too, is not.
func TestFileVanished(t *testing.T) {
	_, statErr := os.Lstat(filepath.Join(t.TempDir(), "gone"))
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("list: %w", statErr), true},
		{&fs.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission}, false},
		{errors.New("NoSuchBucket: The specified bucket does not exist"), false},
	} {
		if got := fileVanished(tc.err); got != tc.want {
			t.Errorf("fileVanished(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A listing that fails otherwise is not asked again.
	calls := 0
	listAttemptHook = func(int) { calls++ }
	t.Cleanup(func() { listAttemptHook = nil })
	b, err := Open(context.Background(), "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, _, err = ListPage(context.Background(), b, blob.FirstPageToken, 10, &blob.ListOptions{Prefix: "../escape"})
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound || calls != 1 {
		t.Errorf("a listing that fails otherwise: %v after %d attempts; want its error after 1", err, calls)
	}
}
