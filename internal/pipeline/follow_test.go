package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/internal/testkit"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// member is one Follow run in the background.
type member struct {
	cancel context.CancelFunc
	done   chan struct{}
	sum    pipeline.Summary
	err    error
	m      *fakeMetrics
}

func startMember(e *testkit.Env, o pipeline.FollowOptions) *member {
	ctx, cancel := context.WithCancel(e.Ctx)
	m := &member{cancel: cancel, done: make(chan struct{}), m: newFakeMetrics()}
	if o.Logger == nil {
		o.Logger = testkit.DiscardLogger()
	}
	o.Metrics = m.m
	go func() {
		defer close(m.done)
		m.sum, m.err = pipeline.Follow(ctx, e.KC, e.B, e.URL, o)
	}()
	e.T.Cleanup(func() { cancel(); <-m.done })
	return m
}

// stop cancels the member (a signal) and waits for its graceful end.
func (m *member) stop(t *testing.T) pipeline.Summary {
	t.Helper()
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(20 * time.Second * testkit.RaceSlowdown):
		t.Fatalf("Follow did not return within %s of its cancellation", 20*time.Second*testkit.RaceSlowdown)
	}
	if m.err != nil {
		t.Fatalf("Follow: %v", m.err)
	}
	return m.sum
}

// fakeMetrics keeps what Follow reports.
type fakeMetrics struct {
	mu      sync.Mutex
	lag     map[string]int64
	objects int
	records int64
	ready   bool
	joined  bool
	errs    map[string]int
}

func newFakeMetrics() *fakeMetrics {
	return &fakeMetrics{lag: map[string]int64{}, errs: map[string]int{}}
}

func (f *fakeMetrics) ObjectWritten(_ string, _ int32, records, _ int64, _ time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects++
	f.records += records
}

func (f *fakeMetrics) Lag(topic string, p int32, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lag[fmt.Sprintf("%s/%d", topic, p)] = n
}

func (f *fakeMetrics) Forget(topic string, p int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.lag, fmt.Sprintf("%s/%d", topic, p))
}
func (f *fakeMetrics) Owned(int) {}
func (f *fakeMetrics) Error(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[kind]++
}
func (f *fakeMetrics) Retry(string) {}
func (f *fakeMetrics) Ready(ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready = ok
	f.joined = f.joined || ok
}

var _ pipeline.FollowMetrics = (*fakeMetrics)(nil)

// committed returns the group's committed offsets of topic.
func committed(e *testkit.Env, group, topic string) map[int32]int64 {
	e.T.Helper()
	got, err := e.KC.CommittedOffsets(e.Ctx, group, []string{topic})
	if err != nil {
		e.T.Fatal(err)
	}
	return got[topic]
}

// checkExactlyOnce reads topic back from the bucket and checks that partition
// p's objects hold offsets [0, want[p]) each exactly once, in order, none
// overlapping another, each record the one produced at its offset. It returns
// the number of objects.
func checkExactlyOnce(e *testkit.Env, topic string, want map[int32]int64) int {
	e.T.Helper()
	cat, err := catalog.Scan(e.Ctx, e.B, layout.DefaultTopicsDir, nil, true)
	if err != nil {
		e.T.Fatal(err)
	}
	objects := 0
	for p, n := range want {
		po := cat.Topics[topic][p]
		if po == nil {
			if n > 0 {
				e.T.Errorf("%s/%d: no objects, want offsets 0-%d", topic, p, n-1)
			}
			continue
		}
		next := int64(0)
		for _, g := range po.Groups {
			objects++
			if g.Start != next {
				e.T.Errorf("%s/%d: object %s starts at %d, want %d (the previous object ends at %d)", topic, p, g.Values.Key, g.Start, next, next-1)
			}
			next = g.Start
			err := objset.Dump(e.Ctx, e.B, g, nil, func(r *record.Record) error {
				var v struct{ P, N int64 }
				if err := json.Unmarshal(r.Value, &v); err != nil {
					return fmt.Errorf("offset %d: value %q: %w", r.Offset, r.Value, err)
				}
				if v.P != int64(p) || v.N != r.Offset || string(r.Key) != fmt.Sprintf("k%d", r.Offset) {
					return fmt.Errorf("offset %d holds key %q value %s", r.Offset, r.Key, r.Value)
				}
				next = r.Offset + 1
				return nil
			})
			if err != nil {
				e.T.Errorf("%s/%d object %s: %v", topic, p, g.Values.Key, err)
			}
		}
		if next != n {
			e.T.Errorf("%s/%d: objects end at offset %d, want %d", topic, p, next-1, n-1)
		}
	}
	return objects
}

