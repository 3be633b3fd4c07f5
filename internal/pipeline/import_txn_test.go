package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
)

// objectKey is the Confluent name of topic's object at start in partition p.
func objectKey(topic string, p int32, start int64) string {
	return fmt.Sprintf("topics/%s/partition=%d/%s+%d+%010d.json", topic, p, topic, p, start)
}

// putObjects writes, per partition, objects of per records each, starting at
// offset from, as JSON strings "p<P>-<offset>"; it returns the records the
// target must hold for [0, upTo).
func putObjects(e *testkit.Env, topic string, partitions int32, from, upTo, per int64) {
	e.T.Helper()
	// Objects of a partition become visible in offset order, as exporters
	// write them: a continuous import may scan between two puts.
	for p := range partitions {
		for start := from; start < upTo; start += per {
			var body strings.Builder
			for off := start; off < min(start+per, upTo); off++ {
				fmt.Fprintf(&body, "\"p%d-%d\"\n", p, off)
			}
			e.Put(map[string]string{objectKey(topic, p, start): body.String()})
		}
	}
}

// wantRecs is what putObjects(topic, partitions, 0, n, _) imports.
func wantRecs(partitions int32, n int64) []testkit.Rec {
	var out []testkit.Rec
	for p := range partitions {
		for off := range n {
			out = append(out, liveRec(p, off))
		}
	}
	return out
}

// liveRec is the record putObjects writes at offset off of partition p, as
// topicRecords shows it.
func liveRec(p int32, off int64) testkit.Rec {
	return testkit.Rec{P: p, K: "null", V: strconv.Quote(fmt.Sprintf(`"p%d-%d"`, p, off))}
}

// cancelAfterObjects is a Progress that cancels the import after n objects committed,
// as a kill between two transactions would; committed counts the objects
// reported (a transaction may carry several, of several partitions).
type cancelAfterObjects struct {
	n         atomic.Int64
	committed atomic.Int64 // Add calls: objects, or transactions of several
	records   atomic.Int64 // records reported committed
	cancel    context.CancelFunc
}

func (c *cancelAfterObjects) Add(records, _ int64) {
	c.committed.Add(1)
	c.records.Add(records)
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
}

