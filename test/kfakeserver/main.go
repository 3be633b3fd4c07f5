// Command kfakeserver runs an in-memory kfake cluster as its own process, bound
// to 127.0.0.1, so that kcat and the kferry binary can both reach it over TCP (the
// benchmark and end-to-end tests use it). It prints the brokers' addresses as one
// comma-separated line on stdout once they listen, and stops on SIGINT or SIGTERM.
//
//	kfakeserver -brokers 3 -topic bench:9
//	kfakeserver -ports 9092,9093 -topic a:3 -topic b:1
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof" // -pprof, to see where the broker spends its time
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

type topicFlags []string

func (t *topicFlags) String() string     { return strings.Join(*t, ",") }
func (t *topicFlags) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserver:", err)
		os.Exit(1)
	}
}

func run() error {
	brokers := flag.Int("brokers", 3, "number of brokers on random free ports")
	ports := flag.String("ports", "", "comma-separated ports, one broker each (overrides -brokers)")
	pprof := flag.String("pprof", "", "serve net/http/pprof on this 127.0.0.1 port (empty: off)")
	var topics topicFlags
	flag.Var(&topics, "topic", "create topic NAME:PARTITIONS at start (repeatable)")
	flag.Parse()

	var opts []kfake.Opt
	n := *brokers
	if *ports != "" {
		var ps []int
		for _, s := range strings.Split(*ports, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || p < 0 || p > 65535 {
				return fmt.Errorf("-ports: bad port %q", s)
			}
			ps = append(ps, p)
		}
		opts, n = append(opts, kfake.Ports(ps...)), len(ps)
	}
	for _, t := range topics {
		name, parts, ok := strings.Cut(t, ":")
		np, err := strconv.Atoi(parts)
		if !ok || name == "" || err != nil || np < 1 {
			return fmt.Errorf("-topic %q: want NAME:PARTITIONS", t)
		}
		opts = append(opts, kfake.SeedTopics(int32(np), name))
	}
	if *pprof != "" {
		go func() { _ = http.ListenAndServe("127.0.0.1:"+*pprof, nil) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := kafkatest.Start(n, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(strings.Join(c.ListenAddrs(), ","))
	<-ctx.Done()
	return nil
}