func followOptions(group string, sel plan.Selector) pipeline.FollowOptions {
	return pipeline.FollowOptions{
		ExportOptions: pipeline.ExportOptions{
			Selector: sel, Format: "json", StoreKeys: true,
			Naming:    layout.Naming{TopicsDir: layout.DefaultTopicsDir},
			FlushSize: 300, RotateInterval: 150 * time.Millisecond,
		},
		Group: group, LagInterval: 50 * time.Millisecond, MetadataMaxAge: 250 * time.Millisecond,
	}
}

// TestFollowExport runs two members of one group while a producer writes:
// the second joining and the first stopping gracefully mid-stream both move
// partitions with open objects. At the end every produced record is in exactly
// one object, and the group's offsets are the ends of the last objects.
func TestFollowExport(t *testing.T) {
	e := testkit.New(t, "file")
	const topic, parts, group = "live", 4, "follow-test"
	e.CreateTopic(topic, parts)
	prod := testkit.StartProducer(e, topic, parts)
	o := followOptions(group, plan.Selector{Names: []string{topic}})

	a := startMember(e, o)
	testkit.WaitFor(t, e.Ctx, "member a to commit on every partition", func() (bool, error) {
		c := committed(e, group, topic)
		return len(c) == parts, nil
	})
	b := startMember(e, o)
	testkit.WaitFor(t, e.Ctx, "member b to write objects", func() (bool, error) {
		b.m.mu.Lock()
		defer b.m.mu.Unlock()
		return b.m.objects >= 2, nil
	})
	sa := a.stop(t) // mid-stream: a's partitions go to b
	atStop := prod.Total()
	testkit.WaitFor(t, e.Ctx, "b to write after a stopped", func() (bool, error) {
		return prod.Total() > atStop+parts*100, nil
	})
	prod.Halt()
	sent, err := prod.Sent()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for p, n := range sent {
		want[p] = int64(n)
	}
	testkit.WaitFor(t, e.Ctx, "b to commit every produced record", func() (bool, error) {
		c := committed(e, group, topic)
		for p, n := range want {
			if c[p] != n {
				return false, nil
			}
		}
		return true, nil
	})
	testkit.WaitFor(t, e.Ctx, "b to report lag 0 on every partition", func() (bool, error) {
		b.m.mu.Lock()
		defer b.m.mu.Unlock()
		if len(b.m.lag) != parts {
			return false, nil
		}
		for _, n := range b.m.lag {
			if n != 0 {
				return false, nil
			}
		}
		return true, nil
	})
	sb := b.stop(t)

	objects := checkExactlyOnce(e, topic, want)
	if got, total := sa.Records+sb.Records, int64(prod.Total()); got != total {
		t.Errorf("members' summaries count %d + %d records, want %d in all", sa.Records, sb.Records, total)
	}
	if sa.Objects+sb.Objects != objects {
		t.Errorf("members' summaries count %d + %d objects, the bucket has %d", sa.Objects, sb.Objects, objects)
	}
	if !a.m.joined || !b.m.joined || b.m.ready {
		t.Errorf("readiness: a joined %v, b joined %v, b ready after stop %v", a.m.joined, b.m.joined, b.m.ready)
	}
	for _, m := range []*fakeMetrics{a.m, b.m} {
		if len(m.errs) > 0 {
			t.Errorf("errors reported: %v", m.errs)
		}
	}
	t.Logf("%d records in %d objects; member a wrote %d records, member b %d", prod.Total(), objects, sa.Records, sb.Records)
}

