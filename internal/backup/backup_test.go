package backup_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/backup"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/record"
)

// roundTripSource fills the source cluster with every shape of data a full-
// fidelity backup must keep, and returns the topics with the partition count
// each has. Timestamps lie within the last 30 days: kfake's Compact also applies
// the default 7-day retention to every topic, by each batch's newest timestamp.
// (Longer than 80 lines on purpose: the fixture is one literal description
// of the data, record by record.)
func roundTripSource(t *testing.T, e *testkit.Env) map[string]int {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	base := now.Add(-time.Hour)
	r := rand.New(rand.NewChaCha8([32]byte{7}))
	binary := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return append(b, 0xff, 0xfe, 0x00) // never valid UTF-8
	}

	// shapes: null keys, tombstones, empty values, binary keys and values,
	// duplicate, binary and hyphenated header keys with null and empty values.
	// Partition 2 stays empty.
	e.CreateTopic("shapes", 3)
	var shapes []record.Record
	for i := range 12 {
		rec := record.Record{Topic: "shapes", Partition: int32(i % 2), Timestamp: testkit.Ms(base, time.Duration(i)*time.Second),
			Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "value-%d", i)}
		switch i % 6 {
		case 0:
			rec.Key = nil
		case 1:
			rec.Value = nil
		case 2:
			rec.Value = []byte{}
		case 3:
			rec.Key, rec.Value = binary(8), binary(40)
		case 4:
			rec.Key = []byte{}
		}
		rec.Headers = []record.Header{
			{Key: "dup", Value: []byte("first")}, {Key: "dup", Value: []byte("second")},
			{Key: "content-type", Value: []byte("application/x-kferry")},
			{Key: "null-value", Value: nil}, {Key: "empty-value", Value: []byte{}},
			{Key: "bin\xff\x00key", Value: binary(5)},
		}
		if i%4 == 3 {
			rec.Headers = nil
		}
		shapes = append(shapes, rec)
	}
	e.Produce(shapes...)

	// big: records of 900 KiB, between small ones.
	e.CreateTopic("big", 1)
	for _, n := range []int{10, 900 << 10, 900 << 10, 3} {
		e.Produce(record.Record{Topic: "big", Key: []byte("k"), Value: binary(n), Timestamp: testkit.Ms(base, time.Minute)})
	}

	// spread: timestamps more than 25 days apart inside one batch (int32
	// milliseconds overflow after 24.8 days), out of order too.
	e.CreateTopic("spread", 1)
	spread := []time.Duration{-30 * 24 * time.Hour, 0, -26 * 24 * time.Hour, -time.Millisecond, -29 * 24 * time.Hour}
	var batch []record.Record
	for i, d := range spread {
		batch = append(batch, record.Record{Topic: "spread", Value: fmt.Appendf(nil, "s%d", i), Timestamp: testkit.Ms(now, d)})
	}
	if err := e.Cluster.ProduceBatch(e.Ctx, batch); err != nil {
		t.Fatal(err)
	}

	// compacted: duplicate keys in four batches, compacted into offset gaps.
	e.CreateTopicConfigs("compacted", 1, map[string]string{"cleanup.policy": "compact"})
	for _, b := range [][]string{{"k1=a", "k2=a", "k3=a"}, {"k1=b", "k4=a"}, {"k2=", "k5=a"}, {"k1=c"}, {"k9=a"}} {
		var recs []record.Record
		for _, kv := range b {
			k, v, _ := strings.Cut(kv, "=")
			rec := record.Record{Topic: "compacted", Key: []byte(k), Timestamp: testkit.Ms(base, 2*time.Minute)}
			if v != "" {
				rec.Value = []byte(v) // else a tombstone
			}
			recs = append(recs, rec)
		}
		e.Produce(recs...) // one produce call, one batch: the last batch is never compacted
	}
	e.Cluster.Compact()

	// txn: aborted and committed transactions between plain records.
	e.CreateTopic("txn", 1)
	txnRecs := func(vals ...string) []record.Record {
		var out []record.Record
		for _, v := range vals {
			out = append(out, record.Record{Topic: "txn", Value: []byte(v), Timestamp: testkit.Ms(base, 3*time.Minute)})
		}
		return out
	}
	e.Produce(txnRecs("plain-0", "plain-1")...)
	for i, step := range []struct {
		vals   []string
		commit bool
	}{{[]string{"aborted-0", "aborted-1"}, false}, {[]string{"committed-0", "committed-1"}, true}} {
		if err := e.Cluster.ProduceTxn(e.Ctx, fmt.Sprintf("rt-txn-%d", i), txnRecs(step.vals...), step.commit); err != nil {
			t.Fatal(err)
		}
	}
	e.Produce(txnRecs("plain-2")...)
	if err := e.Cluster.ProduceTxn(e.Ctx, "rt-txn-last", txnRecs("aborted-2"), false); err != nil {
		t.Fatal(err)
	}

	// wide: 400 partitions of 0, 1 or 2 records.
	e.CreateTopic("wide", 400)
	var wide []record.Record
	for p := range int32(400) {
		for i := range int(p % 3) {
			wide = append(wide, record.Record{Topic: "wide", Partition: p, Key: fmt.Appendf(nil, "%d", p), Value: fmt.Appendf(nil, "w%d-%d", p, i), Timestamp: testkit.Ms(base, time.Duration(p)*time.Millisecond)})
		}
	}
	e.Produce(wide...)
	return map[string]int{"shapes": 3, "big": 1, "spread": 1, "compacted": 1, "txn": 1, "wide": 400}
}

