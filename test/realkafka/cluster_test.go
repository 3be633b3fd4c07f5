package realkafka_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/test/realkafka"
)

// TestThreeNodes: on a 3-node cluster (RF 3, min.insync.replicas 2) the
// partition leader is SIGKILLed and acks=all writes still succeed; the node
// restarts and rejoins the ISR; a follower stops gracefully; Close leaves no
// JVM and no listener behind.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestThreeNodes(t *testing.T) {
	needKafka(t)
	c := realkafka.New(t, realkafka.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if len(c.Nodes()) != 3 || len(c.Addrs()) != 3 {
		t.Fatalf("%d nodes at %v, want 3", len(c.Nodes()), c.Addrs())
	}
	adm := kadm.NewClient(client(t, kgo.SeedBrokers(c.Addrs()...)))
	createTopic(t, ctx, c, "ha", 1)

	cfgs, err := adm.DescribeTopicConfigs(ctx, "ha")
	if err != nil {
		t.Fatal(err)
	}
	if v := configValue(t, cfgs, "min.insync.replicas"); v != "2" {
		t.Errorf("min.insync.replicas = %q, want 2", v)
	}
	leader, isr := partition0(t, ctx, adm, "ha")
	if len(isr) != 3 {
		t.Fatalf("ISR %v, want 3 replicas", isr)
	}

	// Metadata refreshed at most every 250 ms instead of 5 s: the time to the
	// write after the kill is then mostly the broker's (session timeout, election).
	p := client(t, kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic("ha"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err := p.ProduceSync(ctx, kgo.StringRecord("before")).FirstErr(); err != nil {
		t.Fatalf("produce before the kill: %v", err)
	}
	victim := c.Node(leader)
	pid := victim.PID()
	victim.Kill()
	if victim.Running() || processAlive(pid) {
		t.Fatalf("node %d (pid %d) still runs after Kill", leader, pid)
	}
	killed := time.Now()
	if err := p.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatalf("acks=all produce with node %d dead: %v", leader, err)
	}
	t.Logf("killed leader %d (pid %d); an acks=all write succeeded %s later", leader, pid, time.Since(killed).Round(10*time.Millisecond))
	waitPartition0(t, ctx, adm, "ha", fmt.Sprintf("a leader and an ISR without node %d", leader), func(l int32, isr []int32) bool {
		return l >= 0 && l != leader && !slices.Contains(isr, leader)
	})

	began := time.Now()
	if err := victim.Start(ctx); err != nil {
		t.Fatalf("restart node %d: %v", leader, err)
	}
	t.Logf("node %d serves again after %s", leader, time.Since(began).Round(10*time.Millisecond))
	began = time.Now()
	waitPartition0(t, ctx, adm, "ha", fmt.Sprintf("node %d back in the ISR", leader), func(_ int32, isr []int32) bool {
		return slices.Contains(isr, leader)
	})
	t.Logf("node %d back in the ISR after %s", leader, time.Since(began).Round(10*time.Millisecond))
	got := consume(t, ctx, []string{victim.Addr()}, "ha", kgo.ReadCommitted(), valueIs("after"))
	if !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("read %q through the restarted node, want [before after]", got)
	}

	// A controlled shutdown of a follower: SIGTERM suffices, and the
	// remaining two replicas still take acks=all writes.
	follower := c.Node(leader%3 + 1)
	if !follower.Stop(30 * time.Second) {
		t.Errorf("node %d needed SIGKILL to stop", follower.ID())
	}
	if follower.Running() {
		t.Errorf("node %d runs after Stop", follower.ID())
	}
	if err := p.ProduceSync(ctx, kgo.StringRecord("stopped")).FirstErr(); err != nil {
		t.Errorf("acks=all produce with node %d stopped: %v", follower.ID(), err)
	}

	var pids []int
	for _, n := range c.Nodes() {
		pids = append(pids, n.PID())
	}
	began = time.Now()
	c.Close()
	t.Logf("Close took %s", time.Since(began).Round(10*time.Millisecond))
	for i, n := range c.Nodes() {
		if n.Running() || processAlive(pids[i]) {
			t.Errorf("node %d (pid %d) runs after Close", n.ID(), pids[i])
		}
		if conn, err := net.DialTimeout("tcp", n.Addr(), time.Second); err == nil {
			conn.Close()
			t.Errorf("node %d's listener %s accepts after Close", n.ID(), n.Addr())
		}
	}
}

// partition0 returns the leader and ISR of the topic's partition 0 (leader
// -1 while there is none).
func partition0(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) (int32, []int32) {
	t.Helper()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := md.Topics[topic].Partitions[0]
	if !ok {
		t.Fatalf("topic %s has no partition 0: %+v", topic, md.Topics[topic])
	}
	return p.Leader, p.ISR
}

// waitPartition0 polls the topic's partition 0 until ok holds for its leader
// and ISR (brokers learn of a change from the metadata log, each a moment
// apart).
func waitPartition0(t *testing.T, ctx context.Context, adm *kadm.Client, topic, what string, ok func(leader int32, isr []int32) bool) {
	t.Helper()
	for {
		leader, isr := partition0(t, ctx, adm, topic)
		if ok(leader, isr) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: want %s; last seen leader %d, ISR %v", ctx.Err(), what, leader, isr)
		case <-time.After(100 * time.Millisecond): // poll interval
		}
	}
}

func configValue(t *testing.T, cfgs kadm.ResourceConfigs, key string) string {
	t.Helper()
	for _, rc := range cfgs {
		if rc.Err != nil {
			t.Fatal(rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == key && c.Value != nil {
				return *c.Value
			}
		}
	}
	return ""
}

// processAlive reports whether a process with this PID exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestStartFailure: a broker that exits during start fails Start at once
// with the end of its log, and leaves no JVM behind.
func TestStartFailure(t *testing.T) {
	needKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := realkafka.Start(ctx, realkafka.Options{Overrides: map[string]string{"num.io.threads": "0"}, Logf: t.Logf})
	if err == nil {
		c.Close()
		t.Fatal("a broker with num.io.threads=0 started")
	}
	if !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "num.io.threads") {
		t.Errorf("error %q: want the exit and the log line naming num.io.threads", err)
	}
	if time.Since(began) > time.Minute {
		t.Errorf("Start took %s to report a broker that exited", time.Since(began))
	}
}