// TestFollowNewTopicsAndPartitions: with a regex, a topic created while the
// export runs is exported, and so are partitions added to it.
func TestFollowNewTopicsAndPartitions(t *testing.T) {
	e := testkit.New(t, "file")
	const group = "follow-regex"
	o := followOptions(group, plan.Selector{Regex: regexp.MustCompile(`\A(?:new-.*)\z`)})
	e.CreateTopic("other", 1)
	e.CreateTopic("new-0", 1) // a regex consumer joins its group once a topic matches
	m := startMember(e, o)
	testkit.WaitFor(t, e.Ctx, "the member to join", func() (bool, error) {
		m.m.mu.Lock()
		defer m.m.mu.Unlock()
		return m.m.ready, nil
	})

	e.CreateTopic("new-a", 2)
	e.Produce(append(mkRecsJSON("new-a", 0, 0, 5), mkRecsJSON("new-a", 1, 0, 3)...)...)
	e.Produce(mkRecsJSON("other", 0, 0, 2)...)
	waitCommitted(t, e, group, "new-a", map[int32]int64{0: 5, 1: 3})

	if err := e.Cluster.SetPartitions(e.Ctx, "new-a", 3); err != nil {
		t.Fatal(err)
	}
	e.Produce(mkRecsJSON("new-a", 2, 0, 4)...)
	waitCommitted(t, e, group, "new-a", map[int32]int64{0: 5, 1: 3, 2: 4})
	m.stop(t)

	checkExactlyOnce(e, "new-a", map[int32]int64{0: 5, 1: 3, 2: 4})
	if c := committed(e, group, "other"); len(c) > 0 {
		t.Errorf("topic other does not match the regex but has commits %v", c)
	}
	body, err := e.B.ReadAll(e.Ctx, catalog.TopicMetaKey("new-a"))
	if err != nil {
		t.Fatal(err)
	}
	var meta catalog.TopicMeta
	if err := json.Unmarshal(body, &meta); err != nil || meta.Partitions != 3 {
		t.Errorf("topic meta %s: %+v (%v), want 3 partitions", body, meta, err)
	}
}

// TestFollowRefusesUnknownTopic: a named topic that does not exist is an error,
// as in a one-shot export.
func TestFollowRefusesUnknownTopic(t *testing.T) {
	e := testkit.New(t, "mem")
	o := followOptions("g", plan.Selector{Names: []string{"nope"}})
	o.Logger = testkit.DiscardLogger()
	_, err := pipeline.Follow(e.Ctx, e.KC, e.B, e.URL, o)
	if !errors.Is(err, plan.ErrUnknownTopic) {
		t.Fatalf("err = %v, want ErrUnknownTopic", err)
	}
}

