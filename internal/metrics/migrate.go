package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kferry/kferry/internal/migrate"
	"github.com/kferry/kferry/internal/pipeline"
)

// Migrate holds the metrics of a migration: its export side's and import
// side's (as for export --follow and import --follow) in one registry, and the
// lag of each source partition behind the target. It satisfies
// migrate.Metrics.
type Migrate struct {
	reg        *prometheus.Registry
	exp        *Export
	imp        *Import
	lagRecords *prometheus.GaugeVec
	lagSeconds *prometheus.GaugeVec
	groups     prometheus.Counter
}

// NewMigrate registers the migration metrics in a registry of their own.
func NewMigrate() *Migrate {
	reg, errs := newRegistry()
	m := &Migrate{
		reg: reg, exp: newExport(reg, errs), imp: newImport(reg, errs),
		lagRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kferry_migrate_lag_records", Help: "Records of a source partition not yet on the target (source end offset minus the import's progress; 0 when only transaction markers or compacted offsets remain).",
		}, []string{"topic", "partition"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kferry_migrate_lag_seconds", Help: "Seconds since the oldest source record not yet on the target was first seen on the source (0 when caught up).",
		}, []string{"topic", "partition"}),
		groups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kferry_migrate_group_offsets_committed_total", Help: "Translated consumer-group offsets committed on the target.",
		}),
	}
	reg.MustRegister(m.lagRecords, m.lagSeconds, m.groups)
	return m
}

var _ migrate.Metrics = (*Migrate)(nil)

// ExportSide receives the exporter's metrics.
func (m *Migrate) ExportSide() pipeline.FollowMetrics { return m.exp }

// ImportSide receives the importer's metrics.
func (m *Migrate) ImportSide() pipeline.ImportMetrics { return m.imp }

// Lag sets a source partition's lag behind the target.
func (m *Migrate) Lag(topic string, partition int32, records int64, seconds float64) {
	p := strconv.Itoa(int(partition))
	m.lagRecords.WithLabelValues(topic, p).Set(float64(records))
	m.lagSeconds.WithLabelValues(topic, p).Set(seconds)
}

// GroupOffsetsCommitted counts translated offsets committed on the target.
func (m *Migrate) GroupOffsetsCommitted(n int) { m.groups.Add(float64(n)) }

// Handler serves /metrics, /healthz and /readyz (ready once the exporter is in
// its group and the importer scanned the bucket).
func (m *Migrate) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.exp.ready.Load() || !m.imp.ready.Load() {
			http.Error(w, "not ready: the exporter is not in its group or the bucket was not scanned yet", http.StatusServiceUnavailable)
			return
		}
		reply(w, "ready")
	})
	return mux
}
