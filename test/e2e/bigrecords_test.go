package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/pkg/record"
)

// TestBigRecordsShortTimeout imports records of 900 KiB, one produce request
// each, with --timeout 1s, three times. On a busy machine Apache Kafka can
// leave such a write unacknowledged for more than a second while it is
// healthy: the produce watchdog then takes it for a stall and the partition
// starts over from its committed progress. That may cost time but not the
// run: each must exit 0 and leave every record on the target exactly once.
//
// It needs Apache Kafka. On kfake, the transactions a stall aborts here (up
// to 9 MiB: an object of ten such records, fenced by the restarted writer)
// showed as committed to a read_committed reader in 2 of 10 kfake runs of the
// suite (10 extra records per stalled partition); Apache Kafka never did. A
// plain aborted transaction larger than a fetch reads right on both
// (TestLargeAbortedTransactionNotExported), and
// TestStalledTransactionNeverVisible (internal/kafka) checks kferry's side of
// a stall on kfake.
func TestBigRecordsShortTimeout(t *testing.T) {
	if !brokers.real() {
		t.Skip("needs Apache Kafka (KFERRY_TEST_KAFKA=1, as `make test` sets): on kfake the transactions a stall aborts can show as committed")
	}
	t.Parallel()
	c, brokers := newCluster(t, map[string]int32{"big": 3})
	const perPart = 40
	var recs []record.Record
	for p := range int32(3) {
		for i := range perPart {
			v := make([]byte, 900<<10)
			copy(v, fmt.Sprintf("%d-%d-", p, i))
			recs = append(recs, record.Record{Topic: "big", Partition: p, Value: v})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	mustSucceed(t, kferry(t, runOpts{timeout: 3 * time.Minute}, "export", "--brokers", brokers, "--topics", "big", "--to", url, "--format", "bytes", "--flush-size", "10"))
	stalls := 0
	const imports = 3
	for run := range imports {
		dst := fmt.Sprintf("big%d", run)
		r := kferry(t, runOpts{timeout: 3 * time.Minute}, "import", "--from", url, "--brokers", brokers, "--rename", "big="+dst, "--timeout", "1s", "--parallelism", "3")
		mustSucceed(t, r)
		stalls += strings.Count(r.stderr, "produce stalled")
		waitStable(t, c.Config(), dst) // Apache Kafka writes the last commit's markers just after import exits
		for p, got := range readTopics(t, c.Config(), []string{dst})[dst] {
			if len(got) != perPart {
				t.Errorf("%s/%d: %d records, want %d", dst, p, len(got), perPart)
				continue
			}
			for i := range got {
				if want := fmt.Sprintf("%d-%d-", p, i); !bytes.HasPrefix(got[i].Value, []byte(want)) || len(got[i].Value) != 900<<10 {
					t.Errorf("%s/%d: record %d starts %q (%d bytes), want %q", dst, p, i, got[i].Value[:min(len(got[i].Value), 12)], len(got[i].Value), want)
					break
				}
			}
		}
	}
	t.Logf("%d imports of %d records of 900 KiB with --timeout 1s: %d partitions started over on a stall", imports, len(recs), stalls)
}
