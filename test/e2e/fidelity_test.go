package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// fidelitySource fills a cluster with the records whose offsets are not
// contiguous: "compacted" (cleanup.policy=compact, compacted into offset
// gaps, a tombstone kept) and "txn" (plain records between an aborted and a
// committed transaction, and an aborted one last: offsets taken by aborted
// records and markers), each record stamped base + its batch's seconds. Group
// offsets point into the gaps: at compacted-away records, at an aborted
// record, at markers and at the end.
// (Longer than 80 lines on purpose: the fixture is one literal description
// of the data, record by record.)
func fidelitySource(t *testing.T, base time.Time) *source {
	t.Helper()
	c, brokers := newCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

	// One produce call per batch, and on Kafka one segment per batch
	// (segment.ms far below the second between the batches' timestamps): the
	// log cleaner then compacts all batches but the last, as kfake does.
	if err := c.CreateTopicConfigs(ctx, "compacted", 1, map[string]string{"cleanup.policy": "compact", "segment.ms": "100"}); err != nil {
		t.Fatal(err)
	}
	for i, batch := range [][]string{{"k1=a", "k2=a", "k3=a"}, {"k1=b", "k4=a"}, {"k2=", "k5=a"}, {"k1=c"}, {"k9=a"}} {
		var recs []record.Record
		for _, kv := range batch {
			k, v, _ := strings.Cut(kv, "=")
			rec := record.Record{Topic: "compacted", Key: []byte(k), Timestamp: at(i), Headers: []record.Header{{Key: "batch", Value: []byte(strconv.Itoa(i))}}}
			if v != "" {
				rec.Value = []byte(v) // else a tombstone
			}
			recs = append(recs, rec)
		}
		if err := c.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	// k1, k2 (superseded by its tombstone) and k1 again go: offsets 0, 1, 3.
	if err := c.Compact(ctx, "compacted", 6); err != nil {
		t.Fatal(err)
	}

	if err := c.CreateTopic(ctx, "txn", 1); err != nil {
		t.Fatal(err)
	}
	txnRecs := func(sec int, vals ...string) []record.Record {
		var out []record.Record
		for _, v := range vals {
			out = append(out, record.Record{Topic: "txn", Key: []byte("k-" + v), Value: []byte(v), Timestamp: at(sec)})
		}
		return out
	}
	steps := []struct {
		recs []record.Record
		txn  string // "" plain
		end  bool   // commit
	}{
		{txnRecs(0, "plain-0", "plain-1"), "", false},         // offsets 0, 1
		{txnRecs(2, "aborted-0", "aborted-1"), "a", false},    // 2, 3, abort marker 4
		{txnRecs(3, "committed-0", "committed-1"), "c", true}, // 5, 6, commit marker 7
		{txnRecs(4, "plain-2"), "", false},                    // 8
		{txnRecs(5, "aborted-2"), "z", false},                 // 9, abort marker 10
	}
	for i, st := range steps {
		var err error
		if st.txn == "" {
			err = c.Produce(ctx, st.recs)
		} else {
			err = c.ProduceTxn(ctx, fmt.Sprintf("fidelity-%s-%d", st.txn, i), st.recs, st.end)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	offs := []kafka.GroupOffset{
		{Group: "compacted-gone", Topic: "compacted", Offset: 1}, // compacted away: lands on k3 (offset 2)
		{Group: "compacted-tomb", Topic: "compacted", Offset: 5}, // the tombstone
		{Group: "compacted-end", Topic: "compacted", Offset: 9},  // the end
		{Group: "txn-aborted", Topic: "txn", Offset: 2},          // an aborted record: lands on committed-0
		{Group: "txn-abort-marker", Topic: "txn", Offset: 4},     // the abort marker: committed-0
		{Group: "txn-commit-marker", Topic: "txn", Offset: 7},    // the commit marker: plain-2
		{Group: "txn-last-abort", Topic: "txn", Offset: 10},      // the last abort marker: the end
		{Group: "txn-end", Topic: "txn", Offset: 11},             // the end
	}
	commitPlain(t, ctx, c, offs)
	s := &source{c: c, brokers: brokers, partitions: 1, groups: map[string]map[string]map[int32]int64{}}
	for _, o := range offs {
		s.groups[o.Group] = map[string]map[int32]int64{o.Topic: {0: o.Offset}}
	}
	s.records = readTopics(t, c.Config(), []string{"compacted", "txn"})
	for topic, want := range map[string][]int64{"compacted": {2, 4, 5, 6, 7, 8}, "txn": {0, 1, 5, 6, 8}} {
		var got []int64
		for _, r := range s.records[topic][0] {
			got = append(got, r.Offset)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("source %s holds offsets %v, want %v", topic, got, want)
		}
		s.total += len(got)
	}
	return s
}

// TestBackupRestoreFidelity: a backup of a compacted topic and of one with
// aborted and committed transactions restores record for record (keys,
// tombstone, headers, timestamps), with each group offset on the same record
// although the offsets differ (compaction gaps, markers); verify compares the
// backup with the live topics; --until restores the records up to a time.
func TestBackupRestoreFidelity(t *testing.T) {
	t.Parallel()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	src := fidelitySource(t, base)
	url, _ := fileURL(t)
	r := kferry(t, runOpts{}, "backup", "--brokers", src.brokers, "--to", url, "--flush-size", "2")
	mustSucceed(t, r)
	id := backupID(t, r)

	v := kferry(t, runOpts{}, "verify", url, "--brokers", src.brokers)
	mustSucceed(t, v)
	if want := fmt.Sprintf("%d records compared with the cluster", src.total); !strings.Contains(v.stdout, "backup "+id+":") || !strings.Contains(v.stdout, want) {
		t.Errorf("verify --brokers does not say %q:\n%s", want, v)
	}

	target, brokers := newCluster(t, nil)
	mustSucceed(t, kferry(t, runOpts{}, "restore", "--from", url, "--brokers", brokers))
	// On Apache Kafka the last transaction's markers may land just after
	// restore exits; read_committed sees its records then.
	waitStable(t, target.Config(), "compacted", "txn")
	got := readTopics(t, target.Config(), []string{"compacted", "txn"})
	for _, problem := range compareRecords(src.records, got) {
		t.Error(problem)
	}
	checkGroups(t, src, target.Config(), got)

	// Point in time, into the source under new names: everything before the
	// first record stamped after base+3.5 s, so neither k9 nor plain-2.
	until := base.Add(3500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	mustSucceed(t, kferry(t, runOpts{}, "restore", "--from", url, "--brokers", src.brokers, "--until", until,
		"--rename", "(compacted|txn)=$1-pit", "--groups", "none"))
	waitStable(t, src.c.Config(), "compacted-pit", "txn-pit")
	pit := readTopics(t, src.c.Config(), []string{"compacted-pit", "txn-pit"})
	for topic, want := range map[string]string{"compacted-pit": "k3 k4 k2 k5 k1", "txn-pit": "k-plain-0 k-plain-1 k-committed-0 k-committed-1"} {
		var keys []string
		for _, r := range pit[topic][0] {
			keys = append(keys, string(r.Key))
		}
		if strings.Join(keys, " ") != want {
			t.Errorf("restore --until %s: %s holds %v, want %s", until, topic, keys, want)
		}
	}
}
