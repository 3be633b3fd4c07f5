// Package testkit holds the fixtures that the pipeline, backup and migrate tests
// share: an in-process cluster and a bucket per test, and record comparisons.
package testkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"

	_ "github.com/kferry/kferry/pkg/format/bytesfmt"
	_ "github.com/kferry/kferry/pkg/format/jsonfmt"
)

// Timeout bounds every test's Kafka and bucket calls, so a hang fails the test
// instead of blocking CI.
const Timeout = 45 * time.Second * RaceSlowdown

// Env is one test's in-process Kafka cluster, admin client and bucket.
type Env struct {
	T       *testing.T
	Ctx     context.Context
	Cluster *kafkatest.Cluster
	KC      *kafka.Client
	B       *blob.Bucket
	URL     string
}

// New starts a cluster and opens a bucket: "mem" for mem://, "file" for a
// file:// bucket in a temporary folder.
func New(t *testing.T, bucket string) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	e := &Env{T: t, Ctx: ctx, Cluster: kafkatest.NewCluster(t)}
	switch bucket {
	case "mem":
		e.URL = "mem://"
	case "file":
		e.URL = "file://" + t.TempDir()
	default:
		t.Fatalf("unknown bucket kind %q", bucket)
	}
	var err error
	if e.B, err = store.Open(ctx, e.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.B.Close() })
	if e.KC, err = kafka.Dial(ctx, e.Cluster.Config()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.KC.Close)
	return e
}

func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (e *Env) CreateTopic(topic string, partitions int32) {
	e.T.Helper()
	if err := e.Cluster.CreateTopic(e.Ctx, topic, partitions); err != nil {
		e.T.Fatal(err)
	}
}

func (e *Env) Produce(recs ...record.Record) {
	e.T.Helper()
	if err := e.Cluster.Produce(e.Ctx, recs); err != nil {
		e.T.Fatal(err)
	}
}

// Export runs pipeline.Export with a quiet logger.
func (e *Env) Export(o pipeline.ExportOptions) (pipeline.Summary, error) {
	e.T.Helper()
	o.Logger = DiscardLogger()
	return pipeline.Export(e.Ctx, e.KC, e.B, e.URL, o)
}

// ImportAll runs pipeline.Import with a quiet logger (unless o has one) and the broker's default
// replication factor.
func (e *Env) ImportAll(o pipeline.ImportOptions) (pipeline.Summary, error) {
	e.T.Helper()
	if o.Logger == nil {
		o.Logger = DiscardLogger()
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	return pipeline.Import(e.Ctx, e.KC, e.B, e.URL, o)
}

// Put writes objects into the bucket as they are given, key → body.
func (e *Env) Put(objects map[string]string) {
	e.T.Helper()
	for k, body := range objects {
		if err := store.WriteAll(e.Ctx, e.B, k, []byte(body), nil); err != nil {
			e.T.Fatal(err)
		}
	}
}

// RawObjects returns every object of the bucket as stored, key → body.
func (e *Env) RawObjects() map[string]string {
	e.T.Helper()
	out := map[string]string{}
	it := store.List(e.B, nil)
	for {
		obj, err := it.Next(e.Ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			e.T.Fatal(err)
		}
		body, err := e.B.ReadAll(e.Ctx, obj.Key)
		if err != nil {
			e.T.Fatal(err)
		}
		out[obj.Key] = string(body)
	}
}

// Objects returns every object of the bucket but the offsets records
// (offsetsRecords), key → body, with .gz bodies gunzipped (and checked to be
// one gzip stream).
func (e *Env) Objects() map[string]string {
	e.T.Helper()
	out := e.RawObjects()
	for k, body := range out {
		if strings.HasPrefix(k, "_kferry/offsets/") {
			delete(out, k)
			continue
		}
		if strings.HasSuffix(k, ".gz") {
			out[k] = string(Gunzip(e.T, k, []byte(body)))
		}
	}
	return out
}

// OffsetsRecords returns the offsets records export wrote, key → body.
func (e *Env) OffsetsRecords() map[string]string {
	e.T.Helper()
	out := e.RawObjects()
	for k := range out {
		if !strings.HasPrefix(k, "_kferry/offsets/") {
			delete(out, k)
		}
	}
	return out
}

func Gunzip(t *testing.T, key string, body []byte) []byte {
	t.Helper()
	br := bytes.NewReader(body)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatalf("%s: not gzip: %v", key, err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: gunzip: %v", key, err)
	}
	if br.Len() != 0 {
		t.Fatalf("%s: %d bytes after the first gzip member, want one gzip stream per object", key, br.Len())
	}
	return out
}

func Gz(t *testing.T, body string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Rec is a record as the tests compare it: partition, key, value and headers,
// with null shown as null and bytes quoted.
type Rec struct {
	P int32
	K string
	V string
	H string
}

func Show(b []byte) string {
	if b == nil {
		return "null"
	}
	return strconv.Quote(string(b))
}

func Project(r *record.Record) Rec {
	hs := make([]string, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = h.Key + "=" + Show(h.Value)
	}
	return Rec{P: r.Partition, K: Show(r.Key), V: Show(r.Value), H: strings.Join(hs, ",")}
}

// ProjectAll flattens records into partition order, keeping each partition's order.
func ProjectAll(recs []record.Record) []Rec {
	out := make([]Rec, 0, len(recs))
	for i := range recs {
		out = append(out, Project(&recs[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].P < out[j].P })
	return out
}

// TopicRecords returns every committed record of topic, in partition then offset
// order, as the tests compare them.
func (e *Env) TopicRecords(topic string) []Rec {
	e.T.Helper()
	byP, err := e.Cluster.ReadAll(e.Ctx, topic)
	if err != nil {
		e.T.Fatalf("read %s: %v", topic, err)
	}
	var all []record.Record
	for _, recs := range byP {
		all = append(all, recs...)
	}
	return ProjectAll(all)
}

// Partitions returns the partition count of every topic of the cluster. It asks
// a fresh client: kadm caches the topic list for MetadataMinAge (5 s), so the
// client that just created a topic may not list it yet.
func (e *Env) Partitions() map[string]int {
	e.T.Helper()
	kc, err := kafka.Dial(e.Ctx, e.Cluster.Config())
	if err != nil {
		e.T.Fatal(err)
	}
	defer kc.Close()
	ts, err := kc.Topics(e.Ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	out := map[string]int{}
	for name, info := range ts {
		out[name] = info.Partitions
	}
	return out
}

// Records builds n records for topic/partition; value i is {"n":i}, key k<i>, and
// one header h=<i>.
func Records(topic string, p int32, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Headers: []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}}
	}
	return out
}

func WantErrContains(t *testing.T, err error, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one wrapping %v", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %v", err, target)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// LogBuffer collects what a logger writes, safe for the goroutines of a run.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Logger returns a text logger writing into the buffer.
func (l *LogBuffer) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