// TestBackupRestoreRoundTrip backs up every shape of data and restores it into a
// second, fresh Cluster: the records compare equal field by field (key, value,
// headers in order, timestamp) partition by partition, in order.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "file")
	topics := roundTripSource(t, e)

	// The source holds what the cases promise, or the test proves nothing.
	src := map[string]map[int32][]record.Record{}
	for topic := range topics {
		src[topic] = testkit.ReadTopic(t, e.Ctx, e.Cluster.Config(), topic)
	}
	if got, want := testkit.OffsetsOf(src["compacted"][0]), []int64{2, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Fatalf("compacted offsets after Compact = %v, want %v (gaps)", got, want)
	}
	var txnVals []string
	for _, r := range src["txn"][0] {
		txnVals = append(txnVals, string(r.Value))
	}
	if want := []string{"plain-0", "plain-1", "committed-0", "committed-1", "plain-2"}; !slices.Equal(txnVals, want) {
		t.Fatalf("committed txn records = %v, want %v", txnVals, want)
	}
	if n := len(src["shapes"][2]); n != 0 {
		t.Fatalf("shapes/2 holds %d records, want an empty partition", n)
	}

	s, m, err := e.Backup(backup.BackupOptions{FlushSize: 3, Parallelism: 16})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	var total int64
	for topic, byP := range src {
		for p, recs := range byP {
			total += int64(len(recs))
			mp := testkit.PartitionOf(t, m, topic, p)
			if mp.Records != int64(len(recs)) {
				t.Errorf("manifest %s/%d: %d records, want %d", topic, p, mp.Records, len(recs))
			}
			if len(mp.Gaps) != 0 {
				t.Errorf("manifest %s/%d: gaps %+v, want none (compaction and markers are not lost data)", topic, p, mp.Gaps)
			}
		}
	}
	if s.Records != total {
		t.Errorf("backup summary: %d records, want %d", s.Records, total)
	}
	if mp := testkit.PartitionOf(t, m, "txn", 0); mp.EndOffset != 11 {
		t.Errorf("txn/0 end offset %d, want 11 (past the last abort marker)", mp.EndOffset)
	}
	if mt := m.Topic("wide"); mt == nil || mt.Partitions != 400 || len(mt.Partition) != 400 {
		t.Fatalf("manifest topic wide = %d partitions with %d entries, want 400", mt.Partitions, len(mt.Partition))
	}
	if mp := testkit.PartitionOf(t, m, "shapes", 2); len(mp.Objects) != 0 || mp.Records != 0 {
		t.Errorf("shapes/2: %d objects, %d records, want none", len(mp.Objects), mp.Records)
	}

	tg := e.NewTarget()
	rs := e.MustRestore(tg, backup.RestoreOptions{Parallelism: 16})
	if rs.Records != total {
		t.Errorf("restore summary: %d records, want %d", rs.Records, total)
	}
	for _, topic := range testkit.SortedKeys(topics) {
		testkit.WantSameTopic(t, e, tg, topic, topic)
	}
	for _, r := range testkit.ReadTopic(t, e.Ctx, tg.Cluster.Config(), "txn")[0] {
		if strings.HasPrefix(string(r.Value), "aborted") {
			t.Errorf("aborted record %q was restored", r.Value)
		}
	}
	// Verify compares every record's content with the target too (wide, compared
	// above, is left out: verify reads it one client per partition, which is slow).
	narrow := slices.DeleteFunc(testkit.SortedKeys(topics), func(t string) bool { return t == "wide" })
	rep, err := backup.Verify(e.Ctx, e.B, backup.VerifyOptions{Kafka: tg.KC, Topics: narrow})
	if err != nil {
		t.Fatalf("verify against the target: %v (%v)", err, rep.Problems)
	}
	if want := total - wideRecords(src["wide"]); rep.Compared != want {
		t.Errorf("verify compared %d records, want %d", rep.Compared, want)
	}
}

