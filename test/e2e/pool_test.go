package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/test/realkafka"
)

// brokerPool holds the Apache Kafka brokers of a test binary that runs on
// real Kafka. A test leases one broker per cluster it asks for and has it to
// itself; its cleanup empties the broker (wipe, about 150 ms) and gives it
// back. A broker of its own, rather than fresh names on one shared broker,
// is what the tests are written for: they use fixed topic and group names,
// back up whole clusters, restore whole backups into an empty one, and check
// that a refused run created no topic.
//
// The pool starts brokers as leases need them: TestMain starts the first
// ones, and a lease that finds none idle starts another while fewer than
// poolSoftMax run, else waits for one to come back, and after poolWait starts
// one anyway, so that tests that each hold a broker while they ask for another
// never wait on each other for good. The number of JVMs follows how many
// clusters tests hold at once: one or two per running test (go test runs
// GOMAXPROCS parallel tests at once), plus the source clusters of parents
// whose parallel subtests run.
type brokerPool struct {
	on   bool
	opts realkafka.Options

	mu       sync.Mutex
	idle     []*realkafka.Cluster
	all      []*realkafka.Cluster
	starting int
	back     chan struct{} // closed and replaced when a broker comes back
	stats    poolStats
}

// poolStats are what the summary line reports.
type poolStats struct {
	leases, busy, peak, wipeFailures int
	wipeTime                         time.Duration
	startups                         []time.Duration
}

const (
	poolSoftMax = 6
	poolWait    = 15 * time.Second
)

// brokers is the pool of this test binary; off (kfake) unless TestMain
// switched it on.
var brokers brokerPool

func (p *brokerPool) real() bool { return p.on }

// poolUser is the SCRAM user every pool broker is formatted with (a SCRAM
// listener needs one); newSASLCluster adds the tests' own users.
var poolUser = realkafka.User{Name: "e2e-pool", Password: "e2e-pool-secret"}

// start switches the pool on and starts n brokers together.
func (p *brokerPool) start(ctx context.Context, n int) error {
	p.on = true
	p.back = make(chan struct{})
	p.opts = realkafka.Options{
		SCRAM: []realkafka.User{poolUser},
		TLS:   true,
		Overrides: map[string]string{
			// The follow and migrate tests run group members with 3 s
			// sessions (--session-timeout 3s); Kafka's minimum is 6 s.
			"group.min.session.timeout.ms": "1000",
			// A transaction that times out is aborted within a second of its
			// timeout rather than ten.
			"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
		},
		Logf: func(string, ...any) {}, // TestMain reports the start itself
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := p.startOne(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			p.mu.Lock()
			p.idle = append(p.idle, c)
			p.mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *brokerPool) startOne(ctx context.Context) (*realkafka.Cluster, error) {
	c, err := realkafka.Start(ctx, p.opts)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.stats.startups = append(p.stats.startups, c.StartupTime())
	p.mu.Unlock()
	return c, nil
}

// close stops every broker of the pool.
func (p *brokerPool) close() {
	p.mu.Lock()
	all := p.all
	p.all, p.idle = nil, nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(c.Close)
	}
	wg.Wait()
}

// lease gives the test an empty broker of its own until its cleanup.
func (p *brokerPool) lease(t *testing.T) *realCluster {
	t.Helper()
	rk := p.take(t)
	t.Cleanup(func() { p.giveBack(t, rk) })
	return &realCluster{rk: rk, addrs: rk.Addrs()}
}

// leaseHold is lease with a proxy in front of the broker, for Hold.
func (p *brokerPool) leaseHold(t *testing.T) *realCluster {
	t.Helper()
	c := p.lease(t)
	c.proxy = newKafkaProxy(t, c.rk.Addrs()[0])
	c.addrs = []string{c.proxy.addr()}
	return c
}

func (p *brokerPool) take(t *testing.T) *realkafka.Cluster {
	t.Helper()
	waited := time.Now()
	for {
		p.mu.Lock()
		if n := len(p.idle); n > 0 {
			c := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.leased()
			p.mu.Unlock()
			return c
		}
		if len(p.all)+p.starting < poolSoftMax || time.Since(waited) > poolWait {
			p.starting++
			p.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			c, err := p.startOne(ctx)
			cancel()
			p.mu.Lock()
			p.starting--
			if err == nil {
				p.leased()
			}
			p.mu.Unlock()
			if err != nil {
				t.Fatalf("start another Apache Kafka broker for the pool: %v", err)
			}
			t.Logf("the pool started broker %s for this test after %s", c.Bootstrap(), c.StartupTime().Round(10*time.Millisecond))
			return c
		}
		back := p.back
		p.mu.Unlock()
		select {
		case <-back:
		case <-time.After(poolWait):
		}
	}
}

// leased counts a lease; p.mu is held.
func (p *brokerPool) leased() {
	p.stats.leases++
	p.stats.busy++
	p.stats.peak = max(p.stats.peak, p.stats.busy)
}

// giveBack empties the broker and returns it to the pool; a broker that
// cannot be emptied is stopped instead.
func (p *brokerPool) giveBack(t *testing.T, c *realkafka.Cluster) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := wipe(ctx, c)
	cancel()
	p.mu.Lock()
	p.stats.busy--
	p.stats.wipeTime += time.Since(began)
	if err != nil {
		p.stats.wipeFailures++
		for i, o := range p.all {
			if o == c {
				p.all = append(p.all[:i], p.all[i+1:]...)
				break
			}
		}
	} else {
		p.idle = append(p.idle, c)
	}
	close(p.back)
	p.back = make(chan struct{})
	p.mu.Unlock()
	if err != nil {
		t.Errorf("empty broker %s for the next test: %v (stopped instead)", c.Bootstrap(), err)
		c.Close()
	}
}

