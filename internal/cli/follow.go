package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/pflag"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/metrics"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/store"
)

// followHelp is the --follow part of export's help.
const followHelp = `
With --follow, export keeps running: it joins a consumer group (--group) and
Kafka spreads the partitions over every copy started with the same group, so
running N copies scales out, and a copy that dies has its partitions taken over
by the others after --session-timeout. An object is committed (made visible) at
the latest --rotate-interval (default 10s) after its first record arrived, and a
partition's group offset is committed only after the object holding its records
is complete, so a crash never loses a record nor leaves two copies. New
partitions, and with --topic-regex new topics, are picked up while running.
SIGTERM or SIGINT finish and commit the open objects, leave the group and exit 0
within --shutdown-timeout (exit 1 past it, naming what was abandoned).
--metrics-addr serves Prometheus /metrics (kferry_* records, bytes, objects,
upload latency, lag per partition, errors, retries), /healthz and /readyz.`

// followFlags are export's --follow settings.
type followFlags struct {
	on              bool
	group           string
	shutdownTimeout time.Duration
	sessionTimeout  time.Duration
	metadataMaxAge  time.Duration
	metricsAddr     string
	// intervalSet says --rotate-interval was given (flag, env or file), so the
	// follow default does not replace it.
	intervalSet bool
}

func (f *followFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "follow", false, "keep exporting as records arrive, as one member of a consumer group (run copies with the same --group to scale out)")
	fs.StringVar(&f.group, "group", "", "consumer group of --follow (default: kferry-export-<hash of bucket URL, topics dir and topic selection>)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", pipeline.DefaultShutdownTimeout, "with --follow: how long SIGTERM/SIGINT may take to finish and commit the open objects")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 45*time.Second, "with --follow: how long the group waits for a member that stopped answering before others take over its partitions")
	fs.DurationVar(&f.metadataMaxAge, "metadata-max-age", 10*time.Second, "with --follow: how often to look for new partitions and topics")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "with --follow: serve Prometheus /metrics, /healthz and /readyz on host:port (e.g. 127.0.0.1:9464)")
}

// check refuses follow-only flags without --follow and nonsense durations.
func (f *followFlags) check() error {
	if !f.on {
		if f.group != "" || f.metricsAddr != "" {
			return usageErrorf("--group and --metrics-addr need --follow")
		}
		return nil
	}
	if f.shutdownTimeout <= 0 || f.sessionTimeout <= 0 || f.metadataMaxAge <= 0 {
		return usageErrorf("--shutdown-timeout, --session-timeout and --metadata-max-age must be positive")
	}
	return nil
}

// run is export --follow: it serves the metrics, if asked, and runs the
// continuous export until ctx ends (a signal).
func (f *followFlags) run(ctx context.Context, g *globals, o *exportOptions, kc *kafka.Client, b *blob.Bucket, eo pipeline.ExportOptions) error {
	log := eo.Logger
	if !f.intervalSet {
		eo.RotateInterval = pipeline.DefaultFollowRotate
	}
	fo := pipeline.FollowOptions{
		ExportOptions: eo, Group: f.group, ShutdownTimeout: f.shutdownTimeout,
		SessionTimeout: f.sessionTimeout, MetadataMaxAge: f.metadataMaxAge,
	}
	if fo.Group == "" {
		fo.Group = pipeline.DefaultGroup(store.Redact(o.to), eo.Naming.TopicsDir, eo.Selector)
	}
	if f.metricsAddr != "" {
		m := metrics.NewExport()
		stop, err := serveMetrics(f.metricsAddr, m.Handler(), log)
		if err != nil {
			return err
		}
		defer stop()
		fo.Metrics = m
	}
	s, err := pipeline.Follow(ctx, kc, b, store.Redact(o.to), fo)
	return o.report.finish(g.stdout, s, err)
}

// serveMetrics serves h (/metrics, /healthz, /readyz) on --metrics-addr until
// stop, which gives running scrapes two seconds to finish.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	srv, err := metrics.Serve(addr, h)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	log.Info("serving metrics", "addr", srv.Addr(), "paths", "/metrics /healthz /readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}, nil
}
