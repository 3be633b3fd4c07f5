// Command kferry moves Kafka topic data through object storage: export, import,
// and inspection of buckets in the Confluent S3 Sink layout.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kferry/kferry/internal/cli"
)

func main() {
	stopProfiling := cli.StartProfiling() // KFERRY_CPUPROFILE, KFERRY_MEMPROFILE
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfiling()
	os.Exit(code)
}
