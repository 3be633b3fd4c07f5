package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/smithy-go"
	"google.golang.org/api/googleapi"
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

// TestClassifyClouds: Cloud Storage's and Azure's answers (which the
// emulators cannot all give: fake-gcs-server checks no credentials, Azurite
// has no roles) get the class and the hint of their scheme, on one line.
func TestClassifyClouds(t *testing.T) {
	azure := func(status int, code string) error {
		return fmt.Errorf("list: %w", &azcore.ResponseError{StatusCode: status, ErrorCode: code})
	}
	gcs := func(status int) error {
		return fmt.Errorf("storage: %w", &googleapi.Error{Code: status, Message: "the service\nsays no"})
	}
	for _, tc := range []struct {
		raw  string
		err  error
		want error
		hint string
	}{
		{"gs://bkt", gcs(http.StatusForbidden), ErrAccessDenied, "GOOGLE_APPLICATION_CREDENTIALS and the bucket's IAM roles"},
		{"gs://bkt", gcs(http.StatusUnauthorized), ErrAccessDenied, "credentials were refused"},
		{"azblob://ctr", azure(http.StatusForbidden, "AuthorizationPermissionMismatch"), ErrAccessDenied, "SAS token's permissions"},
		{"azblob://ctr", azure(http.StatusForbidden, "AuthorizationFailure"), ErrAccessDenied, "AZURE_STORAGE_KEY (a key of AZURE_STORAGE_ACCOUNT)"},
		{"azblob://ctr", azure(http.StatusForbidden, "AuthenticationFailed"), ErrAccessDenied, "AZURE_STORAGE_KEY"},
		{"azblob://ctr", azure(http.StatusNotFound, "ContainerNotFound"), ErrBucketNotFound, "ContainerNotFound (HTTP 404)"},
		{"azblob://ctr", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, ErrUnreachable, "domain="},
		{"/some/folder", fs.ErrNotExist, ErrBucketNotFound, "the folder does not exist"},
	} {
		err := classify(fmt.Errorf("bucket %s: %w", Redact(tc.raw), tc.err), tc.raw)
		if !errors.Is(err, tc.want) {
			t.Errorf("classify(%s, %v) = %v, want %v", tc.raw, tc.err, err, tc.want)
		}
		if msg := err.Error(); !strings.Contains(msg, tc.hint) || strings.Contains(msg, "\n") {
			t.Errorf("classify(%s, %v) = %q: want one line with %q", tc.raw, tc.err, msg, tc.hint)
		}
	}
}
