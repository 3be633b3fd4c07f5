package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMissingCloudBucketIsNeverCreated: the commands that create a missing local
// folder still fail on a missing S3 bucket, with one line saying to create it.
func TestMissingCloudBucketIsNeverCreated(t *testing.T) {
	var created atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			created.Store(true) // CreateBucket
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>absent</BucketName></Error>`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	url := "s3://absent/kafka?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
	const unreachable = "127.0.0.1:1" // the bucket is checked before Kafka
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"export", []string{"export", "--brokers", unreachable, "--topics", "t", "--to", url}},
		{"backup", []string{"backup", "--brokers", unreachable, "--to", url}},
		{"backup --follow", []string{"backup", "--follow", "--brokers", unreachable, "--to", url}},
		{"restore --follow", []string{"restore", "--follow", "--brokers", unreachable, "--from", url}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := run(t, tc.args...)
			if code != 1 || !strings.Contains(errOut, "bucket not found") || !strings.Contains(errOut, "create it first") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and one line: bucket not found … create it first", code, errOut)
			}
		})
	}
	if created.Load() {
		t.Error("a command tried to create the bucket")
	}
}
