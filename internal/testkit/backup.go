package testkit

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

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"

	_ "github.com/kferry/kferry/pkg/format/native"
)

// Target is a second, empty in-process cluster that backups are restored into.
type Target struct {
	Cluster *kafkatest.Cluster
	KC      *kafka.Client
}

// NewTarget starts a fresh target cluster for the test.
func (e *Env) NewTarget() *Target {
	e.T.Helper()
	c := kafkatest.NewCluster(e.T)
	kc, err := kafka.Dial(e.Ctx, c.Config())
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(kc.Close)
	return &Target{Cluster: c, KC: kc}
}

// Backup runs backup.Backup of the env's cluster into its bucket with a quiet
// logger and the default topics folder. Each run dials a client of its own, as
// each `kferry Backup` does: a client's cached metadata (5 s) would hide
// partitions added and topics recreated just before.
func (e *Env) Backup(o backup.BackupOptions) (pipeline.Summary, *manifest.Manifest, error) {
	e.T.Helper()
	o.Logger = DiscardLogger()
	if o.Naming.TopicsDir == "" {
		o.Naming.TopicsDir = layout.DefaultTopicsDir
	}
	if o.Version == "" {
		o.Version = "test"
	}
	kc, err := kafka.Dial(e.Ctx, e.Cluster.Config())
	if err != nil {
		e.T.Fatal(err)
	}
	defer kc.Close()
	return backup.Backup(e.Ctx, kc, e.B, e.URL, o)
}

// MustBackup is backup that fails the test on any error.
func (e *Env) MustBackup(o backup.BackupOptions) *manifest.Manifest {
	e.T.Helper()
	_, m, err := e.Backup(o)
	if err != nil {
		e.T.Fatalf("backup: %v", err)
	}
	return m
}

// Restore runs backup.Restore of the env's bucket into tg with a quiet logger
// and the broker's default replication factor.
func (e *Env) Restore(tg *Target, o backup.RestoreOptions) (pipeline.Summary, error) {
	e.T.Helper()
	return e.RestoreCtx(e.Ctx, tg, o)
}

func (e *Env) RestoreCtx(ctx context.Context, tg *Target, o backup.RestoreOptions) (pipeline.Summary, error) {
	e.T.Helper()
	o.Logger = DiscardLogger()
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	return backup.Restore(ctx, tg.KC, e.B, e.URL, o)
}

// MustRestore is restore that fails the test on any error.
func (e *Env) MustRestore(tg *Target, o backup.RestoreOptions) pipeline.Summary {
	e.T.Helper()
	s, err := e.Restore(tg, o)
	if err != nil {
		e.T.Fatalf("restore: %v", err)
	}
	return s
}

// CreateTopicConfigs creates a topic with configs on the env's cluster.
func (e *Env) CreateTopicConfigs(topic string, partitions int32, configs map[string]string) {
	e.T.Helper()
	if _, err := e.KC.CreateTopicWithConfigs(e.Ctx, topic, partitions, -1, configs); err != nil {
		e.T.Fatal(err)
	}
}

// ReadTopic returns every committed record of topic on the cluster cfg reaches,
// per partition, in offset order. Readers take one partition at a time, so a few
// of them share the partitions: topics with hundreds of partitions read fast.
func ReadTopic(t *testing.T, ctx context.Context, cfg kafka.Config, topic string) map[int32][]record.Record {
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

// Full is a record as the fidelity tests compare it: key, value, headers in
// order, timestamp and its type; everything but the offset. Null shows as null,
// bytes are quoted (so non-UTF-8 stays visible) and long values show as length
// and hash.
type Full struct {
	K, V string
	H    []string
	TS   int64
	TT   record.TimestampType
}

func ShowBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 64 {
		return fmt.Sprintf("%d bytes sha256:%x", len(b), sha256.Sum256(b))
	}
	return strconv.Quote(string(b))
}

func FullOf(r *record.Record) Full {
	f := Full{K: ShowBytes(r.Key), V: ShowBytes(r.Value), TS: r.Timestamp.UnixMilli(), TT: r.TimestampType}
	for _, h := range r.Headers {
		f.H = append(f.H, strconv.Quote(h.Key)+"="+ShowBytes(h.Value))
	}
	return f
}

