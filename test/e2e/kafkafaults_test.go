package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// These tests run on kfake only, also when the others run on Apache Kafka:
// the faults (an error code answered in place of a real answer, a produce
// timing out after its append, a broker replaced mid-request, throttling)
// are injected inside kfake through its Fault and ControlKey hooks, which a
// real broker does not have. The real-broker suite meets the same client
// paths without chosen faults.

// kafkaFaults are the faults armed on a kfake cluster for one run of kferry:
// kfake Faults (error codes answered in place of the real answer), a broker
// restart and throttled answers, with what each did.
type kafkaFaults struct {
	c       *kafkatest.Cluster
	handles map[string]*kfake.FaultHandle

	mu        sync.Mutex
	restarted []string // "node N down on REQUEST", then "node M up …"
	throttled int
	dropped   []string // requests whose connection dropNth dropped
	errs      []error
	up        func(why string) // brings the restarted broker back, once
}

func newKafkaFaults(c *kafkatest.Cluster) *kafkaFaults {
	return &kafkaFaults{c: c, handles: map[string]*kfake.FaultHandle{}}
}

// fault installs a kfake fault under a name for the table.
func (k *kafkaFaults) fault(name string, f kfake.Fault) {
	k.handles[name] = k.c.Fault(f)
}

// restartOn restarts the broker that receives the first request of key for
// which when holds: the broker leaves the cluster (its listener closes, every
// partition and coordinator it had moves elsewhere) and answers nothing more
// (every request still sent on a connection to it drops that connection);
// once a client asks for metadata (it noticed, and looks for the new leaders),
// a broker joins on a new port, and leaders move again. kfake keeps the old connections of a
// removed broker alive and serves them as a stale broker of the same id, so
// the broker comes back under a new id: that way every request reaching the
// old one is known to be stale and dropped, as a real restart drops them.
// With spareController the controller is not the one restarted: kfake keeps
// naming a removed controller, so a cluster that later creates topics needs it.
func (k *kafkaFaults) restartOn(t *testing.T, key kmsg.Key, when func(kmsg.Request) bool, spareController bool) {
	t.Helper()
	c := k.c
	controller, _ := brokerIDs(t, c)
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		node := c.CurrentNode()
		if !when(req) || (spareController && node == controller) {
			return nil, nil, false
		}
		if err := c.RemoveNode(node); err != nil {
			k.fail(fmt.Errorf("remove node %d: %w", node, err))
			return nil, nil, false
		}
		k.note(fmt.Sprintf("node %d down on %s", node, key.Name()))
		c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
			if c.CurrentNode() != node {
				return nil, nil, false
			}
			c.KeepControl()
			return nil, errors.New("broker down"), true // drops the connection
		})
		var once sync.Once
		k.up = func(why string) {
			once.Do(func() {
				id := newNodeID.Add(1) // never the old id, which AddNode(-1) may pick
				if _, _, err := c.AddNode(id, 0); err != nil {
					k.fail(fmt.Errorf("add broker %d: %w", id, err))
					return
				}
				k.note(fmt.Sprintf("node %d up %s", id, why))
			})
		}
		c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
			if c.CurrentNode() == node {
				return nil, nil, false
			}
			c.DropControl()
			k.up("when asked for metadata")
			return nil, nil, false
		})
		return nil, errors.New("broker restarting"), true // drops the connection
	})
}

// newNodeID numbers the brokers that restartOn brings up.
var newNodeID atomic.Int32

func init() { newNodeID.Store(100) }

// dropNth drops the connection carrying the nth request of key, unanswered
// and not applied: a broker crashing as the request arrives.
func (k *kafkaFaults) dropNth(key kmsg.Key, nth int) {
	seen := 0
	k.c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		if seen++; seen < nth {
			return nil, nil, false
		}
		k.c.DropControl()
		k.mu.Lock()
		k.dropped = append(k.dropped, key.Name())
		k.mu.Unlock()
		return nil, errors.New("broker crashed"), true
	})
}

// throttleFetches answers n fetch requests that ask for topic with an empty
// response carrying a throttle time, as a broker enforcing a quota does.
func (k *kafkaFaults) throttleFetches(topic string, n int) {
	c := k.c
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !fetchesTopic(c, req, topic, 0) {
			return nil, nil, false
		}
		k.mu.Lock()
		k.throttled++
		if k.throttled < n {
			c.KeepControl()
		} else {
			c.DropControl()
		}
		k.mu.Unlock()
		resp := req.ResponseKind()
		if fr, ok := resp.(*kmsg.FetchResponse); ok {
			fr.ThrottleMillis = 300
		}
		return resp, nil, true
	})
}

func (k *kafkaFaults) note(s string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.restarted = append(k.restarted, s)
}

func (k *kafkaFaults) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errs = append(k.errs, err)
}

