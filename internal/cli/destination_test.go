package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
)

func sourceCluster(t *testing.T, n int) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.NewCluster(t)
	ctx := context.Background()
	if err := c.CreateTopic(ctx, "t", 1); err != nil {
		t.Fatal(err)
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Topic: "t", Key: []byte{byte(i)}, Value: []byte("v")}
	}
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return c
}

func brokers(c *kafkatest.Cluster) string { return strings.Join(c.ListenAddrs(), ",") }

// TestBackupCreatesMissingFolder: backup (one-shot and --follow) writes into a
// local folder that does not exist yet, as export does.
func TestBackupCreatesMissingFolder(t *testing.T) {
	src := sourceCluster(t, 3)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if out, errOut, code := run(t, "backup", "--brokers", brokers(src), "--topics", "t", "--to", "file://"+dir); code != 0 {
		t.Fatalf("backup into a new folder: exit %d\n%s%s", code, out, errOut)
	}
	if ids := manifests(t, dir); len(ids) != 1 {
		t.Errorf("manifests in the new folder: %v, want one", ids)
	}

	followDir := filepath.Join(t.TempDir(), "follow", "new")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		_, _, code := runContext(t, ctx, "backup", "--follow", "--interval", "100ms", "--brokers", brokers(src), "--topics", "t", "--to", followDir)
		done <- code
	}()
	waitFor(t, "backup --follow's first manifest", func() bool { return len(manifests(t, followDir)) > 0 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("backup --follow into a new folder: exit %d", code)
	}
}

// TestRestoreFollowCreatesMissingFolder: a standby started before the first
// backup waits on a folder that does not exist yet and restores the backup that
// then lands there; a one-shot restore still refuses the missing folder.
func TestRestoreFollowCreatesMissingFolder(t *testing.T) {
	src := sourceCluster(t, 3)
	dst := kafkatest.NewCluster(t)
	dir := filepath.Join(t.TempDir(), "standby", "new")

	if _, errOut, code := run(t, "restore", "--from", "file://"+dir, "--brokers", brokers(dst)); code != 1 || !strings.Contains(errOut, "bucket not found") {
		t.Errorf("one-shot restore from a missing folder: exit %d, %q; want 1 and bucket not found", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 1)
	go func() {
		_, errOut, code := runContext(t, ctx, "restore", "--follow", "--poll-interval", "100ms", "--from", "file://"+dir, "--brokers", brokers(dst))
		done <- fmt.Sprintf("exit %d\n%s", code, errOut)
	}()
	waitFor(t, "restore --follow to create the folder", func() bool {
		select {
		case res := <-done:
			t.Fatalf("restore --follow ended early: %s", res)
		default:
		}
		_, err := os.Stat(dir)
		return err == nil
	})
	if out, errOut, code := run(t, "backup", "--brokers", brokers(src), "--topics", "t", "--to", "file://"+dir); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, "the standby to restore 3 records", func() bool {
		// Short tries: a topic the standby has not created yet is retried for long.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		got, err := dst.ReadAll(ctx, "t")
		return err == nil && len(got[0]) == 3
	})
	cancel()
	if res := <-done; !strings.HasPrefix(res, "exit 0\n") {
		t.Errorf("restore --follow: %s", res)
	}
}

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

func manifests(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(manifest.Prefix)))
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if id, ok := manifest.IDFromKey(manifest.Prefix + e.Name()); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
