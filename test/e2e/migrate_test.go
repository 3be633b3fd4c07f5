package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kferry/kferry/deploy/monitoring"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

// TestMigrateLiveCutover is a live migration as an operator runs it: producers
// write to the source and a consumer group consumes and commits there while
// `kferry migrate --follow` copies to the target and translates the group's
// offsets; it is SIGKILLed mid-stream and started again; /metrics shows the
// lag above 0 while producing and falling to 0 after. Then the producers and the consumers stop, the follow run gets
// SIGTERM (exit 0), and `migrate --cutover` with the same flags catches up,
// stops and commits the final group offsets. The target then holds every
// source record once, in order, and the group sits on the same next record in
// every partition.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestMigrateLiveCutover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := pickCluster(t)
	dst := pickCluster(t)
	if err := src.CreateTopic(ctx, followTopic, followPartitions); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	prod := startFollowProducer(t, ctx, src)
	cons := startGroupConsumer(t, ctx, src, "app", followTopic)

	addr := freeAddr(t)
	args := []string{"migrate", "--source-brokers", strings.Join(src.ListenAddrs(), ","), "--target-brokers", strings.Join(dst.ListenAddrs(), ","),
		"--topics", followTopic, "--rename", followTopic + "=" + followTopic + "-copy", "--via", url, "--groups", "app|done",
		"--rotate-interval", "300ms", "--poll-interval", "300ms", "--lag-interval", "200ms", "--groups-interval", "300ms",
		"--session-timeout", "3s", "--metadata-max-age", "1s"}
	live := startKferry(t, runOpts{}, append(slices.Clone(args), "--follow", "--metrics-addr", addr)...)

	var maxLag float64
	waitUntil(t, live, "lag above 0 on /metrics while producing", time.Minute, func(ctx context.Context) (bool, error) {
		lag, err := scrapeMigrateLag(ctx, addr)
		for _, v := range lag {
			maxLag = max(maxLag, v)
		}
		return err == nil && len(lag) == followPartitions && maxLag > 0, err
	})
	waitUntil(t, live, "a translated offset of group app on the target", time.Minute, func(ctx context.Context) (bool, error) {
		n, err := newAdmin(t, dst).committed(ctx, "app", []string{followTopic + "-copy"})
		return n > 0, err
	})
	// A crash mid-stream: the same command started again resumes (its
	// exporter waits out the dead member's session).
	waitProduced(t, live, prod, 3000)
	live.kill(t)
	addr = freeAddr(t)
	live = startKferry(t, runOpts{}, append(slices.Clone(args), "--follow", "--metrics-addr", addr)...)
	// The consumers stop mid-stream, so the group sits inside the data and not
	// at its end; the producers go on for a while.
	waitProduced(t, live, prod, 6000)
	consumed := cons.halt(t)
	waitProduced(t, live, prod, 9000)
	sent, rate := prod.halt(t)
	// A second group has read everything: on the target it must sit at the
	// end, after the last transaction's commit marker.
	var done []kafka.GroupOffset
	for p, n := range sent {
		done = append(done, kafka.GroupOffset{Group: "done", Topic: followTopic, Partition: p, Offset: n})
	}
	commitPlain(t, ctx, src, done)
	waitUntil(t, live, "lag 0 on every partition of /metrics", time.Minute, func(ctx context.Context) (bool, error) {
		lag, err := scrapeMigrateLag(ctx, addr)
		if err != nil || len(lag) != followPartitions {
			return false, err
		}
		for _, v := range lag {
			if v != 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err := live.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-live.done
	if live.err != nil {
		t.Fatalf("migrate --follow after SIGTERM: %v\n%s", live.err, live)
	}
	r := kferry(t, runOpts{}, append(args, "--cutover")...)
	mustSucceed(t, r)

	srcRecs := readPartitions(t, ctx, src, followTopic)
	dstRecs := readPartitions(t, ctx, dst, followTopic+"-copy")
	var total int
	for p := range int32(followPartitions) {
		s, d := srcRecs[p], dstRecs[p]
		if int64(len(s)) != sent[p] || len(d) != len(s) {
			t.Fatalf("partition %d: %d records produced, %d on the source, %d on the target", p, sent[p], len(s), len(d))
		}
		for i := range s {
			if string(s[i].Key) != string(d[i].Key) || string(s[i].Value) != string(d[i].Value) || !s[i].Timestamp.Equal(d[i].Timestamp) {
				t.Fatalf("partition %d record %d: target %s=%s@%v, source %s=%s@%v", p, i, d[i].Key, d[i].Value, d[i].Timestamp, s[i].Key, s[i].Value, s[i].Timestamp)
			}
		}
		total += len(s)
	}
	srcGroup, err := committedOffsets(ctx, newAdmin(t, src), "app", followTopic)
	if err != nil {
		t.Fatal(err)
	}
	dstGroup, err := committedOffsets(ctx, newAdmin(t, dst), "app", followTopic+"-copy")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(followPartitions) {
		o, ok := srcGroup[p]
		if !ok {
			t.Fatalf("group app committed nothing on source partition %d (consumed %d)", p, consumed)
		}
		want := nextIndex(srcRecs[p], o)
		if want == len(srcRecs[p]) {
			t.Errorf("partition %d: group app is at the end (offset %d): the test wants it inside the data", p, o)
		}
		got, ok := dstGroup[p]
		if !ok || nextIndex(dstRecs[p], got) != want {
			t.Errorf("partition %d: group app at source offset %d (next record #%d of %d) is at target offset %d (%v), next record #%d", p, o, want, len(srcRecs[p]), got, ok, nextIndex(dstRecs[p], got))
		}
	}
	doneGroup, err := committedOffsets(ctx, newAdmin(t, dst), "done", followTopic+"-copy")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := newAdmin(t, dst).adm.ListCommittedOffsets(ctx, followTopic+"-copy")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if got, ok := doneGroup[o.Partition]; !ok || got != o.Offset {
			t.Errorf("partition %d: group done, at the end of the source, is at target offset %d (%v), want the end %d", o.Partition, got, ok, o.Offset)
		}
	})
	t.Logf("%d records at %.0f/s migrated live; the group consumed %d; max lag seen %.0f records; cutover %s", total, rate, consumed, maxLag, r.elapsed)
}

