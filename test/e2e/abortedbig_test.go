package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// TestLargeAbortedTransactionNotExported: a partition holds committed
// records around aborted transactions of 3 MiB, larger than one fetch of
// kferry's reader (1 MiB); export must carry the committed records only, and
// the test's own read_committed reader must agree.
func TestLargeAbortedTransactionNotExported(t *testing.T) {
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"abig": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	big := bytes.Repeat([]byte("x"), 1000)
	batch := func(tag string, n int) []record.Record {
		recs := make([]record.Record, n)
		for i := range recs {
			recs[i] = record.Record{Topic: "abig", Value: append(fmt.Appendf(nil, "%s-%d-", tag, i), big...)}
		}
		return recs
	}
	want := 0
	for i, step := range []struct {
		tag    string
		n      int
		commit bool
	}{{"c0", 10, true}, {"a1", 3000, false}, {"c2", 10, true}, {"a3", 3000, false}, {"a4", 3000, false}, {"c5", 10, true}} {
		if err := c.ProduceTxn(ctx, "abig-"+strconv.Itoa(i), batch(step.tag, step.n), step.commit); err != nil {
			t.Fatal(err)
		}
		if step.commit {
			want += step.n
		}
	}
	check := func(what string, recs []record.Record) {
		t.Helper()
		if len(recs) != want {
			t.Errorf("%s: %d records, want the %d committed ones", what, len(recs), want)
		}
		for _, r := range recs {
			if r.Value[0] != 'c' {
				t.Errorf("%s: an aborted record at offset %d (%.6s…)", what, r.Offset, r.Value)
				break
			}
		}
	}
	got := readTopics(t, c.Config(), []string{"abig"})["abig"][0]
	check("read_committed reader", got)
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{timeout: 2 * time.Minute}, "export", "--brokers", brokers, "--topics", "abig", "--to", url, "--format", "native"))
	dst, dstBrokers := newCluster(t, nil)
	mustSucceed(t, kferry(t, runOpts{timeout: 2 * time.Minute}, "import", "--from", url, "--brokers", dstBrokers))
	waitStable(t, dst.Config(), "abig") // the last transaction's markers follow import's exit on Apache Kafka
	check("export then import", readTopics(t, dst.Config(), []string{"abig"})["abig"][0])
}
