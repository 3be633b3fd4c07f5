package storetest

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/store"
)

func testCheck(t *testing.T, ctx context.Context, target Target) {
	raw := target.Fresh(t)
	b := open(t, ctx, target, raw)
	if err := store.Check(ctx, b, raw); err != nil {
		t.Fatalf("Check of an empty bucket: %s", shown(target, err))
	}
	if err := b.WriteAll(ctx, objectKey, []byte("{}"), nil); err != nil {
		t.Fatalf("write %s: %s", objectKey, shown(target, err))
	}
	if err := store.Check(ctx, b, raw); err != nil {
		t.Errorf("Check of a bucket with an object: %s", shown(target, err))
	}
}

func testMissingBucket(t *testing.T, ctx context.Context, target Target) {
	if target.Missing == nil {
		t.Log("not run: the store has no missing buckets")
		return
	}
	raw := target.Missing(t)
	wantBucketError(t, target, raw, openAndCheck(ctx, raw), store.ErrBucketNotFound)
}

func testDenied(t *testing.T, ctx context.Context, target Target) {
	if target.Denied == nil {
		t.Log("not run: the store (or its emulator) cannot refuse access")
		return
	}
	raw := target.Denied(t)
	wantBucketError(t, target, raw, openAndCheck(ctx, raw), store.ErrAccessDenied)
}

func testUnreachable(t *testing.T, ctx context.Context, target Target) {
	if target.Unreachable == nil {
		t.Log("not run: the store has no endpoint")
		return
	}
	raw := target.Unreachable(t)
	start := time.Now()
	err := openAndCheck(ctx, raw)
	wantBucketError(t, target, raw, err, store.ErrUnreachable)
	// Check's bound, and some seconds for the store's own timers.
	if d := time.Since(start); d > store.CheckTimeout+10*time.Second {
		t.Errorf("the error took %s", d)
	}
}

// testObjectLock: only s3:// buckets take Object Lock retention, and a bucket
// without Object Lock is refused before anything is written.
func testObjectLock(t *testing.T, ctx context.Context, target Target) {
	raw := target.Fresh(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := store.ErrObjectLockUnsupported
	if u.Scheme == "s3" {
		want = store.ErrObjectLockNotEnabled // Fresh buckets are made without it
	}
	b, err := store.OpenWith(ctx, raw, store.Options{CreateDir: true, ObjectLock: store.ObjectLock{Days: 1}})
	if err == nil {
		_ = b.Close() // the test fails on the missing error
	}
	if !errors.Is(err, want) {
		t.Errorf("Object Lock on %s: %s; want %v", store.Redact(raw), shown(target, err), want)
	}
	noSecret(t, target, err)
}
