package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/test/realkafka"
)

// TestFollowMembersRideBrokerRestarts SIGKILLs the only broker of a cluster
// again and again, at seeded random moments (KFERRY_KILL_SEED replays one;
// KFERRY_KILLS sets the count, default 4), while two `export --follow`
// members of one group share its partitions, and keeps it down for a random
// while each time, longer than their --timeout at times. After every restart
// more records arrive. The members must keep running through all of it (a
// service: it rejoins its group when the broker is back), commit every
// offset, stop on SIGTERM with exit 0, and leave every offset in the bucket
// exactly once: two members that both wrote a range after a rebalance would
// leave overlapping objects, a commit past an object not written a hole.
func TestFollowMembersRideBrokerRestarts(t *testing.T) {
	needRealKafka(t)
	k := newKillPlan(t)
	if k.kills == 30 { // the random-kill tests' default: too many broker restarts here
		k.kills = 4
	}
	rk := realkafka.New(t, realkafka.Options{Overrides: brokers.opts.Overrides})
	c := &realCluster{rk: rk, addrs: rk.Addrs()}
	node, adm := rk.Nodes()[0], newAdmin(t, c)
	const batch = 1500 // records per partition at the start and after each restart
	d := lfFill(t, c, "rj", batch)
	out, dir := fileURL(t)
	const group = "rejoin-follow"
	member := func() *proc {
		return startKferry(t, runOpts{}, "export", "--follow", "--brokers", rk.Bootstrap(), "--topics", strings.Join(d.topics, ","), "--to", out,
			"--group", group, "--flush-size", "100", "--store-keys", "--rotate-interval", "300ms", "--session-timeout", "3s", "--timeout", "2s")
	}
	members := []*proc{member(), member()}
	waitUntil(t, members[0], "10 objects in the bucket", time.Minute, func(context.Context) (bool, error) {
		n, err := countValueObjects(dir)
		return n >= 10, err
	})
	for kill := 1; kill <= k.kills; kill++ {
		up, down := k.delay(), 2*k.delay()+time.Duration(k.rng.Int64N(int64(3*time.Second)))
		time.Sleep(up) // the fault's moment, drawn from the seed: no synchronisation
		for i, p := range members {
			if p.exited() {
				t.Fatalf("member %d ended before kill %d (seed %d)\n%s", i, kill, k.seed, p)
			}
		}
		node.Kill()
		time.Sleep(down) // how long the broker stays away, drawn from the seed
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		began := time.Now()
		err := node.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("restart the broker: %v", err)
		}
		t.Logf("kill %d: %s after the last, down %s, serving again after %s", kill, up.Round(time.Millisecond), down.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		more := moreRecords(d, batch)
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
		err = c.Produce(ctx, more)
		cancel()
		if err != nil {
			t.Fatalf("produce %d more records after kill %d: %v", len(more), kill, err)
		}
		d.perPart += batch
	}
	waitUntil(t, members[0], "every offset committed to group "+group, 3*time.Minute, func(ctx context.Context) (bool, error) {
		n, err := adm.committed(ctx, group, d.topics)
		return n == int64(d.total()), err
	})
	for i, p := range members {
		if p.exited() {
			t.Fatalf("member %d ended by itself (seed %d)\n%s", i, k.seed, p)
		}
	}
	for _, p := range members {
		terminate(t, p, 40*time.Second)
		logFaults(t, p)
	}
	checkExported(t, out, d)
	if t.Failed() {
		t.Logf("seed %d; replay with KFERRY_KILL_SEED=%d", k.seed, k.seed)
	}
}

// moreRecords are the next n records of every partition of d (lfRecord at
// offsets d.perPart on).
func moreRecords(d lfData, n int) []record.Record {
	var recs []record.Record
	for _, topic := range d.topics {
		for p := range int32(lfPartitions) {
			for i := d.perPart; i < d.perPart+n; i++ {
				recs = append(recs, lfRecord(topic, p, i))
			}
		}
	}
	return recs
}