// report checks that every armed fault fired and describes what happened. A
// restarted broker that is still down comes back now, before the next run.
func (k *kafkaFaults) report(t *testing.T) string {
	t.Helper()
	if k.up != nil {
		k.up("after the run")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, err := range k.errs {
		t.Error(err)
	}
	var parts []string
	var names []string
	for name := range k.handles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		h := k.handles[name]
		parts = append(parts, fmt.Sprintf("%s ×%d", name, h.Hits()))
		if h.Hits() == 0 {
			t.Errorf("fault %q never fired", name)
		}
		h.Remove()
	}
	for _, d := range k.dropped {
		parts = append(parts, d+" connection dropped")
	}
	if k.throttled > 0 {
		parts = append(parts, fmt.Sprintf("fetch throttled 300 ms ×%d", k.throttled))
	}
	if len(k.restarted) > 0 {
		parts = append(parts, "broker restart: "+strings.Join(k.restarted, ", "))
	} else {
		t.Errorf("the broker restart never happened")
	}
	return strings.Join(parts, "; ")
}

// countFiles counts the files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// brokerIDs returns the node id of the cluster's controller and of a broker that
// is not the controller.
func brokerIDs(t *testing.T, c *kafkatest.Cluster) (controller, other int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := newAdmin(t, fakeCluster{c}).adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other = -1
	for _, b := range md.Brokers {
		if b.NodeID != md.Controller {
			other = b.NodeID
		}
	}
	if other < 0 {
		t.Fatalf("no broker besides the controller %d", md.Controller)
	}
	return md.Controller, other
}

// fetchesTopic reports whether a fetch request asks for a partition of topic
// at minOffset or later.
func fetchesTopic(c *kafkatest.Cluster, req kmsg.Request, topic string, minOffset int64) bool {
	fr, ok := req.(*kmsg.FetchRequest)
	if !ok {
		return false
	}
	var id [16]byte
	if ti := c.TopicInfo(topic); ti != nil {
		id = ti.TopicID
	}
	for _, ft := range fr.Topics {
		if ft.Topic != topic && ft.TopicID != id {
			continue
		}
		for _, p := range ft.Partitions {
			if p.FetchOffset >= minOffset {
				return true
			}
		}
	}
	return false
}

// producesTopic returns a predicate that holds for the nth produce request
// carrying records for topic, and after.
func producesTopic(c *kafkatest.Cluster, topic string, nth int) func(kmsg.Request) bool {
	seen := 0
	return func(req kmsg.Request) bool {
		pr, ok := req.(*kmsg.ProduceRequest)
		if !ok {
			return false
		}
		var id [16]byte
		if ti := c.TopicInfo(topic); ti != nil {
			id = ti.TopicID
		}
		for _, pt := range pr.Topics {
			if pt.Topic == topic || pt.TopicID == id {
				seen++
				return seen >= nth
			}
		}
		return false
	}
}

// armReadFaults arms the faults of a run that reads topics from c (export,
// backup): offsets lookups and fetches answered NOT_LEADER_OR_FOLLOWER, fetches
// throttled, and the leader of a partition restarted in the middle of reading
// it (partition 0 is moved off the controller first, so that there is one to
// restart).
func armReadFaults(t *testing.T, c *kafkatest.Cluster, topic string, restartAt int64) *kafkaFaults {
	if _, other := brokerIDs(t, c); c.MoveTopicPartition(topic, 0, other) != nil {
		t.Fatalf("move %s/0 to broker %d", topic, other)
	}
	k := newKafkaFaults(c)
	k.fault("ListOffsets NOT_LEADER_OR_FOLLOWER", kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: 2})
	k.fault("Fetch NOT_LEADER_OR_FOLLOWER", kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: 3})
	k.throttleFetches(topic, 2)
	k.restartOn(t, kmsg.Fetch, func(req kmsg.Request) bool { return fetchesTopic(c, req, topic, restartAt) }, true)
	return k
}

// armWriteFaults arms the faults of a run that writes topic into c (import,
// restore): produce answered NOT_LEADER_OR_FOLLOWER, and REQUEST_TIMED_OUT
// after the records were appended (the producer must not write them twice), and
// the broker receiving the fifth produce request restarted (these runs are the
// last on their clusters, so it may be the controller).
func armWriteFaults(t *testing.T, c *kafkatest.Cluster, topic string) *kafkaFaults {
	k := newKafkaFaults(c)
	k.fault("Produce NOT_LEADER_OR_FOLLOWER", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{0}, Err: kerr.NotLeaderForPartition, Count: 2})
	k.fault("Produce REQUEST_TIMED_OUT after append", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{1}, Err: kerr.RequestTimedOut, Count: 2})
	k.restartOn(t, kmsg.Produce, producesTopic(c, topic, 5), false)
	return k
}

