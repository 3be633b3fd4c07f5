package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	sourceTopic = "source-topic-1"
	sinkTopic   = "sink-topic-1"
	rename      = `source-topic-(\d)=sink-topic-$1`
)

// jsonValue is a compact JSON value (JsonFormat writes values compacted, so a
// compact value comes back byte for byte) with escapes, non-ASCII text, numbers
// in exponent form, nesting and null.
func jsonValue(p int32, i int) string {
	return fmt.Sprintf(`{"id":%d,"partition":%d,"text":"h\u00e9llo \"w\u00f6rld\" ✓ tab\tend","tags":["a","b"],"n":1.5e3,"nested":{"ok":true,"none":null}}`, i, p)
}

// interopBatches are the kcat producer runs of the interop tests: several
// partitions (some left empty), several objects per partition with --flush-size
// 5, headers that vary per run (null, empty, repeated, '=' in a value, Unicode),
// and, with bytes, values that are not JSON (text, empty).
func interopBatches(withBytes bool) []batch {
	var out []batch
	records := func(p int32, n, from int) [][2]string {
		var rs [][2]string
		for i := from; i < from+n; i++ {
			rs = append(rs, [2]string{fmt.Sprintf("key-%d-%d-ü", p, i), jsonValue(p, i)})
		}
		return rs
	}
	out = append(out,
		batch{partition: 0, headers: []header{{"trace", str("t-0-a")}, {"source", str("kcat")}}, records: records(0, 12, 0)},
		batch{partition: 0, headers: []header{{"nullhdr", nil}, {"empty", str("")}, {"dup", str("1")}, {"dup", str("2")}, {"eq", str("a=b")}}, records: records(0, 5, 12)},
		batch{partition: 3, records: records(3, 1, 0)},
		batch{partition: 4, headers: []header{{"h", str("ünïcödé ✓")}}, records: records(4, 30, 0)},
		batch{partition: 8, headers: []header{{"trace", str("t-8")}}, records: records(8, 7, 0)},
	)
	if withBytes {
		out = append(out, batch{partition: 8, headers: []header{{"kind", str("text")}}, records: [][2]string{
			{"text-1", "plain text, not JSON: 42"},
			{"text-2", `a "quoted" \ backslash`},
			{"text-3", ""},
			{"text-4", "{not json either"},
		}})
	}
	return out
}

// TestKcatInterop is the acceptance: kcat produces keyed records with
// headers, kferry exports them to S3 (through the AWS SDK over HTTP) and imports
// them renamed, and kcat consumes the renamed topic: partitions, order, keys,
// values and headers are identical.
func TestKcatInterop(t *testing.T) {
	needKcat(t)
	needS3(t)
	for _, tc := range []struct {
		format, ext string
	}{
		{"json", ".json"},
		{"bytes", ".bin"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			c, brokers := newCluster(t, map[string]int32{sourceTopic: 9})
			want := kcatProduce(t, brokers, sourceTopic, interopBatches(tc.format == "bytes"))
			kcatReadBack(t, c, brokers, sourceTopic, want)

			bucket := createBucket(t)
			r := kferry(t, runOpts{env: rootEnv()}, "export", "--brokers", brokers, "--topics", sourceTopic,
				"--format", tc.format, "--store-keys", "--store-headers", "--flush-size", "5", "--to", s3URL(bucket))
			mustSucceed(t, r)
			if !strings.Contains(r.stdout, fmt.Sprintf("total: %d records", count(want))) {
				t.Errorf("export summary does not say %d records:\n%s", count(want), r.stdout)
			}
			keys := listObjects(t, bucket)
			for _, k := range []string{
				"topics/source-topic-1/partition=0/source-topic-1+0+0000000000" + tc.ext,
				"topics/source-topic-1/partition=0/source-topic-1+0+0000000015" + tc.ext,
				"topics/source-topic-1/partition=0/source-topic-1+0+0000000015.keys" + tc.ext,
				"topics/source-topic-1/partition=0/source-topic-1+0+0000000015.headers.json",
				"topics/source-topic-1/partition=3/source-topic-1+3+0000000000" + tc.ext,
				"topics/source-topic-1/partition=4/source-topic-1+4+0000000025" + tc.ext,
			} {
				if !slices.Contains(keys, k) {
					t.Errorf("bucket lacks %s; it holds:\n%s", k, strings.Join(keys, "\n"))
				}
			}
			for _, k := range keys {
				if strings.Contains(k, "partition=1/") || strings.Contains(k, "partition=7/") {
					t.Errorf("object %s for a partition that had no records", k)
				}
			}

			r = kferry(t, runOpts{env: rootEnv()}, "import", "--brokers", brokers, "--from", s3URL(bucket), "--rename", rename)
			mustSucceed(t, r)
			// Apache Kafka writes a transaction's markers just after it
			// answers EndTxn; import exits after its last EndTxn, and its
			// objects may share that one transaction.
			waitStable(t, c.Config(), sinkTopic)
			got := kcatConsume(t, brokers, sinkTopic)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kcat reads %s differently from what it produced into %s (-want +got):\n%s", sinkTopic, sourceTopic, diff)
			}
		})
	}
}

// kcatReadBack checks that kcat reads back what it produced, before kferry
// runs. On a mismatch it reads the topic again with kcat and with kferry's own
// reader, so that the failure tells records the brokers lost from a short read
// by kcat (once seen in CI on Apache Kafka 3.9.2: part of one partition
// missing, the cause not known); a second kcat read that matches is logged.
func kcatReadBack(t *testing.T, c cluster, brokers, topic string, want map[int32][]msg) {
	t.Helper()
	diff := cmp.Diff(want, kcatConsume(t, brokers, topic))
	if diff == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := c.ReadAll(ctx, topic)
	heldCounts := map[int32]int{}
	for p, rs := range held {
		heldCounts[p] = len(rs)
	}
	again := kcatConsume(t, brokers, topic)
	if cmp.Diff(want, again) == "" {
		t.Logf("kcat's first read of %s was short, a second one matches; kferry's reader held %v records per partition (err %v); the first diff (-want +got):\n%s",
			topic, heldCounts, err, diff)
		return
	}
	t.Fatalf("kcat did not read back what it produced into %s: records per partition: produced %v, kcat read %v, kferry's reader %v (err %v) (-want +got):\n%s",
		topic, counts(want), counts(again), heldCounts, err, diff)
}

// counts is the number of records per partition.
func counts(m map[int32][]msg) map[int32]int {
	out := map[int32]int{}
	for p, ms := range m {
		out[p] = len(ms)
	}
	return out
}

func count(m map[int32][]msg) int {
	n := 0
	for _, ms := range m {
		n += len(ms)
	}
	return n
}
