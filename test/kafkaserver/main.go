// Command kafkaserver runs a real Apache Kafka cluster from test/realkafka as a
// process of its own, so that a shell script (bench/run.sh) can start and stop
// it by PID, as it does test/kfakeserver. The nodes are JVMs on 127.0.0.1 with
// the harness's settings (small heap, replication sized to the cluster).
//
// Once every node serves and every -topic has a leader for each partition on
// every node, it prints on stdout, in one write:
//
//	127.0.0.1:10123,127.0.0.1:10456   the bootstrap addresses, comma-separated
//	pids 4711 4712                    the JVMs' PIDs, for CPU and RSS from /proc
//	version 4.1.2                     the Apache Kafka release
//
// SIGINT or SIGTERM stops the JVMs (SIGTERM, then SIGKILL after 15 s), removes
// their data and exits 0. Killed outright, it still leaves no JVM behind: the
// kernel SIGKILLs each one when this process dies (the harness's Pdeathsig).
//
//	kafkaserver -nodes 3 -topic bench:9
//	kafkaserver -version 3.9.2 -topic lat:9
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/test/realkafka"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaserver:", err)
		os.Exit(1)
	}
}

// topic is a -topic flag: a topic to create before the addresses are printed.
type topic struct {
	name       string
	partitions int32
}

type topicFlags []topic

func (t *topicFlags) String() string {
	s := make([]string, len(*t))
	for i, tp := range *t {
		s[i] = tp.name + ":" + strconv.Itoa(int(tp.partitions))
	}
	return strings.Join(s, ",")
}

func (t *topicFlags) Set(v string) error {
	tp, err := parseTopic(v)
	if err != nil {
		return err
	}
	*t = append(*t, tp)
	return nil
}

// parseTopic reads NAME:PARTITIONS.
func parseTopic(v string) (topic, error) {
	name, parts, ok := strings.Cut(v, ":")
	n, err := strconv.ParseInt(parts, 10, 32)
	if !ok || name == "" || err != nil || n < 1 {
		return topic{}, fmt.Errorf("%q: want NAME:PARTITIONS", v)
	}
	return topic{name: name, partitions: int32(n)}, nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kafkaserver", flag.ContinueOnError)
	nodes := fs.Int("nodes", 1, "combined broker+controller nodes: 1, or 3 (replication factor 3, min.insync.replicas 2)")
	version := fs.String("version", realkafka.DefaultKafka, "Apache Kafka release, one of test/realkafka's Versions")
	heap := fs.String("heap", "", "each JVM's -Xmx (empty: the harness's default)")
	var topics topicFlags
	fs.Var(&topics, "topic", "create topic NAME:PARTITIONS at start, replicated to the cluster's size (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := realkafka.Lookup(*version); err != nil {
		return fmt.Errorf("-version: %w", err)
	}

	// The signal also ends a start that is still under way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := realkafka.Start(ctx, realkafka.Options{Version: *version, Nodes: *nodes, Heap: *heap})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := createTopics(ctx, c, topics); err != nil {
		return err
	}
	pids := make([]string, 0, len(c.Nodes()))
	for _, n := range c.Nodes() {
		pids = append(pids, strconv.Itoa(n.PID()))
	}
	if _, err := fmt.Fprintf(stdout, "%s\npids %s\nversion %s\n", c.Bootstrap(), strings.Join(pids, " "), c.Version()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// createTopics creates each topic with the brokers' default replication factor
// (the cluster's size) and waits until every node knows it with a leader for
// every partition: a real broker learns of a topic a moment after CreateTopics
// answers, and a client that asks it meanwhile is told the topic is unknown.
func createTopics(ctx context.Context, c *realkafka.Cluster, topics []topic) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// One CreateTopics per partition count: the bench creates 1,000 topics.
	byCount := map[int32][]string{}
	for _, t := range topics {
		byCount[t.partitions] = append(byCount[t.partitions], t.name)
	}
	for parts, names := range byCount {
		resps, err := adm.CreateTopics(ctx, parts, -1, nil, names...)
		if err != nil {
			return fmt.Errorf("create topics %s: %w", strings.Join(names, ","), err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	for _, t := range topics {
		if err := c.WaitTopic(ctx, t.name); err != nil {
			return fmt.Errorf("create topic %s: %w", t.name, err)
		}
	}
	return nil
}
