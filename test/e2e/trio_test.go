package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/objset"
	_ "github.com/kferry/kferry/pkg/format/native" // reading the backups' objects
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
	"github.com/kferry/kferry/test/realkafka"
)

// trio is a 3-node Apache Kafka cluster (replication factor 3,
// min.insync.replicas 2) that a test starts for itself: a pool broker is a
// single node, with no follower to take over from a leader that dies.
type trio struct {
	*realCluster
	adm *admin
}

// needRealKafka skips a test that kills brokers unless the tests run on
// Apache Kafka.
func needRealKafka(t *testing.T) {
	t.Helper()
	if !brokers.real() {
		t.Skip("kills Apache Kafka brokers (test/realkafka); runs with KFERRY_TEST_KAFKA=1, as `make test` sets: kfake has no broker processes to kill")
	}
}

// newTrio starts a 3-node cluster for the test, stopped at its cleanup. It
// takes the pool's broker settings (short group sessions, quick aborts of
// timed-out transactions).
func newTrio(t *testing.T) *trio {
	t.Helper()
	needRealKafka(t)
	rk := realkafka.New(t, realkafka.Options{Nodes: 3, Overrides: brokers.opts.Overrides})
	report("e2e: %s: 3-node Apache Kafka %s serving after %s", t.Name(), rk.Version(), rk.StartupTime().Round(10*time.Millisecond))
	c := &realCluster{rk: rk, addrs: rk.Addrs()}
	return &trio{realCluster: c, adm: newAdmin(t, c)}
}