// summary is the line TestMain prints when the tests end.
func (p *brokerPool) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	return fmt.Sprintf("%d brokers started (startup %v), %d leases, at most %d at once, emptying took %s in all (%d failed)",
		len(s.startups), roundAll(s.startups), s.leases, s.peak, s.wipeTime.Round(100*time.Millisecond), s.wipeFailures)
}

func roundAll(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond).String()
	}
	return out
}

// wipe empties a broker for the next test, in an order that leaves nothing of
// this test behind: first it ends every open transaction (a new producer
// with the same transactional id fences it, as kferry's resume does, and the
// abort markers go into this test's partitions: the transaction coordinator
// remembers partitions by name, and would otherwise write them into the next
// test's topic of that name when the transaction times out), then it removes
// the members left in groups (killed kferry processes that would keep them
// until their sessions end) and deletes the groups, then every topic and
// every SCRAM user but the pool's.
func wipe(ctx context.Context, rk *realkafka.Cluster) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(rk.Addrs()...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := endTransactions(ctx, cl, adm); err != nil {
		return err
	}
	if err := deleteGroups(ctx, cl, adm); err != nil {
		return err
	}
	if err := deleteTopics(ctx, adm); err != nil {
		return err
	}
	return deleteUsers(ctx, adm)
}

// endTransactions fences every transactional id whose transaction is not
// complete. InitProducerId answers CONCURRENT_TRANSACTIONS until the
// coordinator has written the transaction's markers.
func endTransactions(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
	open, err := adm.ListTransactions(ctx, nil, []string{"Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"})
	if err != nil {
		return fmt.Errorf("list transactions: %w", err)
	}
	for _, id := range open.TransactionalIDs() {
		err := poll(ctx, "fence transactional id "+id, func() (bool, error) {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID = kmsg.StringPtr(id)
			req.TransactionTimeoutMillis = 60_000
			req.ProducerID, req.ProducerEpoch = -1, -1
			resp, err := req.RequestWith(ctx, cl)
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			return err == nil, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteGroups removes every group's members (LeaveGroup by member id, v3+,
// as AdminClient.removeMembersFromConsumerGroup does) and deletes the groups.
func deleteGroups(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	groups := listed.Groups()
	if len(groups) == 0 {
		return nil
	}
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range described.Sorted() {
		if len(g.Members) == 0 {
			continue
		}
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = g.Group
		for _, m := range g.Members {
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID, lm.InstanceID = m.MemberID, m.InstanceID
			req.Members = append(req.Members, lm)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			return fmt.Errorf("remove the members of group %s: %w", g.Group, err)
		}
	}
	return poll(ctx, "groups deleted", func() (bool, error) {
		resps, err := adm.DeleteGroups(ctx, groups...)
		if err != nil {
			return false, err
		}
		var left []string
		for _, r := range resps {
			if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
				left = append(left, r.Group)
				err = r.Err
			}
		}
		groups = left
		return len(left) == 0, err
	})
}

// deleteTopics deletes every topic but the internal ones and waits until the
// broker's metadata has none left.
func deleteTopics(ctx context.Context, adm *kadm.Client) error {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	if names := td.Names(); len(names) > 0 {
		resps, err := adm.DeleteTopics(ctx, names...)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return fmt.Errorf("delete topics %v: %w", names, err)
		}
	}
	return poll(ctx, "topics deleted", func() (bool, error) {
		td, err := adm.ListTopics(ctx)
		return err == nil && len(td) == 0, err
	})
}

// deleteUsers deletes the SCRAM credentials tests added.
func deleteUsers(ctx context.Context, adm *kadm.Client) error {
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return fmt.Errorf("describe SCRAM users: %w", err)
	}
	for user, d := range described {
		if user == poolUser.Name {
			continue
		}
		// One request per credential: Kafka refuses a user named twice in
		// one (DUPLICATE_RESOURCE).
		for _, info := range d.CredInfos {
			del := []kadm.DeleteSCRAM{{User: user, Mechanism: info.Mechanism}}
			altered, err := adm.AlterUserSCRAMs(ctx, del, nil)
			if err == nil {
				err = altered.Error()
			}
			if err != nil {
				return fmt.Errorf("delete SCRAM user %s: %w", user, err)
			}
		}
	}
	return nil
}