// TestImportKilledAndRerun: an import stopped between objects and run again
// writes every record once; a rerun of the finished import writes nothing (the
// target's end offsets do not move) and does not refuse the non-empty target.
func TestImportKilledAndRerun(t *testing.T) {
	e := testkit.New(t, "file")
	putObjects(e, "eo", 3, 0, 12, 3) // 4 objects per partition
	ctx, cancel := context.WithCancel(e.Ctx)
	stop := &cancelAfterObjects{cancel: cancel}
	stop.n.Store(5)
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, ReplicationFactor: -1, Parallelism: 1, Progress: stop, Logger: testkit.DiscardLogger()}
	_, err := pipeline.Import(ctx, e.KC, e.B, e.URL, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	// Objects commit with others of their transaction: at least the 5,
	// not all 12.
	committed := 3 * int(stop.committed.Load())
	if n := len(e.TopicRecords("eo")); n != committed || n < 15 || n == 36 {
		t.Fatalf("after the kill the target holds %d records, want the %d of the committed objects (15 ≤ n < 36)", n, committed)
	}
	o.Progress = nil
	s, err := e.ImportAll(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != int64(36-committed) {
		t.Errorf("rerun wrote %d records, want the %d left", s.Records, 36-committed)
	}
	if diff := cmp.Diff(wantRecs(3, 12), e.TopicRecords("eo")); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	before, err := e.KC.Ranges(e.Ctx, []string{"eo"})
	if err != nil {
		t.Fatal(err)
	}
	s, err = e.ImportAll(o)
	if err != nil {
		t.Fatalf("rerun of a finished import: %v", err)
	}
	after, err := e.KC.Ranges(e.Ctx, []string{"eo"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 0 || !cmp.Equal(before, after) {
		t.Errorf("rerun of a finished import wrote %d records; ranges %v → %v", s.Records, before, after)
	}
	// Another import (another progress group) still refuses the target.
	o.Group = "someone-else"
	if _, err := e.ImportAll(o); !errors.Is(err, pipeline.ErrTargetNotEmpty) {
		t.Errorf("import with another progress group: err = %v, want ErrTargetNotEmpty", err)
	}
}

// TestImportAtLeastOnce: the escape hatch imports and keeps the progress too.
func TestImportAtLeastOnce(t *testing.T) {
	e := testkit.New(t, "mem")
	putObjects(e, "alo", 2, 0, 6, 2)
	o := pipeline.ImportOptions{TopicsDir: "topics", CreateTopics: true, AtLeastOnce: true}
	if _, err := e.ImportAll(o); err != nil {
		t.Fatal(err)
	}
	s, err := e.ImportAll(o)
	if err != nil || s.Records != 0 {
		t.Fatalf("rerun: %d records, err %v; want 0, nil", s.Records, err)
	}
	if diff := cmp.Diff(wantRecs(2, 6), e.TopicRecords("alo")); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
}

// TestImportShards: shards 0/2 and 1/2 of one import share its progress group
// and together import each of 9 partitions exactly once.
func TestImportShards(t *testing.T) {
	e := testkit.New(t, "mem")
	putObjects(e, "sh", 9, 0, 4, 2)
	e.CreateTopic("sh", 9)
	owner := map[int32]string{}
	for _, shard := range []string{"0/2", "1/2"} {
		sh, err := pipeline.ParseShard(shard)
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.ImportAll(pipeline.ImportOptions{TopicsDir: "topics", Shard: sh, Group: "shared"})
		if err != nil {
			t.Fatalf("shard %s: %v", shard, err)
		}
		for _, ts := range s.Topics {
			for _, ps := range ts.Partitions {
				if prev, dup := owner[ps.Partition]; dup {
					t.Errorf("partition %d imported by shards %s and %s", ps.Partition, prev, shard)
				}
				owner[ps.Partition] = shard
			}
		}
	}
	if len(owner) != 9 {
		t.Errorf("shards imported %d partitions (%v), want 9", len(owner), owner)
	}
	if diff := cmp.Diff(wantRecs(9, 4), e.TopicRecords("sh")); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"2/2", "1", "-1/3", "a/b", "0/0"} {
		if _, err := pipeline.ParseShard(bad); !errors.Is(err, pipeline.ErrBadShard) {
			t.Errorf("ParseShard(%q) = %v, want ErrBadShard", bad, err)
		}
	}
}

// TestShardOwnsWithHugeCount: a shard count above 2^32 is not truncated (it
// once was to 32 bits, and 0/4294967297 then owned every partition).
func TestShardOwnsWithHugeCount(t *testing.T) {
	sh, err := pipeline.ParseShard("0/4294967297")
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for p := range int32(100) {
		if sh.Owns("t", p) {
			owned++
		}
	}
	if owned == 100 {
		t.Errorf("shard %s owns all 100 partitions", sh)
	}
}

// followRun runs ImportFollow in the background; scans counts the finished
// scans, and stop ends it and returns its error.
type followRun struct {
	scans atomic.Int64
	stop  func() (pipeline.Summary, error)
}

func importFollow(e *testkit.Env, o pipeline.ImportFollowOptions) *followRun {
	e.T.Helper()
	ctx, cancel := context.WithCancel(e.Ctx)
	fr := &followRun{}
	o.Logger = testkit.DiscardLogger()
	o.ReplicationFactor = -1
	o.PollInterval = 5 * time.Millisecond
	o.AfterScan = func(int) { fr.scans.Add(1) }
	type result struct {
		s   pipeline.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := pipeline.ImportFollow(ctx, e.KC, e.B, e.URL, o)
		done <- result{s, err}
	}()
	var once sync.Once
	var r result
	fr.stop = func() (pipeline.Summary, error) {
		once.Do(func() {
			cancel()
			r = <-done
		})
		return r.s, r.err
	}
	e.T.Cleanup(func() { _, _ = fr.stop() }) // a safety net: tests check the result when they stop it
	return fr
}

// scanned waits until a scan that began after the call has finished.
func (fr *followRun) scanned(t *testing.T) {
	t.Helper()
	want := fr.scans.Load() + 2 // the one running may have begun before the call
	deadline := time.Now().Add(20 * time.Second * testkit.RaceSlowdown)
	for fr.scans.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("no scan of the bucket within %s", 20*time.Second*testkit.RaceSlowdown)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising
	}
}

// waitRecords polls the target until it holds want, or fails after a deadline.
func waitRecords(e *testkit.Env, topic string, want []testkit.Rec) {
	e.T.Helper()
	deadline := time.Now().Add(20 * time.Second * testkit.RaceSlowdown)
	for {
		got := e.TopicRecords(topic)
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("target %s (-want +got):\n%s", topic, cmp.Diff(want, got))
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising
	}
}

// TestImportFollow: a continuous import picks up objects that appear later, in
// order; waits at a hole until the missing object appears; skips an object that
// appears below the progress; ignores fileblob's *.tmp files; and stops cleanly.
func TestImportFollow(t *testing.T) {
	e := testkit.New(t, "file")
	e.CreateTopic("live", 2)
	fr := importFollow(e, pipeline.ImportFollowOptions{ImportOptions: pipeline.ImportOptions{TopicsDir: "topics", Selector: plan.Selector{Names: nil}}})
	fr.scanned(t) // an empty bucket is not an error in follow mode

	putObjects(e, "live", 2, 0, 4, 2)
	waitRecords(e, "live", wantRecs(2, 4))

	// A hole: offsets 4..5 are missing, 6..7 must wait.
	e.Put(map[string]string{
		objectKey("live", 0, 6): "\"p0-6\"\n\"p0-7\"\n",
		"topics/live/partition=0/live+0+0000000004.json.18c0ffee12345678.tmp": "\"p0-4\"",
	})
	fr.scanned(t)
	fr.scanned(t)
	if got := len(e.TopicRecords("live")); got != 8 {
		t.Fatalf("imported past a hole: %d records, want 8", got)
	}
	e.Put(map[string]string{objectKey("live", 0, 4): "\"p0-4\"\n\"p0-5\"\n"})
	want := wantRecs(2, 4)
	want = append(want[:4:4], append([]testkit.Rec{
		liveRec(0, 4), liveRec(0, 5), liveRec(0, 6), liveRec(0, 7),
	}, want[4:]...)...)
	waitRecords(e, "live", want)

	// Below the progress: already imported, skipped with a warning.
	e.Put(map[string]string{objectKey("live", 1, 1): "\"p1-1\"\n"})
	fr.scanned(t)
	fr.scanned(t)
	s, err := fr.stop()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, e.TopicRecords("live")); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	var warned bool
	for _, w := range s.Warnings {
		warned = warned || strings.Contains(w, objectKey("live", 1, 1)) && strings.Contains(w, "already imported")
	}
	if !warned || s.Records != 12 {
		t.Errorf("summary: %d records, warnings %q; want 12 and one naming the object below the progress", s.Records, s.Warnings)
	}
}

