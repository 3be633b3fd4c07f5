package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

const secret = "s3cr3t-VALUE"

func TestMissingFolder(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b")
	if _, err := Open(ctx, dir); !errors.Is(err, ErrBucketNotFound) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open(missing folder) = %v, want one line wrapping ErrBucketNotFound", err)
	}
	b, err := OpenDestination(ctx, "file://"+dir)
	if err != nil {
		t.Fatalf("OpenDestination(missing folder): %v", err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "topics/t/partition=0/t+0+0000000000.json", []byte("{}\n"), nil); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, b, dir); err != nil {
		t.Errorf("Check: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "topics/t/partition=0"))
	if err != nil || len(entries) != 1 {
		t.Errorf("folder holds %v (%v), want the one object and no sidecar or temporary file", entries, err)
	}
}

func TestClassify(t *testing.T) {
	api := func(code string) error {
		inner := &smithy.GenericAPIError{Code: code, Message: "the service\nsays no"}
		return fmt.Errorf("operation error S3: ListObjectsV2: %w", inner)
	}
	raw := "s3://bkt?region=r&secret_key=" + secret
	for _, tc := range []struct {
		err  error
		want error
		hint string
	}{
		{api("NoSuchBucket"), ErrBucketNotFound, "does not exist"},
		{api("AccessDenied"), ErrAccessDenied, "may not access it"},
		{api("InvalidAccessKeyId"), ErrAccessDenied, "credentials were refused"},
		{api("SignatureDoesNotMatch"), ErrAccessDenied, "credentials were refused"},
		{errors.New("get identity: get credentials: failed to refresh cached credentials"), ErrAccessDenied, "no credentials found"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, ErrUnreachable, "connection refused"},
		{api("SlowDown"), nil, "SlowDown"},
		{fmt.Errorf("request send failed: %w", &stallError{dir: "received", timeout: time.Second}), ErrUnreachable, "sends no answer"},
	} {
		err := classify(fmt.Errorf("bucket %s: %w", Redact(raw), tc.err), raw)
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("classify(%v) = %v, want %v", tc.err, err, tc.want)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.hint) || strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
			t.Errorf("classify(%v) = %q: want one line with %q and no secret", tc.err, msg, tc.hint)
		}
	}
}
