package pipeline_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"

	_ "github.com/kferry/kferry/pkg/format/native"
)

// target is a second, empty in-process cluster that backups are restored into.
type target struct {
	cluster *kafkatest.Cluster
	kc      *kafka.Client
}

// newTarget starts a fresh target cluster for the test.
func (e *env) newTarget() *target {
	e.t.Helper()
	c := kafkatest.NewCluster(e.t)
	kc, err := kafka.Dial(e.ctx, c.Config())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(kc.Close)
	return &target{cluster: c, kc: kc}
}

// backup runs pipeline.Backup of the env's cluster into its bucket with a quiet
// logger and the default topics folder. Each run dials a client of its own, as
// each `kferry backup` does: a client's cached metadata (5 s) would hide
// partitions added and topics recreated just before.
func (e *env) backup(o pipeline.BackupOptions) (pipeline.Summary, *manifest.Manifest, error) {
	e.t.Helper()
	o.Logger = discardLogger()
	if o.Naming.TopicsDir == "" {
		o.Naming.TopicsDir = layout.DefaultTopicsDir
	}
	if o.Version == "" {
		o.Version = "test"
	}
	kc, err := kafka.Dial(e.ctx, e.cluster.Config())
	if err != nil {
		e.t.Fatal(err)
	}
	defer kc.Close()
	return pipeline.Backup(e.ctx, kc, e.b, e.url, o)
}

// mustBackup is backup that fails the test on any error.
func (e *env) mustBackup(o pipeline.BackupOptions) *manifest.Manifest {
	e.t.Helper()
	_, m, err := e.backup(o)
	if err != nil {
		e.t.Fatalf("backup: %v", err)
	}
	return m
}

// restore runs pipeline.Restore of the env's bucket into tg with a quiet logger
// and the broker's default replication factor.
func (e *env) restore(tg *target, o pipeline.RestoreOptions) (pipeline.Summary, error) {
	e.t.Helper()
	return e.restoreCtx(e.ctx, tg, o)
}

func (e *env) restoreCtx(ctx context.Context, tg *target, o pipeline.RestoreOptions) (pipeline.Summary, error) {
	e.t.Helper()
	o.Logger = discardLogger()
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	return pipeline.Restore(ctx, tg.kc, e.b, e.url, o)
}

// mustRestore is restore that fails the test on any error.
func (e *env) mustRestore(tg *target, o pipeline.RestoreOptions) pipeline.Summary {
	e.t.Helper()
	s, err := e.restore(tg, o)
	if err != nil {
		e.t.Fatalf("restore: %v", err)
	}
	return s
}

// createTopicConfigs creates a topic with configs on the env's cluster.
func (e *env) createTopicConfigs(topic string, partitions int32, configs map[string]string) {
	e.t.Helper()
	if _, err := e.kc.CreateTopicWithConfigs(e.ctx, topic, partitions, -1, configs); err != nil {
		e.t.Fatal(err)
	}
}