// leader returns the node that leads topic's partition p, once it has a
// leader that runs.
func (tr *trio) leader(t *testing.T, topic string, p int32) *realkafka.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n *realkafka.Node
	err := poll(ctx, fmt.Sprintf("a running leader of %s/%d", topic, p), func() (bool, error) {
		td, err := tr.adm.adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err
		}
		pd, ok := td[topic].Partitions[p]
		if !ok || pd.Err != nil || pd.Leader < 0 {
			return false, pd.Err
		}
		n = tr.rk.Node(pd.Leader)
		return n != nil && n.Running(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// failLeader SIGKILLs the node that leads topic's partition 0 while p runs
// and starts it again (see failNode).
func (tr *trio) failLeader(t *testing.T, p *proc, topic string) {
	t.Helper()
	tr.failNode(t, p, tr.leader(t, topic, 0), "the leader of "+topic+"/0")
}

// coordinator returns the node that coordinates group, once it runs.
func (tr *trio) coordinator(t *testing.T, group string) *realkafka.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n *realkafka.Node
	err := poll(ctx, "a running coordinator of group "+group, func() (bool, error) {
		fc := tr.adm.adm.FindGroupCoordinators(ctx, group)[group]
		if fc.Err != nil {
			return false, fc.Err
		}
		n = tr.rk.Node(fc.NodeID)
		return n != nil && n.Running(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// failNode SIGKILLs node n (what it is to the run: "the leader of ...") while
// p runs (a crash: no controlled shutdown, no leadership handed over), then
// starts it again with its data while p goes on, and returns once it serves.
func (tr *trio) failNode(t *testing.T, p *proc, n *realkafka.Node, what string) {
	t.Helper()
	if p.exited() {
		t.Fatalf("kferry ended before %s could be killed (give it more data): %s", what, p)
	}
	n.Kill()
	t.Logf("node %d, %s, SIGKILLed %s into the run", n.ID(), what, time.Since(p.start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("restart node %d: %v", n.ID(), err)
	}
	t.Logf("node %d serving again after %s", n.ID(), time.Since(began).Round(time.Millisecond))
}

// waitExit waits until p ends by itself and returns its exit code.
func waitExit(t *testing.T, p *proc, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("no exit within %s\n%s", timeout, p)
	}
	return p.exitCode()
}

// lfData is what the source topics of a failure test hold: lfPartitions
// partitions per topic, each with perPart records, the one at offset i being
// lfRecord(topic, partition, i).
type lfData struct {
	topics  []string
	perPart int
}

const lfPartitions = 3

func (d lfData) total() int { return len(d.topics) * lfPartitions * d.perPart }

// lfFill creates the topics prefix-0, prefix-1 and prefix-2 on c and fills
// them (see lfData).
func lfFill(t *testing.T, c cluster, prefix string, perPart int) lfData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := lfData{perPart: perPart}
	var recs []record.Record
	for i := range 3 {
		topic := fmt.Sprintf("%s-%d", prefix, i)
		if err := c.CreateTopic(ctx, topic, lfPartitions); err != nil {
			t.Fatal(err)
		}
		d.topics = append(d.topics, topic)
		for p := range int32(lfPartitions) {
			for i := range perPart {
				recs = append(recs, lfRecord(topic, p, i))
			}
		}
	}
	began := time.Now()
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
	ends, err := newAdmin(t, c).stableEnd(ctx, d.topics)
	if err != nil || ends != int64(d.total()) {
		t.Fatalf("the source ends at %d in all (%v), want %d: every offset a record", ends, err, d.total())
	}
	t.Logf("source: %d records in %d partitions, produced in %s", d.total(), len(d.topics)*lfPartitions, time.Since(began).Round(time.Millisecond))
	return d
}

// lfRecord is the record at offset i of a source partition: its value names
// where it comes from, so that a copy can be checked record by record.
func lfRecord(topic string, p int32, i int) record.Record {
	return record.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k-%d", i), Value: fmt.Appendf(nil, `{"t":%q,"p":%d,"i":%d}`, topic, p, i)}
}

// lfOrigin reads back where a copied record comes from.
func lfOrigin(r *record.Record) (topic string, p int32, i int, ok bool) {
	var v struct {
		T string
		P int32
		I int
	}
	if err := json.Unmarshal(r.Value, &v); err != nil || string(r.Key) != fmt.Sprintf("k-%d", v.I) {
		return "", 0, 0, false
	}
	return v.T, v.P, v.I, true
}

// checkCopied reads the copies of d's topics on c (read_committed; rename maps
// a source topic to its copy) and checks that every partition holds each
// source record exactly once, in order: it reports duplicates, missing and
// foreign records and the first one out of place, per partition.
func checkCopied(t *testing.T, c cluster, d lfData, rename func(string) string) {
	t.Helper()
	for _, src := range d.topics {
		dst := rename(src)
		got := readTopics(t, c.Config(), []string{dst})[dst]
		for p := range int32(lfPartitions) {
			seen := make([]int, d.perPart)
			dups, foreign, last := 0, 0, -1
			firstOff := int64(-1)
			for i := range got[p] {
				r := &got[p][i]
				topic, sp, n, ok := lfOrigin(r)
				if !ok || topic != src || sp != p || n >= d.perPart {
					foreign++
					continue
				}
				if seen[n] > 0 {
					dups++
				}
				seen[n]++
				if n != last+1 && firstOff < 0 {
					firstOff = r.Offset
				}
				last = n
			}
			missing := 0
			for _, k := range seen {
				if k == 0 {
					missing++
				}
			}
			if dups+missing+foreign > 0 || firstOff >= 0 {
				t.Errorf("%s/%d: %d records, want %d: %d duplicates, %d missing, %d foreign; first out of order at offset %d", dst, p, len(got[p]), d.perPart, dups, missing, foreign, firstOff)
			}
		}
	}
	if !t.Failed() {
		t.Logf("the copy holds each of the %d source records once, in order", d.total())
	}
}

// checkExported reads the Confluent-layout objects of d's topics in the
// bucket at url and checks that, per partition, they hold offsets 0 to the
// end once each: every object starts where the one before ended, and the
// record at offset o is the source's record o.
func checkExported(t *testing.T, url string, d lfData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cat, err := catalog.Scan(ctx, b, layout.DefaultTopicsDir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	objects := 0
	for _, topic := range d.topics {
		for p := range int32(lfPartitions) {
			po := cat.Topics[topic][p]
			if po == nil {
				t.Errorf("%s/%d: no objects", topic, p)
				continue
			}
			next := int64(0)
			for _, g := range po.Groups {
				objects++
				if g.Start != next {
					t.Errorf("%s/%d: object %s starts at %d, want %d (%s)", topic, p, g.Values.Key, g.Start, next, map[bool]string{true: "an overlap: offsets twice", false: "a hole: offsets missing"}[g.Start < next])
				}
				next = g.Start
				err := objset.Dump(ctx, b, g, nil, func(r *record.Record) error {
					st, sp, n, ok := lfOrigin(r)
					if !ok || st != topic || sp != p || int64(n) != r.Offset {
						return fmt.Errorf("offset %d holds key %q value %s", r.Offset, r.Key, r.Value)
					}
					next = r.Offset + 1
					return nil
				})
				if err != nil {
					t.Errorf("%s/%d: object %s: %v", topic, p, g.Values.Key, err)
				}
			}
			if next != int64(d.perPart) {
				t.Errorf("%s/%d: the objects end at offset %d, want %d", topic, p, next-1, d.perPart-1)
			}
		}
	}
	if !t.Failed() {
		t.Logf("bucket: %d objects holding each of the %d source offsets once", objects, d.total())
	}
}

// renamer maps a topic to what a --rename 'old-(.*)=new-$1' rule makes of it.
func renamer(oldPrefix, newPrefix string) func(string) string {
	return func(s string) string { return newPrefix + strings.TrimPrefix(s, oldPrefix) }
}

// checkBackedUp checks backup id in the file:// bucket at dir (URL url): per
// partition of d, its objects follow each other from offset 0 to the end
// without overlap or hole, each record at its own offset is the source's
// record there, and every native object in the bucket is one of them (none
// written twice, no leftover of a failed attempt).
func checkBackedUp(t *testing.T, dir, url, id string, d lfData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, err := catalog.LoadManifest(ctx, b, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, topic := range d.topics {
		mt := m.Topic(topic)
		if mt == nil || len(mt.Partition) != lfPartitions {
			t.Errorf("manifest %s: topic %s missing or without its %d partitions", id, topic, lfPartitions)
			continue
		}
		for _, mp := range mt.Partition {
			next := int64(0)
			for _, o := range mp.Objects {
				named[o.Key] = true
				if o.FirstOffset != next {
					t.Errorf("%s/%d: object %s starts at %d, want %d", topic, mp.Partition, o.Key, o.FirstOffset, next)
				}
				next = o.FirstOffset
				info := catalog.ObjectInfo{Key: o.Key, Size: o.Size, Object: layout.Object{Topic: topic, Partition: mp.Partition, StartOffset: o.FirstOffset, View: layout.ViewValues, Ext: ".kfr"}}
				if err := eachNative(ctx, b, info, func(r *record.Record) error {
					st, sp, n, ok := lfOrigin(r)
					if !ok || st != topic || sp != mp.Partition || int64(n) != r.Offset || r.Offset != next {
						return fmt.Errorf("offset %d (want %d) holds key %q value %s", r.Offset, next, r.Key, r.Value)
					}
					next++
					return nil
				}); err != nil {
					t.Errorf("%s/%d: %v", topic, mp.Partition, err)
					next = o.LastOffset + 1
				}
			}
			if next != int64(d.perPart) || mp.EndOffset != next {
				t.Errorf("%s/%d: the objects end at offset %d (manifest: %d), want %d", topic, mp.Partition, next-1, mp.EndOffset-1, d.perPart-1)
			}
		}
	}
	objects, _, err := bucketFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range objects {
		if !named[k] {
			t.Errorf("object %s is in the bucket but not in manifest %s (written twice, or left by a failed attempt)", k, id)
		}
	}
	if !t.Failed() {
		t.Logf("backup %s: %d objects holding each of the %d source offsets once", id, len(named), d.total())
	}
}

// eachNative hands every record of a native object to fn.
func eachNative(ctx context.Context, b *blob.Bucket, info catalog.ObjectInfo, fn func(*record.Record) error) error {
	or, err := objset.OpenObject(ctx, b, info, nil)
	if err != nil {
		return err
	}
	defer or.Close()
	for {
		var r record.Record
		if err := or.Next(&r); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return fmt.Errorf("object %s: %w", info.Key, err)
		}
	}
}
