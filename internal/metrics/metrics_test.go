package metrics_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/metrics"
	"github.com/kferry/kferry/internal/pipeline"
)

var _ pipeline.FollowMetrics = (*metrics.Export)(nil)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServe(t *testing.T) {
	e := metrics.NewExport()
	srv, err := metrics.Serve("127.0.0.1:0", e.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	base := "http://" + srv.Addr()

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before joining: %d %s", code, body)
	}
	e.Ready(true)
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after joining: %d", code)
	}

	e.ObjectWritten("orders", 3, 10, 1000, 40*time.Millisecond)
	e.ObjectWritten("orders", 3, 5, 500, 20*time.Millisecond)
	e.Lag("orders", 3, 7)
	e.Lag("orders", 4, 0)
	e.Forget("orders", 4)
	e.Owned(1)
	e.Error("upload")
	e.Retry("commit")
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`kferry_export_records_total{topic="orders"} 15`,
		`kferry_export_bytes_total{topic="orders"} 1500`,
		`kferry_export_objects_total{topic="orders"} 2`,
		`kferry_export_upload_seconds_count 2`,
		`kferry_export_lag_records{partition="3",topic="orders"} 7`,
		`kferry_export_partitions_owned 1`,
		`kferry_errors_total{kind="upload"} 1`,
		`kferry_retries_total{op="commit"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `partition="4"`) {
		t.Error("/metrics still shows the forgotten partition 4")
	}
}
