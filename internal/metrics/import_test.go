package metrics_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kferry/kferry/internal/metrics"
	"github.com/kferry/kferry/internal/pipeline"
)

var _ pipeline.ImportMetrics = (*metrics.Import)(nil)

// TestImportMetrics: /readyz follows Ready, /metrics shows the counters and the
// lag per partition.
func TestImportMetrics(t *testing.T) {
	m := metrics.NewImport()
	srv, err := metrics.Serve("127.0.0.1:0", m.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first scan = %d, want 503", code)
	}
	m.Ready(true)
	m.ObjectImported("orders", 2, 10, 300)
	m.Lag("orders", 2, 3, 20)
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the first scan = %d, want 200", code)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`kferry_import_records_total{topic="orders"} 10`,
		`kferry_import_bytes_total{topic="orders"} 300`,
		`kferry_import_objects_total{topic="orders"} 1`,
		`kferry_import_lag_objects{partition="2",topic="orders"} 3`,
		`kferry_import_lag_records{partition="2",topic="orders"} 20`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