// readTopic returns every committed record of topic on the cluster cfg reaches,
// per partition, in offset order. Readers take one partition at a time, so a few
// of them share the partitions: topics with hundreds of partitions read fast.
func readTopic(t *testing.T, ctx context.Context, cfg kafka.Config, topic string) map[int32][]record.Record {
	t.Helper()
	kc, err := kafka.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ranges, err := kc.Ranges(ctx, []string{topic})
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	var (
		mu   sync.Mutex
		out  = map[int32][]record.Record{}
		wg   sync.WaitGroup
		errs = make(chan error, 8)
	)
	for w := range min(8, len(ranges)) {
		wg.Go(func() {
			rd, err := kafka.NewReader(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer rd.Close()
			for i := w; i < len(ranges); i += 8 {
				var recs []record.Record
				err := rd.Read(ctx, ranges[i], func(batch []*record.Record) error {
					for _, r := range batch {
						recs = append(recs, *r)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				out[ranges[i].Partition] = recs
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return out
}

// full is a record as the fidelity tests compare it: key, value, headers in
// order, timestamp and its type; everything but the offset. Null shows as null,
// bytes are quoted (so non-UTF-8 stays visible) and long values show as length
// and hash.
type full struct {
	K, V string
	H    []string
	TS   int64
	TT   record.TimestampType
}

func showBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 64 {
		return fmt.Sprintf("%d bytes sha256:%x", len(b), sha256.Sum256(b))
	}
	return strconv.Quote(string(b))
}

func fullOf(r *record.Record) full {
	f := full{K: showBytes(r.Key), V: showBytes(r.Value), TS: r.Timestamp.UnixMilli(), TT: r.TimestampType}
	for _, h := range r.Headers {
		f.H = append(f.H, strconv.Quote(h.Key)+"="+showBytes(h.Value))
	}
	return f
}

func fulls(recs []record.Record) []full {
	out := make([]full, len(recs))
	for i := range recs {
		out[i] = fullOf(&recs[i])
	}
	return out
}

// wantSameTopic compares srcTopic on the source with dstTopic on the target
// field by field, partition by partition, in order, and checks that both have
// the same partition count. It returns the source records.
func wantSameTopic(t *testing.T, e *env, tg *target, srcTopic, dstTopic string) map[int32][]record.Record {
	t.Helper()
	src := readTopic(t, e.ctx, e.cluster.Config(), srcTopic)
	dst := readTopic(t, e.ctx, tg.cluster.Config(), dstTopic)
	sd, err := e.kc.DescribeTopics(e.ctx, []string{srcTopic})
	if err != nil {
		t.Fatal(err)
	}
	dd, err := tg.kc.DescribeTopics(e.ctx, []string{dstTopic})
	if err != nil {
		t.Fatal(err)
	}
	if sd[srcTopic].Partitions != dd[dstTopic].Partitions {
		t.Errorf("%s: %d partitions on the target, want %d", dstTopic, dd[dstTopic].Partitions, sd[srcTopic].Partitions)
	}
	for p := range int32(sd[srcTopic].Partitions) {
		if diff := cmp.Diff(fulls(src[p]), fulls(dst[p])); diff != "" {
			t.Errorf("%s/%d restored as %s/%d differs (-source +target):\n%s", srcTopic, p, dstTopic, p, diff)
		}
	}
	return src
}

// commitGroup commits offsets of group on the cluster cfg reaches, outside any
// transaction, as a consumer would.
func commitGroup(t *testing.T, ctx context.Context, cfg kafka.Config, group, topic string, offsets map[int32]int64) {
	t.Helper()
	w, err := kafka.NewTxnWriter(ctx, cfg, "", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var offs []kafka.GroupOffset
	for p, o := range offsets {
		offs = append(offs, kafka.GroupOffset{Group: group, Topic: topic, Partition: p, Offset: o})
	}
	if err := w.CommitPlain(ctx, offs); err != nil {
		t.Fatal(err)
	}
}

// endOffsets returns each partition's end offset (last stable offset) of topic.
func endOffsets(t *testing.T, ctx context.Context, kc *kafka.Client, topic string) map[int32]int64 {
	t.Helper()
	ranges, err := kc.Ranges(ctx, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, r := range ranges {
		out[r.Partition] = r.End
	}
	return out
}

// offsetsOf returns the offsets of recs.
func offsetsOf(recs []record.Record) []int64 {
	out := make([]int64, len(recs))
	for i := range recs {
		out[i] = recs[i].Offset
	}
	return out
}

// contiguous reports whether offsets have no holes.
func contiguous(offs []int64) bool {
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1]+1 {
			return false
		}
	}
	return true
}

// objectSums returns every native object of the bucket, key → SHA-256 of its bytes.
func (e *env) objectSums() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for k, body := range e.rawObjects() {
		if strings.HasSuffix(k, ".kfr") {
			out[k] = fmt.Sprintf("%x", sha256.Sum256([]byte(body)))
		}
	}
	return out
}

// manifestObjects returns every object the manifest lists, key → entry.
func manifestObjects(m *manifest.Manifest) map[string]manifest.Object {
	out := map[string]manifest.Object{}
	for _, t := range m.Topics {
		for _, p := range t.Partition {
			for _, o := range p.Objects {
				out[o.Key] = o
			}
		}
	}
	return out
}

// partitionOf returns the manifest's entry of topic/p, failing the test if absent.
func partitionOf(t *testing.T, m *manifest.Manifest, topic string, p int32) *manifest.Partition {
	t.Helper()
	mt := m.Topic(topic)
	if mt == nil {
		t.Fatalf("manifest %s has no topic %s", m.ID, topic)
	}
	mp := mt.PartitionByID(p)
	if mp == nil {
		t.Fatalf("manifest %s has no partition %s/%d", m.ID, topic, p)
	}
	return mp
}

// cancelAfter is a Progress that cancels a context once at least n records
// have been restored: it interrupts a restore between two objects.
type cancelAfter struct {
	mu     sync.Mutex
	n      int64
	seen   int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Add(records, _ int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen += records
	if c.seen >= c.n {
		c.cancel()
	}
}

// ms is a timestamp base+d, truncated to the millisecond as Kafka keeps it.
func ms(base time.Time, d time.Duration) time.Time { return base.Add(d).Truncate(time.Millisecond) }

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hasWarning reports whether some warning contains every part.
func hasWarning(warnings []string, parts ...string) bool {
	for _, w := range warnings {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w, p)
		}
		if ok {
			return true
		}
	}
	return false
}