// waitProduced waits until the producer has written n records.
func waitProduced(t *testing.T, p *proc, fp *followProducer, n int64) {
	t.Helper()
	waitUntil(t, p, fmt.Sprintf("%d records produced", n), time.Minute, func(context.Context) (bool, error) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		var total int64
		for _, c := range fp.sent {
			total += c
		}
		return total >= n, fp.err
	})
}

// nextIndex is the index of the first record at or after offset o (len when none).
func nextIndex(recs []record.Record, o int64) int {
	for i := range recs {
		if recs[i].Offset >= o {
			return i
		}
	}
	return len(recs)
}

func readPartitions(t *testing.T, ctx context.Context, c cluster, topic string) map[int32][]record.Record {
	t.Helper()
	out, err := c.ReadAll(ctx, topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return out
}

var migrateLagLine = regexp.MustCompile(`(?m)^kferry_migrate_lag_records\{([^}]*)\} (\S+)$`)

// scrapeMigrateLag returns the migration lag per partition /metrics shows.
func scrapeMigrateLag(ctx context.Context, addr string) (map[int32]float64, error) {
	code, body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", code)
	}
	out := map[int32]float64{}
	for _, m := range migrateLagLine.FindAllStringSubmatch(body, -1) {
		pm := partitionLabel.FindStringSubmatch(m[1])
		if pm == nil {
			continue
		}
		p, _ := strconv.Atoi(pm[1])
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		out[int32(p)] = v
	}
	return out, nil
}

// groupConsumer is an application consuming topic as a member of a group and
// committing what it read after every poll.
type groupConsumer struct {
	stop, done chan struct{}
	mu         sync.Mutex
	consumed   int
	err        error
}

func startGroupConsumer(t *testing.T, ctx context.Context, c cluster, group, topic string) *groupConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(3*time.Second), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	gc := &groupConsumer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(gc.done)
		defer cl.Close() // leaves the group
		for {
			select {
			case <-gc.stop:
				return
			default:
			}
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			fs := cl.PollRecords(pctx, 500)
			cancel()
			n := fs.NumRecords()
			if n > 0 {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					gc.err = err
					return
				}
			}
			gc.mu.Lock()
			gc.consumed += n
			gc.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-gc.stop:
		default:
			close(gc.stop)
		}
		<-gc.done
	})
	return gc
}

