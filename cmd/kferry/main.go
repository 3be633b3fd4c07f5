// Command kferry moves Kafka topic data through object storage: export, import,
// and inspection of buckets in the Confluent S3 Sink layout.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/kferry/kferry/internal/cli"
)

// memoryLimit is the soft heap limit kferry runs with unless GOMEMLIMIT says
// otherwise. Go's default collects at twice the live heap: a backup of 10,000
// partitions (~120 MiB live: fetch buffers and metadata) reached 300 MiB RSS.
// The limit only makes the collector run sooner near it; kferry's buffers are
// bounded well below it.
const memoryLimit = 200 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	stopProfiling := cli.StartProfiling() // KFERRY_CPUPROFILE, KFERRY_MEMPROFILE
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfiling()
	os.Exit(code)
}
