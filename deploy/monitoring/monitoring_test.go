package monitoring_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/deploy/monitoring"
	"github.com/kferry/kferry/internal/metrics"
)

// TestQueriesParse: the rules load as Prometheus loads them, and every panel
// and rule has a query that parses.
func TestQueriesParse(t *testing.T) {
	qs, err := monitoring.Queries()
	if err != nil {
		t.Fatal(err)
	}
	alerts, panels := 0, 0
	for _, q := range qs {
		switch {
		case strings.HasPrefix(q.Where, "alert "):
			alerts++
		case strings.HasPrefix(q.Where, "panel "):
			panels++
		}
	}
	if alerts < 5 || panels < 15 {
		t.Errorf("%d alert and %d panel queries, want the rules and the dashboard's panels", alerts, panels)
	}
	if _, err := monitoring.MetricNames(); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardLayout: every panel that is not a row has queries, panel ids
// are unique and panels fit Grafana's 24-column grid.
func TestDashboardLayout(t *testing.T) {
	raw, err := monitoring.Files.ReadFile(monitoring.Dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []any  `json:"targets"`
			Grid    struct {
				W, X int
			} `json:"gridPos"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" {
		t.Error("the dashboard has no uid: an import would duplicate it instead of updating it")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Grid.X+p.Grid.W > 24 || p.Grid.W <= 0 {
			t.Errorf("panel %q: x %d + width %d leaves the 24-column grid", p.Title, p.Grid.X, p.Grid.W)
		}
	}
}

// TestMetricNamesServed: every metric the dashboard and the rules select is
// on the /metrics page kferry serves (migrate --follow's, which holds the
// export, import and migration metrics in one registry), once each kind of
// event happened once. test/e2e checks the same against the running binary.
func TestMetricNamesServed(t *testing.T) {
	names, err := monitoring.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.NewMigrate()
	exp, imp := m.ExportSide(), m.ImportSide()
	exp.ObjectWritten("t", 0, 10, 100, time.Millisecond)
	exp.Lag("t", 0, 5)
	exp.Owned(1)
	imp.ObjectImported("t", 0, 10, 100)
	imp.Lag("t", 0, 1, 5)
	m.Lag("t", 0, 5, 1.5)
	m.GroupOffsetsCommitted(1)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if missing := monitoring.Missing(names, string(body)); len(missing) > 0 {
		t.Errorf("the dashboard or the rules use metrics kferry does not serve: %s", strings.Join(missing, ", "))
	}
	// The check can fail: a name kferry does not serve is reported.
	if got := monitoring.Missing(append(slices.Clone(names), "kferry_no_such_metric"), string(body)); !slices.Equal(got, []string{"kferry_no_such_metric"}) {
		t.Errorf("Missing found %v, want only kferry_no_such_metric", got)
	}
	// Before any error, the error and retry series exist at 0, so that
	// increase() in the rules sees the first one.
	for _, line := range []string{`kferry_errors_total{kind="gap"} 0`, `kferry_errors_total{kind="import"} 0`, `kferry_retries_total{op="commit"} 0`} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
