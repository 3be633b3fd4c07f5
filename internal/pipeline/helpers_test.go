package pipeline_test

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

// testTimeout bounds every test's Kafka and bucket calls, so a hang fails the test
// instead of blocking CI.
const testTimeout = 45 * time.Second * raceSlowdown

// env is one test's in-process Kafka cluster, admin client and bucket.
type env struct {
	t       *testing.T
	ctx     context.Context
	cluster *kafkatest.Cluster
	kc      *kafka.Client
	b       *blob.Bucket
	url     string
}

// newEnv starts a cluster and opens a bucket: "mem" for mem://, "file" for a
// file:// bucket in a temporary folder.
func newEnv(t *testing.T, bucket string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, cluster: kafkatest.NewCluster(t)}
	switch bucket {
	case "mem":
		e.url = "mem://"
	case "file":
		e.url = "file://" + t.TempDir()
	default:
		t.Fatalf("unknown bucket kind %q", bucket)
	}
	var err error
	if e.b, err = store.Open(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.b.Close() })
	if e.kc, err = kafka.Dial(ctx, e.cluster.Config()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.kc.Close)
	return e
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (e *env) createTopic(topic string, partitions int32) {
	e.t.Helper()
	if err := e.cluster.CreateTopic(e.ctx, topic, partitions); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) produce(recs ...record.Record) {
	e.t.Helper()
	if err := e.cluster.Produce(e.ctx, recs); err != nil {
		e.t.Fatal(err)
	}
}

// export runs pipeline.Export with a quiet logger.
func (e *env) export(o pipeline.ExportOptions) (pipeline.Summary, error) {
	e.t.Helper()
	o.Logger = discardLogger()
	return pipeline.Export(e.ctx, e.kc, e.b, e.url, o)
}

// importAll runs pipeline.Import with a quiet logger and the broker's default
// replication factor.
func (e *env) importAll(o pipeline.ImportOptions) (pipeline.Summary, error) {
	e.t.Helper()
	o.Logger = discardLogger()
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	return pipeline.Import(e.ctx, e.kc, e.b, e.url, o)
}

// put writes objects into the bucket as they are given, key → body.
func (e *env) put(objects map[string]string) {
	e.t.Helper()
	for k, body := range objects {
		if err := e.b.WriteAll(e.ctx, k, []byte(body), nil); err != nil {
			e.t.Fatal(err)
		}
	}
}

// rawObjects returns every object of the bucket as stored, key → body.
func (e *env) rawObjects() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	it := e.b.List(nil)
	for {
		obj, err := it.Next(e.ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			e.t.Fatal(err)
		}
		body, err := e.b.ReadAll(e.ctx, obj.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		out[obj.Key] = string(body)
	}
}

// objects returns every object of the bucket but the offsets records
// (offsetsRecords), key → body, with .gz bodies gunzipped (and checked to be
// one gzip stream).
func (e *env) objects() map[string]string {
	e.t.Helper()
	out := e.rawObjects()
	for k, body := range out {
		if strings.HasPrefix(k, "_kferry/offsets/") {
			delete(out, k)
			continue
		}
		if strings.HasSuffix(k, ".gz") {
			out[k] = string(gunzip(e.t, k, []byte(body)))
		}
	}
	return out
}

// offsetsRecords returns the offsets records export wrote, key → body.
func (e *env) offsetsRecords() map[string]string {
	e.t.Helper()
	out := e.rawObjects()
	for k := range out {
		if !strings.HasPrefix(k, "_kferry/offsets/") {
			delete(out, k)
		}
	}
	return out
}

func gunzip(t *testing.T, key string, body []byte) []byte {
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

func gz(t *testing.T, body string) string {
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

// rec is a record as the tests compare it: partition, key, value and headers,
// with null shown as null and bytes quoted.
type rec struct {
	P int32
	K string
	V string
	H string
}

func show(b []byte) string {
	if b == nil {
		return "null"
	}
	return strconv.Quote(string(b))
}

func project(r *record.Record) rec {
	hs := make([]string, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = h.Key + "=" + show(h.Value)
	}
	return rec{P: r.Partition, K: show(r.Key), V: show(r.Value), H: strings.Join(hs, ",")}
}

// projectAll flattens records into partition order, keeping each partition's order.
func projectAll(recs []record.Record) []rec {
	out := make([]rec, 0, len(recs))
	for i := range recs {
		out = append(out, project(&recs[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].P < out[j].P })
	return out
}

// topicRecords returns every committed record of topic, in partition then offset
// order, as the tests compare them.
func (e *env) topicRecords(topic string) []rec {
	e.t.Helper()
	byP, err := e.cluster.ReadAll(e.ctx, topic)
	if err != nil {
		e.t.Fatalf("read %s: %v", topic, err)
	}
	var all []record.Record
	for _, recs := range byP {
		all = append(all, recs...)
	}
	return projectAll(all)
}

// partitions returns the partition count of every topic of the cluster. It asks
// a fresh client: kadm caches the topic list for MetadataMinAge (5 s), so the
// client that just created a topic may not list it yet.
func (e *env) partitions() map[string]int {
	e.t.Helper()
	kc, err := kafka.Dial(e.ctx, e.cluster.Config())
	if err != nil {
		e.t.Fatal(err)
	}
	defer kc.Close()
	ts, err := kc.Topics(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for name, info := range ts {
		out[name] = info.Partitions
	}
	return out
}

// mkRecs builds n records for topic/partition; value i is {"n":i}, key k<i>, and
// one header h=<i>.
func mkRecs(topic string, p int32, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Headers: []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}}
	}
	return out
}

func wantErrContains(t *testing.T, err error, target error, parts ...string) {
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
