package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Export holds the metrics of a continuous export. Its methods are safe for
// concurrent use; it satisfies pipeline.FollowMetrics.
type Export struct {
	reg     *prometheus.Registry
	records *prometheus.CounterVec
	bytes   *prometheus.CounterVec
	objects *prometheus.CounterVec
	upload  prometheus.Histogram
	lag     *prometheus.GaugeVec
	owned   prometheus.Gauge
	errs    *prometheus.CounterVec
	retries *prometheus.CounterVec
	ready   atomic.Bool
}

// NewExport registers the export metrics (and the Go runtime's and process's)
// in a registry of their own.
func NewExport() *Export {
	reg, errs := newRegistry()
	return newExport(reg, errs)
}

// newRegistry is a registry with the Go runtime's and the process's metrics and
// the error counter every kind of run shares.
func newRegistry() (*prometheus.Registry, *prometheus.CounterVec) {
	reg := prometheus.NewRegistry()
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kferry_errors_total", Help: "Errors by kind: export fetch, write, upload, commit, lag, gap (records deleted by retention before export); import list, prepare, import, delete.",
	}, []string{"kind"})
	reg.MustRegister(errs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, errs
}

// The error kinds and retried operations each side reports. They are served
// at 0 from the start, so that alerts on increase() and the dashboard see a
// series before the first error (kferry_errors_total{kind="gap"} above all).
var (
	exportErrorKinds = []string{"fetch", "write", "upload", "commit", "lag", "gap"}
	importErrorKinds = []string{"list", "prepare", "import", "delete"}
	retriedOps       = []string{"commit"}
)

// initLabels creates vec's series for each value of its one label.
func initLabels(vec *prometheus.CounterVec, values []string) {
	for _, v := range values {
		vec.WithLabelValues(v)
	}
}

func newExport(reg *prometheus.Registry, errs *prometheus.CounterVec) *Export {
	e := &Export{
		reg: reg, errs: errs,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_export_records_total", Help: "Records written to the bucket in complete objects whose offsets are committed.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_export_bytes_total", Help: "Record bytes (key, value, headers) written in complete objects.",
		}, []string{"topic"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_export_objects_total", Help: "Object sets (values object and its keys/headers siblings) made visible in the bucket.",
		}, []string{"topic"}),
		upload: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kferry_export_upload_seconds", Help: "Time to finish an object set: flush, close and complete the uploads.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kferry_export_lag_records", Help: "Records of an owned partition not yet committed: last stable offset minus the group's committed offset.",
		}, []string{"topic", "partition"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kferry_export_partitions_owned", Help: "Partitions this member owns in the consumer group.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kferry_retries_total", Help: "Operations retried after a transient error, by operation.",
		}, []string{"op"}),
	}
	e.reg.MustRegister(e.records, e.bytes, e.objects, e.upload, e.lag, e.owned, e.retries)
	initLabels(e.errs, exportErrorKinds)
	initLabels(e.retries, retriedOps)
	return e
}

// ObjectWritten counts one object set made visible and its offsets committed.
func (e *Export) ObjectWritten(topic string, _ int32, records, bytes int64, upload time.Duration) {
	e.records.WithLabelValues(topic).Add(float64(records))
	e.bytes.WithLabelValues(topic).Add(float64(bytes))
	e.objects.WithLabelValues(topic).Inc()
	e.upload.Observe(upload.Seconds())
}

// Lag sets an owned partition's lag in records.
func (e *Export) Lag(topic string, partition int32, records int64) {
	e.lag.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(records))
}

// Forget drops a partition the member no longer owns, so its last lag does not
// linger.
func (e *Export) Forget(topic string, partition int32) {
	e.lag.DeleteLabelValues(topic, strconv.Itoa(int(partition)))
}

// Owned sets how many partitions the member owns.
func (e *Export) Owned(n int) { e.owned.Set(float64(n)) }

// Error counts one error of a kind.
func (e *Export) Error(kind string) { e.errs.WithLabelValues(kind).Inc() }

// Retry counts one retried operation.
func (e *Export) Retry(op string) { e.retries.WithLabelValues(op).Inc() }

// Ready sets what /readyz answers: ready once the member has joined its group.
func (e *Export) Ready(ok bool) { e.ready.Store(ok) }

// reply writes a probe's plain-text answer. A failed write means the client
// hung up: there is no one left to tell.
func reply(w http.ResponseWriter, answer string) {
	_, _ = io.WriteString(w, answer+"\n")
}

// Handler serves /metrics, /healthz and /readyz.
func (e *Export) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !e.ready.Load() {
			http.Error(w, "not ready: not (or no longer) a member of the consumer group", http.StatusServiceUnavailable)
			return
		}
		reply(w, "ready")
	})
	return mux
}

// Server serves an Export's handler on one address.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves h in
// the background until Close.
func Serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed; Close reports nothing more useful
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving, waiting for running requests until ctx ends.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }
