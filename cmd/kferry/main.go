// Command kferry moves Kafka topic data through object storage: export, import,
// and inspection of buckets in the Confluent S3 Sink layout.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kferry/kferry/internal/cli"
)

func main() {
	stopProfiling := cli.StartProfiling() // KFERRY_CPUPROFILE, KFERRY_MEMPROFILE
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewRoot().ExecuteContext(ctx)
	stop()
	stopProfiling()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kferry:", err)
	}
	os.Exit(cli.ExitCode(err))
}
