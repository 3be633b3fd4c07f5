package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Import holds the metrics of a continuous import. Its methods are safe for
// concurrent use; it satisfies pipeline.ImportMetrics.
type Import struct {
	reg        *prometheus.Registry
	records    *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	objects    *prometheus.CounterVec
	lagObjects *prometheus.GaugeVec
	lagRecords *prometheus.GaugeVec
	errs       *prometheus.CounterVec
	ready      atomic.Bool
}

// NewImport registers the import metrics (and the Go runtime's and process's)
// in a registry of their own.
func NewImport() *Import {
	reg, errs := newRegistry()
	return newImport(reg, errs)
}

func newImport(reg *prometheus.Registry, errs *prometheus.CounterVec) *Import {
	m := &Import{
		reg: reg, errs: errs,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_import_records_total", Help: "Records written to the target in committed transactions, by source topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_import_bytes_total", Help: "Record bytes (key, value, headers) written to the target, by source topic.",
		}, []string{"topic"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_import_objects_total", Help: "Objects whose records and progress were committed, by source topic.",
		}, []string{"topic"}),
		lagObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kferry_import_lag_objects", Help: "Objects of a partition in the bucket at or past the import's progress (not yet imported).",
		}, []string{"topic", "partition"}),
		lagRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kferry_import_lag_records", Help: "Records between a partition's progress and the start of its newest object in the bucket (a lower bound of the records not yet imported).",
		}, []string{"topic", "partition"}),
	}
	m.reg.MustRegister(m.records, m.bytes, m.objects, m.lagObjects, m.lagRecords)
	initLabels(m.errs, importErrorKinds)
	return m
}

// ObjectImported counts one object's records committed to the target.
func (m *Import) ObjectImported(topic string, _ int32, records, bytes int64) {
	m.records.WithLabelValues(topic).Add(float64(records))
	m.bytes.WithLabelValues(topic).Add(float64(bytes))
	m.objects.WithLabelValues(topic).Inc()
}

// Lag sets how far a partition's progress is behind the bucket.
func (m *Import) Lag(topic string, partition int32, objects, records int64) {
	p := strconv.Itoa(int(partition))
	m.lagObjects.WithLabelValues(topic, p).Set(float64(objects))
	m.lagRecords.WithLabelValues(topic, p).Set(float64(records))
}

// Error counts one error of a kind.
func (m *Import) Error(kind string) { m.errs.WithLabelValues(kind).Inc() }

// Ready sets what /readyz answers: ready once the bucket was scanned.
func (m *Import) Ready(ok bool) { m.ready.Store(ok) }

// Handler serves /metrics, /healthz and /readyz.
func (m *Import) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not ready: the bucket was not scanned yet", http.StatusServiceUnavailable)
			return
		}
		reply(w, "ready")
	})
	return mux
}