// halt stops consuming, leaves the group and returns how many records it read.
func (gc *groupConsumer) halt(t *testing.T) int {
	t.Helper()
	close(gc.stop)
	<-gc.done
	if gc.err != nil {
		t.Fatalf("consumer: %v", gc.err)
	}
	return gc.consumed
}

// TestMigrateTwoCopiesKill runs two copies of one live migration (the source
// group spreads the partitions over them), SIGKILLs one mid-stream (its open
// transactions on the target are fenced by the copy that takes its
// partitions over after the session timeout), and checks after a cutover that
// the target holds every record once, in order.
func TestMigrateTwoCopiesKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := pickCluster(t)
	dst := pickCluster(t)
	if err := src.CreateTopic(ctx, followTopic, followPartitions); err != nil {
		t.Fatal(err)
	}
	url, _ := fileURL(t)
	prod := startFollowProducer(t, ctx, src)
	args := []string{"migrate", "--source-brokers", strings.Join(src.ListenAddrs(), ","), "--target-brokers", strings.Join(dst.ListenAddrs(), ","),
		"--topics", followTopic, "--via", url, "--rotate-interval", "300ms", "--poll-interval", "300ms", "--lag-interval", "200ms",
		"--session-timeout", "3s", "--metadata-max-age", "1s"}
	addrs := []string{freeAddr(t), freeAddr(t)}
	copies := []*proc{
		startKferry(t, runOpts{}, append(slices.Clone(args), "--follow", "--metrics-addr", addrs[0])...),
		startKferry(t, runOpts{}, append(slices.Clone(args), "--follow", "--metrics-addr", addrs[1])...),
	}
	// Both copies import: each one's import counter moves.
	for i, addr := range addrs {
		waitUntil(t, copies[i], fmt.Sprintf("copy %d importing", i), time.Minute, func(ctx context.Context) (bool, error) {
			n, err := scrapeCounter(ctx, addr, "kferry_import_records_total")
			return n > 0, err
		})
	}
	copies[0].kill(t)
	waitProduced(t, copies[1], prod, 12000)
	sent, _ := prod.halt(t)
	waitUntil(t, copies[1], "lag 0 on every partition after the takeover", time.Minute, func(ctx context.Context) (bool, error) {
		lag, err := scrapeMigrateLag(ctx, addrs[1])
		if err != nil || len(lag) != followPartitions {
			return false, err
		}
		for _, v := range lag {
			if v != 0 {
				return false, nil
			}
		}
		return true, nil
	})
	checkMonitoringServed(t, addrs[1])
	terminate(t, copies[1], 40*time.Second)
	mustSucceed(t, kferry(t, runOpts{}, append(args, "--cutover")...))
	srcRecs := readPartitions(t, ctx, src, followTopic)
	dstRecs := readPartitions(t, ctx, dst, followTopic)
	for p := range int32(followPartitions) {
		s, d := srcRecs[p], dstRecs[p]
		if int64(len(s)) != sent[p] || len(d) != len(s) {
			t.Fatalf("partition %d: %d records produced, %d on the source, %d on the target", p, sent[p], len(s), len(d))
		}
		for i := range s {
			if string(s[i].Value) != string(d[i].Value) {
				t.Fatalf("partition %d record %d: target %s, source %s", p, i, d[i].Value, s[i].Value)
			}
		}
	}
}

// scrapeCounter sums a counter's series on a process's /metrics.
func scrapeCounter(ctx context.Context, addr, name string) (float64, error) {
	code, body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("/metrics: status %d", code)
	}
	var sum float64
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// commitPlain commits group offsets on c outside any transaction.
func commitPlain(t *testing.T, ctx context.Context, c cluster, offs []kafka.GroupOffset) {
	t.Helper()
	w, err := kafka.NewTxnWriter(ctx, c.Config(), "", kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.CommitPlain(ctx, offs); err != nil {
		t.Fatalf("commit group offsets: %v", err)
	}
}

// checkMonitoringServed: every metric the Grafana dashboard and the Prometheus
// rules in deploy/monitoring select is on the /metrics page of a running
// migrate --follow (export, import and migration metrics in one registry).
func checkMonitoringServed(t *testing.T, addr string) {
	t.Helper()
	names, err := monitoring.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: status %d, %v", code, err)
	}
	if missing := monitoring.Missing(names, body); len(missing) > 0 {
		t.Errorf("deploy/monitoring uses metrics the running kferry does not serve: %s", strings.Join(missing, ", "))
	}
}