// TestKafkaFaults: export, import, backup and restore while the clusters
// answer with leader changes, throttling, timeouts after append and a broker
// restart; every run succeeds and the copies hold exactly the source records.
// (Longer than 80 lines on purpose: parallel subtests, one per job under
// faults, that share the fault table printed at the end.)
func TestKafkaFaults(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var rows []faultRun
	row := func(run string, k *kafkaFaults, t *testing.T, r result, outcome string) {
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, faultRun{run: run, kafka: k.report(t), elapsed: r.elapsed, outcome: fmt.Sprintf("exit %d; %s", r.code, outcome)})
	}
	t.Cleanup(func() { logFaultTable(t, rows) })

	t.Run("export and import", func(t *testing.T) {
		t.Parallel()
		const topic, perPart = "kf", 3000
		fc := newFakeCluster(t)
		c, brokers := fc.Cluster, withTopics(t, fc, map[string]int32{topic: 3})
		var recs []record.Record
		for p := range int32(3) {
			for i := range perPart {
				recs = append(recs, record.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, `"k-%d-%d"`, p, i),
					Value: fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i), Headers: []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
		want := readTopics(t, c.Config(), []string{topic})[topic]
		url, dir := fileURL(t)

		k := armReadFaults(t, c, topic, perPart/2)
		r := kferry(t, runOpts{timeout: 2 * time.Minute}, "export", "--brokers", brokers, "--topics", topic, "--format", "json",
			"--store-keys", "--store-headers", "--flush-size", "500", "--to", url)
		objects := countFiles(t, dir)
		row("export (json, keys, headers)", k, t, r, fmt.Sprintf("%d objects, each once", objects))
		mustSucceed(t, r)
		if want := 3*(perPart/500)*4 + 1; objects != want { // values, keys, headers and offsets records; the topic's metadata
			t.Errorf("export wrote %d objects, want %d", objects, want)
		}

		k = armWriteFaults(t, c, topic+"-copy")
		r = kferry(t, runOpts{timeout: 2 * time.Minute}, "import", "--brokers", brokers, "--from", url, "--rename", topic+"="+topic+"-copy")
		if r.code != 0 {
			row("import", k, t, r, "")
			mustSucceed(t, r)
		}
		got := readTopics(t, c.Config(), []string{topic + "-copy"})[topic+"-copy"]
		row("import", k, t, r, sameTopic(t, topic, want, got, false))
	})

	t.Run("backup and restore", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		src := newSourceOn(t, fc, 3, 400)
		url, dir := fileURL(t)
		// The restart comes with the first fetch of the topic (offset 0 on):
		// 400 small records of a partition can come in one fetch, and a
		// backup that never fetched again past offset 200 once ran without
		// the restart (run 10 of 20 in a loop of the e2e package).
		k := armReadFaults(t, fc.Cluster, backupTopics[0], 0)
		r := kferry(t, runOpts{timeout: 2 * time.Minute}, "backup", "--brokers", src.brokers, "--to", url, "--flush-size", "100")
		if r.code != 0 {
			row("backup", k, t, r, "")
			mustSucceed(t, r)
		}
		checkBackup(t, dir, backupID(t, r), "", src)
		row("backup", k, t, r, "the manifest covers every record once, each object in the bucket")

		ft := newFakeCluster(t)
		target, brokers := ft.Cluster, withTopics(t, ft, nil)
		k = armWriteFaults(t, target, backupTopics[0])
		k.fault("TxnOffsetCommit COORDINATOR_LOAD_IN_PROGRESS", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.CoordinatorLoadInProgress, Count: 2})
		k.fault("AddOffsetsToTxn CONCURRENT_TRANSACTIONS", kfake.Fault{Keys: []kmsg.Key{kmsg.AddOffsetsToTxn}, Err: kerr.ConcurrentTransactions, Count: 2})
		k.dropNth(kmsg.EndTxn, 3)
		r = kferry(t, runOpts{timeout: 2 * time.Minute}, "restore", "--from", url, "--brokers", brokers)
		if r.code != 0 {
			row("restore", k, t, r, "")
			mustSucceed(t, r)
		}
		got := readTopics(t, target.Config(), backupTopics)
		problems := compareRecords(src.records, got)
		for _, p := range problems {
			t.Error(p)
		}
		outcome := fmt.Sprintf("%d records exactly as the source, no duplicates; group offsets checked", src.total)
		if n := strings.Count(r.stderr, "resuming from the committed progress"); n > 0 {
			outcome += fmt.Sprintf("; %d partition restores started over from their committed progress", n)
		}
		if len(problems) > 0 {
			outcome = "records differ"
		}
		row("restore", k, t, r, outcome)
		checkGroups(t, src, target.Config(), got)
	})
}

// sameTopic is sameRecords for any topic.
func sameTopic(t *testing.T, topic string, want, got map[int32][]record.Record, withTime bool) string {
	t.Helper()
	strip := func(m map[int32][]record.Record) map[string]map[int32][]record.Record {
		out := map[int32][]record.Record{}
		for p, recs := range m {
			for _, r := range recs {
				if !withTime {
					r.Timestamp = time.Time{}
				}
				out[p] = append(out[p], r)
			}
		}
		return map[string]map[int32][]record.Record{topic: out}
	}
	problems := compareRecords(strip(want), strip(got))
	for _, p := range problems {
		t.Errorf("%s: %s", topic, p)
	}
	if len(problems) > 0 {
		return "records differ"
	}
	n := 0
	for _, recs := range got {
		n += len(recs)
	}
	return fmt.Sprintf("%d records exactly as the source, no duplicates", n)
}
