package testkit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Producer writes records into every partition of its topics, round after
// round, until stopped; record n of partition p has the value {"p":p,"n":n},
// so on a fresh topic n is its offset.
type Producer struct {
	e     *Env
	w     *kafka.Writer
	topic string
	parts int32

	mu   sync.Mutex
	sent map[int32]int // acknowledged records per partition

	stop chan struct{}
	done chan struct{}
	err  error
}

func StartProducer(e *Env, topic string, parts int32) *Producer {
	e.T.Helper()
	w, err := kafka.NewWriter(e.Ctx, e.Cluster.Config(), kafka.WriterOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	p := &Producer{e: e, w: w, topic: topic, parts: parts, sent: map[int32]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer w.Close()
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			if p.err = p.round(20); p.err != nil {
				return
			}
		}
	}()
	e.T.Cleanup(p.Halt)
	return p
}

// round produces n records into each partition and waits for them.
func (p *Producer) round(n int) error {
	p.mu.Lock()
	base := make(map[int32]int, p.parts)
	for part := range p.parts {
		base[part] = p.sent[part]
	}
	p.mu.Unlock()
	for part := range p.parts {
		for i := range n {
			v := fmt.Appendf(nil, `{"p":%d,"n":%d}`, part, base[part]+i)
			rec := record.Record{Topic: p.topic, Partition: part, Key: fmt.Appendf(nil, "k%d", base[part]+i), Value: v}
			if err := p.w.Produce(p.e.Ctx, &rec); err != nil {
				return err
			}
		}
	}
	if err := p.w.Flush(p.e.Ctx); err != nil {
		return err
	}
	p.mu.Lock()
	for part := range p.parts {
		p.sent[part] += n
	}
	p.mu.Unlock()
	return nil
}

// Halt stops the producer (see Sent for what it wrote).
func (p *Producer) Halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *Producer) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.sent {
		n += c
	}
	return n
}

// WaitFor polls cond every 20 ms until it holds; the test fails at ctx's end.
func WaitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// TopicRecordsOn returns the committed records of topic on the target.
func TopicRecordsOn(e *Env, tg *Target, topic string) []record.Record {
	var out []record.Record
	for _, recs := range ReadTopic(e.T, e.Ctx, tg.Cluster.Config(), topic) {
		out = append(out, recs...)
	}
	return out
}

// GroupSource fills "orders" (compacted: records at offsets 2, 4, 5, 6, 7, 8 of
// 0..8) and "payments" (transactions: records at 0, 1, 2, 3, 7, 8; 4 and 6 are
// markers, 5 is aborted), and commits consumer groups at the start, inside
// gaps, and at the end of both.
func GroupSource(t *testing.T, e *Env) map[string]map[string]int64 {
	t.Helper()
	ts := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e.CreateTopicConfigs("orders", 1, map[string]string{"cleanup.policy": "compact"})
	for _, b := range [][]string{{"k1", "k2", "k3"}, {"k1", "k4"}, {"k2", "k5"}, {"k1"}, {"k9"}} {
		var recs []record.Record
		for _, k := range b {
			recs = append(recs, record.Record{Topic: "orders", Key: []byte(k), Value: fmt.Appendf(nil, "%s@%d", k, len(recs)), Timestamp: ts})
		}
		e.Produce(recs...)
	}
	e.Cluster.Compact()

	e.CreateTopic("payments", 1)
	pay := func(vals ...string) []record.Record {
		var out []record.Record
		for _, v := range vals {
			out = append(out, record.Record{Topic: "payments", Value: []byte(v), Timestamp: ts})
		}
		return out
	}
	e.Produce(pay("p0", "p1")...)
	if err := e.Cluster.ProduceTxn(e.Ctx, "groups-commit", pay("c0", "c1"), true); err != nil {
		t.Fatal(err)
	}
	if err := e.Cluster.ProduceTxn(e.Ctx, "groups-abort", pay("x0"), false); err != nil {
		t.Fatal(err)
	}
	e.Produce(pay("p2", "p3")...)

	for topic, want := range map[string][]int64{"orders": {2, 4, 5, 6, 7, 8}, "payments": {0, 1, 2, 3, 7, 8}} {
		if got := OffsetsOf(ReadTopic(t, e.Ctx, e.Cluster.Config(), topic)[0]); !slices.Equal(got, want) {
			t.Fatalf("%s offsets = %v, want %v", topic, got, want)
		}
	}
	groups := map[string]map[string]int64{
		"at-start":      {"orders": 0, "payments": 0},
		"at-first":      {"orders": 2},                // the first record after the log start
		"in-gap":        {"orders": 3, "payments": 4}, // a compacted record; a commit marker
		"in-gap-2":      {"orders": 1, "payments": 5}, // before the first record; an aborted record
		"on-record":     {"orders": 6, "payments": 7}, // a record right after a gap
		"before-marker": {"payments": 6},              // the abort marker
		"at-end":        {"orders": 9, "payments": 9}, // the high watermark
		"at-last":       {"orders": 8, "payments": 8}, // the last record
	}
	for g, offs := range groups {
		for topic, o := range offs {
			CommitGroup(t, e.Ctx, e.Cluster.Config(), g, topic, map[int32]int64{0: o})
		}
	}
	return groups
}

// WantTarget returns the target offset a group committed at source offset o must
// get: that of the restored record holding the same content as the first source
// record whose offset is ≥ o, or the target's end when there is none.
func WantTarget(t *testing.T, src, dst []record.Record, dstEnd, o int64) int64 {
	t.Helper()
	if len(src) != len(dst) {
		t.Fatalf("%d records restored of %d", len(dst), len(src))
	}
	for i := range src {
		if src[i].Offset >= o {
			if FullOf(&src[i]).V != FullOf(&dst[i]).V {
				t.Fatalf("restored record %d is %q, want %q", i, dst[i].Value, src[i].Value)
			}
			return dst[i].Offset
		}
	}
	return dstEnd
}

func ValuesOn(t *testing.T, e *Env, tg *Target, topic string) []string {
	t.Helper()
	return Values(ReadTopic(t, e.Ctx, tg.Cluster.Config(), topic)[0])
}

// Values returns the values of recs as strings.
func Values(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i := range recs {
		out[i] = string(recs[i].Value)
	}
	return out
}

// Sent returns, after Halt, the producer's error and the records it wrote per
// partition.
func (p *Producer) Sent() (map[int32]int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.sent), p.err
}

// Reconnect returns tg with a client of its own.
func Reconnect(e *Env, tg *Target) *Target {
	e.T.Helper()
	kc, err := kafka.Dial(e.Ctx, tg.Cluster.Config())
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(kc.Close)
	return &Target{Cluster: tg.Cluster, KC: kc}
}

func MustRenames(t *testing.T, specs ...string) layout.Renames {
	t.Helper()
	rs, err := layout.ParseRenames(specs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
