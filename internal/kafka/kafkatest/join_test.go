package kafkatest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
)

// sessionTimeout is the members' session timeout in these tests: a member
// that stops heartbeating is out of the group after it (Kafka's rule).
const sessionTimeout = time.Second

// TestKilledInFirstJoin pins down when the e2e tests may SIGKILL a consumer
// group member (an `export --follow` process) on kfake.
//
// A member killed once it is in the group is expired after its session
// timeout, as on Kafka, and the group goes on without it.
//
// A member killed while its first JoinGroup still waits at the coordinator
// (for the other members to rejoin) is not. When that join completes, kfake
// arms a member's session timer only if it could hand it the JoinGroup
// response (group.reply), and with the connection gone it picks at random
// between the closed connection and a free slot in the connection's buffer;
// Kafka arms it for every member of a completed join. So the dead member
// often stays in the group without a session. The next rebalance (here the
// cooperative second round, in which the live member gives up partitions for
// the dead one) waits for it for the whole rebalance timeout (60 s for
// kferry), and meanwhile kfake lets the session of each live member waiting
// in JoinGroup run out and drops it without an answer, which Kafka does not
// do to a member awaiting a join. The live members' JoinGroups time out
// (rebalance timeout + 10 s), their commits are refused, and export --follow
// gives up.
//
// That was the flake of TestFollowExportImportKillRestart: it killed an
// exporter as soon as the bucket held data, which on a loaded machine is
// sometimes before that exporter had finished its first join. The e2e tests
// therefore kill a member only once its /readyz says it has joined. If the
// second subtest starts failing, kfake expires such members now and the
// e2e tests need not wait any more.
func TestKilledInFirstJoin(t *testing.T) {
	t.Parallel()
	t.Run("after joining", func(t *testing.T) {
		t.Parallel()
		g, err := newGroup(t)
		if err != nil {
			t.Fatal(err)
		}
		dying, err := g.join("dying", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Stable with both members holding partitions: the cooperative
		// second round, in which the live member hands some over, is done
		// too. (Stable after the first round only, the dying member could be
		// killed in its second JoinGroup: the case of the next subtest.)
		if _, err := g.c.WaitGroupInfo(g.ctx, g.name, func(gi *kfake.GroupInfo) bool {
			return gi != nil && gi.State == "Stable" && len(gi.Members) == 2 &&
				!slices.ContainsFunc(gi.Members, func(m kfake.GroupMember) bool { return m.NumAssigned() == 0 })
		}); err != nil {
			t.Fatalf("group with the second member not stable with partitions for both: %v", err)
		}
		dying.kill()
		// Generous: the session runs out after 1 s, then the live member
		// rejoins; on a loaded machine (a whole `go test ./...`) that took
		// more than 4 s once.
		if !g.expires("dying", 20*sessionTimeout) {
			t.Fatalf("a member killed after it joined is still in the group %s later", 20*sessionTimeout)
		}
	})
	t.Run("in its first join", func(t *testing.T) {
		t.Parallel()
		// Each trial keeps the dead member with probability 1/2 (kfake's
		// select), so at least one of 16 does unless kfake changed: a false
		// alarm once in 65,536 runs. The trials run at once, whatever
		// -parallel says, so the test takes one trial's time.
		const trials = 16
		var kept atomic.Int32
		var wg sync.WaitGroup
		for i := range trials {
			wg.Go(func() {
				stayed, err := killInFirstJoin(t)
				if err != nil {
					t.Errorf("trial %d: %v", i, err)
				}
				if stayed {
					kept.Add(1)
				}
			})
		}
		wg.Wait()
		t.Logf("%d of %d members killed in their first JoinGroup stayed in the group past their session timeout", kept.Load(), trials)
		if !t.Failed() && kept.Load() == 0 {
			t.Fatal("kfake expired every member killed in its first JoinGroup: the e2e tests need not wait for /readyz before a kill any more (see the comment)")
		}
	})
}

// killInFirstJoin kills a second member of a group the moment its JoinGroup
// with a member id reaches the coordinator and reports whether it is still in
// the group four session timeouts later.
func killInFirstJoin(t *testing.T) (bool, error) {
	g, err := newGroup(t)
	if err != nil {
		return false, err
	}
	dying, err := g.join("dying", func(k *killable) {
		g.c.ControlKey(int16(kmsg.JoinGroup), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			g.c.KeepControl()
			if req, ok := kr.(*kmsg.JoinGroupRequest); ok && strings.HasPrefix(req.MemberID, "dying-") {
				k.kill() // then the coordinator takes the request as usual
			}
			return nil, nil, false
		})
	})
	if err != nil {
		return false, err
	}
	select {
	case <-dying.killed:
	case <-g.ctx.Done():
		return false, errors.New("the second member never sent a JoinGroup with a member id")
	}
	if _, err := g.c.WaitGroupInfo(g.ctx, g.name, func(gi *kfake.GroupInfo) bool {
		return gi != nil && slices.ContainsFunc(gi.Members, func(m kfake.GroupMember) bool { return m.ClientID == "dying" })
	}); err != nil {
		return false, fmt.Errorf("the killed member's JoinGroup was not taken: %w", err)
	}
	return !g.expires("dying", 4*sessionTimeout), nil
}