// TestRestoreRecreatesTopicConfigs: topic configs set on the source and the
// partition counts are recreated on the target.
func TestRestoreRecreatesTopicConfigs(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	want := map[string]map[string]string{
		"logs":  {"retention.ms": "1209600000", "max.message.bytes": "2097152"},
		"state": {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000", "segment.bytes": "104857600"},
		"plain": {},
	}
	parts := map[string]int32{"logs": 5, "state": 2, "plain": 1}
	for topic, cfg := range want {
		e.CreateTopicConfigs(topic, parts[topic], cfg)
	}
	e.Produce(record.Record{Topic: "logs", Partition: 4, Value: []byte("x")}, record.Record{Topic: "state", Key: []byte("k"), Value: []byte("v")})
	m := e.MustBackup(backup.BackupOptions{})
	for topic, cfg := range want {
		if diff := cmp.Diff(cfg, m.Topic(topic).Configs, cmpEmptyMap); diff != "" {
			t.Errorf("manifest configs of %s (-want +got):\n%s", topic, diff)
		}
	}

	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	got, err := tg.KC.DescribeTopics(e.Ctx, []string{"logs", "state", "plain"})
	if err != nil {
		t.Fatal(err)
	}
	for topic, cfg := range want {
		if got[topic].Partitions != int(parts[topic]) {
			t.Errorf("%s: %d partitions on the target, want %d", topic, got[topic].Partitions, parts[topic])
		}
		if diff := cmp.Diff(cfg, got[topic].Configs, cmpEmptyMap); diff != "" {
			t.Errorf("configs of %s on the target (-want +got):\n%s", topic, diff)
		}
	}
}

// TestRestoreRecordsAboveOneMiB: a topic whose max.message.bytes allows records
// larger than Kafka's default 1 MiB restores them (the restore's producer sizes
// its batches to the topic, not to its own default).
func TestRestoreRecordsAboveOneMiB(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopicConfigs("huge", 1, map[string]string{"max.message.bytes": "4194304"})
	big := record.Record{Topic: "huge", Key: []byte("big"), Value: make([]byte, 3<<20), Timestamp: time.Now().Truncate(time.Millisecond)}
	for i := range big.Value {
		big.Value[i] = byte(i * 7)
	}
	if err := e.Cluster.ProduceBatch(e.Ctx, []record.Record{big}); err != nil {
		t.Fatal(err)
	}
	e.Produce(testkit.Records("huge", 0, 50)...)
	e.MustBackup(backup.BackupOptions{})
	tg := e.NewTarget()
	e.MustRestore(tg, backup.RestoreOptions{})
	if src := testkit.WantSameTopic(t, e, tg, "huge", "huge"); len(src[0]) != 51 {
		t.Errorf("source holds %d records, want 51", len(src[0]))
	}
}

// cmpEmptyMap makes nil and empty config maps equal.
var cmpEmptyMap = cmp.Comparer(func(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
})

func wideRecords(byP map[int32][]record.Record) int64 {
	var n int64
	for _, recs := range byP {
		n += int64(len(recs))
	}
	return n
}
