// Package metrics exposes a long-running kferry's Prometheus metrics and its
// health endpoints. Pipeline code reports into it through pipeline.FollowMetrics,
// so one-shot runs, which never create an Export, pay nothing for it.
package metrics