func Fulls(recs []record.Record) []Full {
	out := make([]Full, len(recs))
	for i := range recs {
		out[i] = FullOf(&recs[i])
	}
	return out
}

// WantSameTopic compares srcTopic on the source with dstTopic on the target
// field by field, partition by partition, in order, and checks that both have
// the same partition count. It returns the source records.
func WantSameTopic(t *testing.T, e *Env, tg *Target, srcTopic, dstTopic string) map[int32][]record.Record {
	t.Helper()
	src := ReadTopic(t, e.Ctx, e.Cluster.Config(), srcTopic)
	dst := ReadTopic(t, e.Ctx, tg.Cluster.Config(), dstTopic)
	sd, err := e.KC.DescribeTopics(e.Ctx, []string{srcTopic})
	if err != nil {
		t.Fatal(err)
	}
	dd, err := tg.KC.DescribeTopics(e.Ctx, []string{dstTopic})
	if err != nil {
		t.Fatal(err)
	}
	if sd[srcTopic].Partitions != dd[dstTopic].Partitions {
		t.Errorf("%s: %d partitions on the target, want %d", dstTopic, dd[dstTopic].Partitions, sd[srcTopic].Partitions)
	}
	for p := range int32(sd[srcTopic].Partitions) { // #nosec G115 -- a test topic's partition count
		if diff := cmp.Diff(Fulls(src[p]), Fulls(dst[p])); diff != "" {
			t.Errorf("%s/%d restored as %s/%d differs (-source +target):\n%s", srcTopic, p, dstTopic, p, diff)
		}
	}
	return src
}

// CommitGroup commits offsets of group on the cluster cfg reaches, outside any
// transaction, as a consumer would.
func CommitGroup(t *testing.T, ctx context.Context, cfg kafka.Config, group, topic string, offsets map[int32]int64) {
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

// EndOffsets returns each partition's end offset (last stable offset) of topic.
func EndOffsets(t *testing.T, ctx context.Context, kc *kafka.Client, topic string) map[int32]int64 {
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

// OffsetsOf returns the offsets of recs.
func OffsetsOf(recs []record.Record) []int64 {
	out := make([]int64, len(recs))
	for i := range recs {
		out[i] = recs[i].Offset
	}
	return out
}

// Contiguous reports whether offsets have no holes.
func Contiguous(offs []int64) bool {
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1]+1 {
			return false
		}
	}
	return true
}

// ObjectSums returns every native object of the bucket, key → SHA-256 of its bytes.
func (e *Env) ObjectSums() map[string]string {
	e.T.Helper()
	out := map[string]string{}
	for k, body := range e.RawObjects() {
		if strings.HasSuffix(k, ".kfr") {
			out[k] = fmt.Sprintf("%x", sha256.Sum256([]byte(body)))
		}
	}
	return out
}

// ManifestObjects returns every object the manifest lists, key → entry.
func ManifestObjects(m *manifest.Manifest) map[string]manifest.Object {
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

// PartitionOf returns the manifest's entry of topic/p, failing the test if absent.
func PartitionOf(t *testing.T, m *manifest.Manifest, topic string, p int32) *manifest.Partition {
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

// CancelAfter is a Progress that cancels a context once at least n records
// have been restored: it interrupts a restore between two objects.
type CancelAfter struct {
	mu     sync.Mutex
	N      int64
	seen   int64
	Cancel context.CancelFunc
}

func (c *CancelAfter) Add(records, _ int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen += records
	if c.seen >= c.N {
		c.Cancel()
	}
}

// Ms is a timestamp base+d, truncated to the millisecond as Kafka keeps it.
func Ms(base time.Time, d time.Duration) time.Time { return base.Add(d).Truncate(time.Millisecond) }

// SortedKeys returns the keys of m, sorted.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HasWarning reports whether some warning contains every part.
func HasWarning(warnings []string, parts ...string) bool {
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