// group is one consumer group on a single-broker cluster of its own, with one
// live member.
type group struct {
	t    *testing.T
	ctx  context.Context
	c    *kafkatest.Cluster
	name string
}

func newGroup(t *testing.T) (*group, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c, err := kafkatest.Start(1, kfake.GroupMinSessionTimeout(sessionTimeout))
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	g := &group{t: t, ctx: ctx, c: c, name: "g"}
	if err := c.CreateTopic(ctx, "t", 3); err != nil {
		return nil, err
	}
	if _, err := g.join("live", nil); err != nil {
		return nil, err
	}
	if _, err := c.WaitGroupStable(ctx, g.name, 1); err != nil {
		return nil, fmt.Errorf("live member not in the group: %w", err)
	}
	return g, nil
}

// join starts a member with client id id, polling until the test ends. Its
// connections go through a killable dialer, which hook (if not nil) gets
// before the member starts.
func (g *group) join(id string, hook func(*killable)) (*killable, error) {
	k := &killable{killed: make(chan struct{})}
	if hook != nil {
		hook(k)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(g.c.ListenAddrs()...),
		kgo.ClientID(id),
		kgo.Dialer(k.dial),
		kgo.ConsumerGroup(g.name),
		kgo.ConsumeTopics("t"),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(sessionTimeout),
		kgo.HeartbeatInterval(sessionTimeout/5),
		kgo.RebalanceTimeout(10*time.Second), // longer than expires looks
		kgo.RetryTimeout(time.Second),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	g.t.Cleanup(func() {
		cancel()
		<-polled
		k.kill() // no LeaveGroup: the cluster goes away too
		cl.Close()
	})
	return k, nil
}

// expires reports whether the member with client id id is out of the group,
// and the group stable without it, within four session timeouts from now.
func (g *group) expires(id string, within time.Duration) bool {
	ctx, cancel := context.WithTimeout(g.ctx, within)
	defer cancel()
	_, err := g.c.WaitGroupInfo(ctx, g.name, func(gi *kfake.GroupInfo) bool {
		return gi != nil && gi.State == "Stable" &&
			!slices.ContainsFunc(gi.Members, func(m kfake.GroupMember) bool { return m.ClientID == id })
	})
	return err == nil
}

// killable dials a member's connections; kill closes them and refuses new
// ones, as SIGKILL of the member's process would.
type killable struct {
	mu     sync.Mutex
	conns  []net.Conn
	killed chan struct{} // closed by kill
	once   sync.Once
}

func (k *killable) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.killed:
		return nil, errors.New("killed")
	default:
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killable) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.once.Do(func() { close(k.killed) })
	for _, c := range k.conns {
		c.Close()
	}
}
