package storetest

import (
	"context"
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/pkg/store"
)

// Target is one store under test. Its functions may set environment
// variables with t.Setenv: the suite runs its tests one after another.
type Target struct {
	// Fresh returns the URL of an empty bucket, or of an empty prefix of one,
	// that no other call returned. Credentials come from the environment, as
	// in a user's run.
	Fresh func(t *testing.T) string
	// Isolated is true when every Open makes a new, empty bucket (mem://):
	// what one open bucket holds no other shows, so the tests that open a
	// URL twice do not run.
	Isolated bool
	// Missing returns the URL of a bucket that does not exist; nil for a
	// store without missing buckets (mem://).
	Missing func(t *testing.T) string
	// Denied returns the URL of a bucket that exists, having set up
	// credentials (t.Setenv) that may not access it. Nil when neither the
	// store nor its emulator can refuse access; the Target says why.
	Denied func(t *testing.T) string
	// Unreachable returns the URL of a bucket whose endpoint takes no
	// connection; nil for stores without an endpoint.
	Unreachable func(t *testing.T) string
	// Secrets are values that no error may show: keys and passwords the
	// Target's functions put in the environment.
	Secrets []string
}

// testTimeout bounds each test of the suite.
const testTimeout = 3 * time.Minute

// Run runs the conformance suite against target, each test in a subtest of t.
func Run(t *testing.T, target Target) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(*testing.T, context.Context, Target)
	}{
		{"WriteRead", testWriteRead},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"MissingObject", testMissingObject},
		{"ListPages", testListPages},
		{"ListPrefix", testListPrefix},
		{"LargeObject", testLargeObject},
		{"AbandonedWrite", testAbandonedWrite},
		{"URLPrefix", testURLPrefix},
		{"Check", testCheck},
		{"MissingBucket", testMissingBucket},
		{"Denied", testDenied},
		{"Unreachable", testUnreachable},
		{"ObjectLock", testObjectLock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			tc.run(t, ctx, target)
		})
	}
}

// open opens raw for writing (a local folder is created), closed when the
// test ends.
func open(t *testing.T, ctx context.Context, target Target, raw string) *blob.Bucket {
	t.Helper()
	b, err := store.OpenDestination(ctx, raw)
	if err != nil {
		t.Fatalf("open %s: %v", store.Redact(raw), shown(target, err))
	}
	t.Cleanup(func() { _ = b.Close() }) // teardown: nothing left to tell
	return b
}

// fresh opens a new empty bucket of target.
func fresh(t *testing.T, ctx context.Context, target Target) *blob.Bucket {
	t.Helper()
	return open(t, ctx, target, target.Fresh(t))
}

// withPath returns raw with the key prefix p: a bucket URL's path is a key
// prefix, a local folder's is the folder, in which p is a subfolder.
func withPath(t *testing.T, raw, p string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", store.Redact(raw), err)
	}
	if u.Scheme == "file" {
		u.Path = path.Join(u.Path, p)
	} else {
		u.Path = "/" + p
	}
	return u.String()
}

// shown is err for a test message, with target's secrets replaced, so that a
// failing test does not print them either.
func shown(target Target, err error) string {
	if err == nil {
		return "<nil>"
	}
	msg := err.Error()
	for _, s := range target.Secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "<SECRET>")
		}
	}
	return msg
}

// noSecret fails the test if err shows one of target's secrets.
func noSecret(t *testing.T, target Target, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range target.Secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("an error shows a secret (as <SECRET>): %s", shown(target, err))
		}
	}
}

// openAndCheck opens raw and makes Check's call, returning the first error.
func openAndCheck(ctx context.Context, raw string) error {
	b, err := store.Open(ctx, raw)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }() // the error of interest is Check's
	return store.Check(ctx, b, raw)
}

// wantBucketError asserts that err is sentinel on one line that names the
// bucket as Redact shows it and shows no secret.
func wantBucketError(t *testing.T, target Target, raw string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q, want %v", shown(target, err), sentinel)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error spans lines: %q", shown(target, err))
	}
	if !strings.Contains(msg, store.Redact(raw)) {
		t.Errorf("error %q does not name the bucket %s", shown(target, err), store.Redact(raw))
	}
	noSecret(t, target, err)
	t.Logf("%s", shown(target, err))
}
