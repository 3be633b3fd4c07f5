package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// Tests of issue 16: data loss and wrong success around lineages, overlaps,
// added partitions and interrupted migrations.

// produceTxnLayout writes 3 records in a committed transaction, 2 in an
// aborted one, 3 committed and 1 plain into topic/0: 7 records whose offsets
// (0-2, 7-9, 11) are not contiguous. It returns their values.
func produceTxnLayout(t *testing.T, ctx context.Context, c *kafkatest.Cluster, topic string) []string {
	t.Helper()
	var want []string
	n := 0
	batch := func(k int) []record.Record {
		var out []record.Record
		for range k {
			out = append(out, record.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", n), Value: fmt.Appendf(nil, `{"n":%d}`, n)})
			n++
		}
		return out
	}
	for i, commit := range []bool{true, false, true} {
		recs := batch(map[bool]int{true: 3, false: 2}[commit])
		if err := c.ProduceTxn(ctx, fmt.Sprintf("layout-%d", i), recs, commit); err != nil {
			t.Fatal(err)
		}
		if commit {
			for _, r := range recs {
				want = append(want, string(r.Value))
			}
		}
	}
	plain := batch(1)
	if err := c.Produce(ctx, plain); err != nil {
		t.Fatal(err)
	}
	return append(want, string(plain[0].Value))
}

func partitionValues(t *testing.T, ctx context.Context, c *kafkatest.Cluster, topic string, p int32) []string {
	t.Helper()
	var out []string
	for _, r := range readPartitions(t, ctx, c, topic)[p] {
		out = append(out, string(r.Value))
	}
	return out
}

// TestImportOverlapWithOffsetGaps (16.2): a topic with transactions exported
// twice into one bucket, with --flush-size 2 and then 3, imports as its 7
// records (main imported 8 and said the overlap was skipped); the same bucket
// without kferry's offsets records (as the Confluent connector leaves it) is
// refused with one line naming both objects, exit 1.
func TestImportOverlapWithOffsetGaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, brokers := newCluster(t, map[string]int32{"tx": 1})
	want := produceTxnLayout(t, ctx, src, "tx")
	url, dir := fileURL(t)
	for _, flush := range []string{"2", "3"} {
		mustSucceed(t, kferry(t, runOpts{}, "export", "--brokers", brokers, "--topics", "tx", "--to", url, "--flush-size", flush, "--store-keys"))
	}
	dst, dstBrokers := newCluster(t, nil)
	r := kferry(t, runOpts{}, "import", "--from", url, "--brokers", dstBrokers)
	mustSucceed(t, r)
	if got := partitionValues(t, ctx, dst, "tx", 0); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("imported %d records %v, want the %d of the source %v\n%s", len(got), got, len(want), want, r)
	}

	if err := os.RemoveAll(filepath.Join(dir, "_kferry", "offsets")); err != nil {
		t.Fatal(err)
	}
	blind, blindBrokers := newCluster(t, nil)
	r = kferry(t, runOpts{}, "import", "--from", url, "--brokers", blindBrokers)
	wantError(t, r, 1, "overlapping objects", "tx+0+0000000000.json", "tx+0+0000000002.json", "--contiguous-offsets")
	if got := partitionValues(t, ctx, blind, "tx", 0); len(got) != 0 {
		t.Errorf("%d records written before the refusal, want none: %v", len(got), got)
	}
}