func TestDefaultGroup(t *testing.T) {
	a := pipeline.DefaultGroup("s3://b/x", "topics", plan.Selector{Names: []string{"b", "a"}})
	if a != pipeline.DefaultGroup("s3://b/x", "topics/", plan.Selector{Names: []string{"a", "b"}}) {
		t.Error("the group depends on the order of --topics")
	}
	if !regexp.MustCompile(`^kferry-export-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("group %q", a)
	}
	for _, other := range []string{
		pipeline.DefaultGroup("s3://b/y", "topics", plan.Selector{Names: []string{"a", "b"}}),
		pipeline.DefaultGroup("s3://b/x", "topics", plan.Selector{Names: []string{"a"}}),
		pipeline.DefaultGroup("s3://b/x", "topics", plan.Selector{Regex: regexp.MustCompile("a|b")}),
	} {
		if other == a {
			t.Errorf("different exports share group %s", a)
		}
	}
}

func waitCommitted(t *testing.T, e *testkit.Env, group, topic string, want map[int32]int64) {
	t.Helper()
	testkit.WaitFor(t, e.Ctx, fmt.Sprintf("group %s to commit %v on %s", group, want, topic), func() (bool, error) {
		c := committed(e, group, topic)
		for p, n := range want {
			if c[p] != n {
				return false, nil
			}
		}
		return true, nil
	})
}

// mkRecsJSON builds records n = from..from+count-1 of topic/partition as the
// producer writes them.
func mkRecsJSON(topic string, p int32, from, count int) []record.Record {
	out := make([]record.Record, count)
	for i := range out {
		n := from + i
		out[i] = record.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", n), Value: fmt.Appendf(nil, `{"p":%d,"n":%d}`, p, n)}
	}
	return out
}

// TestFollowShutdownTimeout: when the open objects cannot be finished within
// the shutdown timeout (here the group coordinator stops answering commits),
// Follow gives up in time and names what it abandoned.
func TestFollowShutdownTimeout(t *testing.T) {
	e := testkit.New(t, "file")
	const topic, group = "stuck", "follow-stuck"
	e.CreateTopic(topic, 1)
	o := followOptions(group, plan.Selector{Names: []string{topic}})
	o.ShutdownTimeout = time.Second
	m := startMember(e, o)
	e.Produce(mkRecsJSON(topic, 0, 0, 10)...)
	waitCommitted(t, e, group, topic, map[int32]int64{0: 10})

	held := e.Cluster.HoldOffsetCommits(group)
	e.Produce(mkRecsJSON(topic, 0, 10, 5)...)
	testkit.WaitFor(t, e.Ctx, "an offset commit to be held", func() (bool, error) { return held() > 0, nil })
	stopped := time.Now()
	m.cancel()
	<-m.done
	took := time.Since(stopped)
	testkit.WantErrContains(t, m.err, pipeline.ErrShutdownTimeout, "after 1s", "abandoned stuck/0 offsets 10-14 (5 records)")
	if took > 3*time.Second*testkit.RaceSlowdown {
		t.Errorf("Follow took %s to give up, want about the 1s shutdown timeout", took)
	}
	t.Logf("gave up after %s: %v", took.Round(time.Millisecond), m.err)
}

// TestFollowFencedMemberPublishesNothing: once the coordinator refuses this
// member's commits (the group moved on without it), its open object is dropped
// rather than made visible over the new owner's, and Follow fails.
func TestFollowFencedMemberPublishesNothing(t *testing.T) {
	e := testkit.New(t, "file")
	const topic, group = "fenced", "follow-fenced"
	e.CreateTopic(topic, 1)
	m := startMember(e, followOptions(group, plan.Selector{Names: []string{topic}}))
	e.Produce(mkRecsJSON(topic, 0, 0, 10)...)
	waitCommitted(t, e, group, topic, map[int32]int64{0: 10})

	e.Cluster.FenceOffsetCommits(group)
	e.Produce(mkRecsJSON(topic, 0, 10, 5)...)
	select {
	case <-m.done:
	case <-e.Ctx.Done():
		t.Fatal("Follow went on although its commits were refused")
	}
	testkit.WantErrContains(t, m.err, kafka.ErrFenced, "fenced/0", "offset 10")
	if objs := e.Objects(); len(objs) != 3 { // the first object, its keys, the topic meta
		keys := make([]string, 0, len(objs))
		for k := range objs {
			keys = append(keys, k)
		}
		t.Errorf("bucket holds %v, want only the object at offset 0 (and its keys and the topic meta)", keys)
	}
}

// TestFollowReportsRetentionGap: a group whose committed offset retention has
// deleted past is reported (metric, summary warning naming the offsets); the
// export goes on from the log start.
func TestFollowReportsRetentionGap(t *testing.T) {
	t.Parallel()
	e := testkit.New(t, "mem")
	e.CreateTopic("kept", 1)
	var recs []record.Record
	for i := range 40 {
		recs = append(recs, record.Record{Topic: "kept", Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	e.Produce(recs...)
	testkit.CommitGroup(t, e.Ctx, e.Cluster.Config(), "gap-group", "kept", map[int32]int64{0: 10})
	if err := e.Cluster.DeleteRecordsBefore(e.Ctx, "kept", 0, 25); err != nil {
		t.Fatal(err)
	}
	m := startMember(e, pipeline.FollowOptions{
		ExportOptions: pipeline.ExportOptions{Selector: plan.Selector{Names: []string{"kept"}}, Format: "json",
			Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir, Pad: layout.DefaultPad}, RotateInterval: time.Second},
		Group: "gap-group", LagInterval: 20 * time.Millisecond, SessionTimeout: 6 * time.Second,
	})
	// The group's offset stays below the log start until the first object is
	// committed, a second after its first record: the lag ticks see it.
	testkit.WaitFor(t, e.Ctx, "the gap reported and the kept records exported", func() (bool, error) {
		m.m.mu.Lock()
		defer m.m.mu.Unlock()
		return m.m.errs["gap"] > 0 && m.m.records == 15, nil
	})
	s := m.stop(t)
	if !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "kept/0: retention deleted offsets 10-24") }) {
		t.Errorf("warnings %q do not name the gap", s.Warnings)
	}
	if s.Records != 15 {
		t.Errorf("%d records exported, want the 15 retention kept", s.Records)
	}
}