// TestImportFollowRewrittenObject: a continuous exporter that crashed after its
// last object became visible but before committing it has the next owner
// rewrite that object, with more records, under the same name. The import
// reads it again and takes the records past its progress, then goes on.
func TestImportFollowRewrittenObject(t *testing.T) {
	e := testkit.New(t, "file")
	e.CreateTopic("rw", 1)
	fr := importFollow(e, pipeline.ImportFollowOptions{ImportOptions: pipeline.ImportOptions{TopicsDir: "topics"}})
	putObjects(e, "rw", 1, 0, 2, 2)
	waitRecords(e, "rw", wantRecs(1, 2))
	putObjects(e, "rw", 1, 0, 5, 5) // the same name, 5 records
	waitRecords(e, "rw", wantRecs(1, 5))
	putObjects(e, "rw", 1, 5, 7, 2)
	waitRecords(e, "rw", wantRecs(1, 7))
	s, err := fr.stop()
	if err != nil || s.Records != 7 {
		t.Errorf("summary: %d records, err %v; want 7, nil", s.Records, err)
	}
}

// TestImportFollowGoesPastOffsetGaps: offsets without records (transaction
// markers, compaction) leave a hole no object will ever fill; after HoleWait
// and a few scans the import goes on instead of waiting forever.
func TestImportFollowGoesPastOffsetGaps(t *testing.T) {
	e := testkit.New(t, "file")
	e.CreateTopic("txn", 1)
	fr := importFollow(e, pipeline.ImportFollowOptions{ImportOptions: pipeline.ImportOptions{TopicsDir: "topics", HoleWait: time.Nanosecond}})
	// Offsets 2 and 5 were transaction markers: objects start at 0 and 3.
	e.Put(map[string]string{objectKey("txn", 0, 0): "\"a\"\n\"b\"\n"}) // in order, as exporters write
	e.Put(map[string]string{objectKey("txn", 0, 3): "\"c\"\n\"d\"\n"})
	waitRecords(e, "txn", []testkit.Rec{
		{P: 0, K: "null", V: strconv.Quote(`"a"`)}, {P: 0, K: "null", V: strconv.Quote(`"b"`)},
		{P: 0, K: "null", V: strconv.Quote(`"c"`)}, {P: 0, K: "null", V: strconv.Quote(`"d"`)},
	})
	if _, err := fr.stop(); err != nil {
		t.Fatal(err)
	}
}
