package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"

	_ "github.com/kferry/kferry/pkg/format/jsonfmt" // reading the objects back
)

const (
	followTopic      = "follow"
	followPartitions = 9
	followGroup      = "e2e-follow"
)

// TestFollowScaleOutKillAndTakeover runs three `export --follow` members of one
// group while the test produces into 9 partitions, SIGKILLs one mid-stream,
// checks that the other two take its partitions over, stops one with SIGTERM
// while producing (exit 0; the last one takes over) and the last one after the
// producer stopped, and then checks that the bucket holds every produced record exactly
// once and in order per partition. It scrapes a member's /metrics for the lag.
// (Longer than 80 lines on purpose: one scenario whose steps build on the
// state the previous ones left; read top-down, it is the story it checks.)
func TestFollowScaleOutKillAndTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := pickCluster(t)
	if err := c.CreateTopic(ctx, followTopic, followPartitions); err != nil {
		t.Fatal(err)
	}
	url, dir := fileURL(t)
	adm := newAdmin(t, c)
	prod := startFollowProducer(t, ctx, c)

	var members []*proc
	var addrs []string
	for range 3 {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		members = append(members, startKferry(t, runOpts{}, "export", "--follow", "--brokers", c.ListenAddrs()[0],
			"--topics", followTopic, "--to", url, "--group", followGroup, "--rotate-interval", "1s",
			"--session-timeout", "3s", "--metrics-addr", addr, "--log-format", "json", "--store-keys"))
	}
	for i, p := range members {
		waitUntil(t, p, fmt.Sprintf("member %d ready", i), time.Minute, func(ctx context.Context) (bool, error) {
			code, _, err := httpGet(ctx, "http://"+addrs[i]+"/readyz")
			return code == http.StatusOK, err
		})
	}
	// Every member owns some partitions and reports their lag; together they
	// own each partition once.
	var owned [][]int32
	waitUntil(t, members[0], "the 9 partitions spread over the 3 members", time.Minute, func(ctx context.Context) (bool, error) {
		owned = owned[:0]
		seen := map[int32]int{}
		for _, a := range addrs {
			lags, err := scrapeLag(ctx, a)
			if err != nil {
				return false, err
			}
			var ps []int32
			for p := range lags {
				ps = append(ps, p)
				seen[p]++
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			owned = append(owned, ps)
		}
		for p := range int32(followPartitions) {
			if seen[p] != 1 {
				return false, nil
			}
		}
		return len(owned[0]) > 0 && len(owned[1]) > 0 && len(owned[2]) > 0, nil
	})
	t.Logf("assignment before the kill: %v", owned)
	waitUntil(t, members[2], "member 2 to commit on its partitions", time.Minute, func(ctx context.Context) (bool, error) {
		com, err := committedOffsets(ctx, adm, followGroup, followTopic)
		for _, p := range owned[2] {
			if com[p] <= 0 {
				return false, err
			}
		}
		return true, err
	})

	victim := owned[2]
	before, err := committedOffsets(ctx, adm, followGroup, followTopic)
	if err != nil {
		t.Fatal(err)
	}
	members[2].kill(t)
	killed := time.Now()
	waitUntil(t, members[0], "the survivors to commit on the killed member's partitions", time.Minute, func(ctx context.Context) (bool, error) {
		com, err := committedOffsets(ctx, adm, followGroup, followTopic)
		for _, p := range victim {
			if com[p] <= before[p] {
				return false, err
			}
		}
		return true, err
	})
	takeover := time.Since(killed)
	t.Logf("takeover: the killed member's partitions %v were committed again %s after SIGKILL (session timeout 3s, rotate interval 1s)", victim, takeover.Round(10*time.Millisecond))

	// A graceful stop mid-stream: member 1 finishes its open objects and
	// leaves; member 0 takes everything over.
	owned1 := owned[1]
	before, err = committedOffsets(ctx, adm, followGroup, followTopic)
	if err != nil {
		t.Fatal(err)
	}
	took := terminate(t, members[1], 40*time.Second)
	t.Logf("member 1: SIGTERM while producing → exit 0 in %s", took.Round(10*time.Millisecond))
	waitUntil(t, members[0], "member 0 to commit on member 1's partitions", time.Minute, func(ctx context.Context) (bool, error) {
		com, err := committedOffsets(ctx, adm, followGroup, followTopic)
		for _, p := range owned1 {
			if com[p] <= before[p] {
				return false, err
			}
		}
		return true, err
	})

	sent, rate := prod.halt(t)
	var total int64
	for _, n := range sent {
		total += n
	}
	t.Logf("produced %d records (%.0f records/s) into %d partitions", total, rate, followPartitions)
	caughtUp := time.Now()
	waitUntil(t, members[0], "the group to commit every produced record", time.Minute, func(ctx context.Context) (bool, error) {
		com, err := committedOffsets(ctx, adm, followGroup, followTopic)
		for p, n := range sent {
			if com[p] != n {
				return false, err
			}
		}
		return true, err
	})
	t.Logf("after the producer stopped, the last records were committed within %s", time.Since(caughtUp).Round(10*time.Millisecond))
	waitUntil(t, members[0], "member 0's lag metric to fall to 0", time.Minute, func(ctx context.Context) (bool, error) {
		lags, err := scrapeLag(ctx, addrs[0])
		if len(lags) == 0 {
			return false, err
		}
		for _, n := range lags {
			if n != 0 {
				return false, err
			}
		}
		return true, err
	})
	_, body, err := httpGet(ctx, "http://"+addrs[0]+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kferry_export_records_total", "kferry_export_bytes_total", "kferry_export_objects_total", "kferry_export_upload_seconds_bucket", "kferry_export_partitions_owned"} {
		if !regexp.MustCompile(`(?m)^` + name + `\b`).MatchString(body) {
			t.Errorf("/metrics of member 0 lacks %s", name)
		}
	}

	took = terminate(t, members[0], 40*time.Second)
	t.Logf("member 0: SIGTERM → exit 0 in %s; its summary:\n%s", took.Round(10*time.Millisecond), members[0].stdout.String())
	if testing.Verbose() {
		t.Logf("member 1 stderr:\n%s", members[1].stderr.String())
	}
	checkFollowBucket(t, ctx, dir, url, sent)
}

// followProducer writes records round-robin into every partition until halted;
// record n of partition p has key k<n> and value {"p":p,"n":n}, so on a fresh
// topic n is its offset.
type followProducer struct {
	stop    chan struct{}
	done    chan struct{}
	started time.Time
	mu      sync.Mutex
	sent    map[int32]int64
	err     error
}

func startFollowProducer(t *testing.T, ctx context.Context, c cluster) *followProducer {
	t.Helper()
	w, err := kafka.NewWriter(ctx, c.Config(), kafka.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fp := &followProducer{stop: make(chan struct{}), done: make(chan struct{}), started: time.Now(), sent: map[int32]int64{}}
	go func() {
		defer close(fp.done)
		defer w.Close()
		// About 4,500 records/s: 10 records per partition every 20 ms.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-fp.stop:
				return
			case <-tick.C:
			}
			for p := range int32(followPartitions) {
				fp.mu.Lock()
				base := fp.sent[p]
				fp.mu.Unlock()
				for i := range int64(10) {
					n := base + i
					rec := record.Record{Topic: followTopic, Partition: p, Key: fmt.Appendf(nil, "k%d", n), Value: fmt.Appendf(nil, `{"p":%d,"n":%d}`, p, n)}
					if err := w.Produce(ctx, &rec); err != nil {
						fp.err = err
						return
					}
				}
			}
			if err := w.Flush(ctx); err != nil {
				fp.err = err
				return
			}
			fp.mu.Lock()
			for p := range int32(followPartitions) {
				fp.sent[p] += 10
			}
			fp.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-fp.stop:
		default:
			close(fp.stop)
		}
		<-fp.done
	})
	return fp
}

// halt stops producing and returns the records acknowledged per partition and
// the rate.
func (fp *followProducer) halt(t *testing.T) (map[int32]int64, float64) {
	t.Helper()
	close(fp.stop)
	<-fp.done
	if fp.err != nil {
		t.Fatalf("produce: %v", fp.err)
	}
	var total int64
	for _, n := range fp.sent {
		total += n
	}
	return fp.sent, float64(total) / time.Since(fp.started).Seconds()
}

// freeAddr is a free 127.0.0.1 port for a member's metrics.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

var lagLine = regexp.MustCompile(`(?m)^kferry_export_lag_records\{([^}]*)\} (\S+)$`)
var partitionLabel = regexp.MustCompile(`partition="(\d+)"`)

// scrapeLag returns the lag per partition that a member's /metrics shows.
func scrapeLag(ctx context.Context, addr string) (map[int32]float64, error) {
	code, body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", code)
	}
	out := map[int32]float64{}
	for _, m := range lagLine.FindAllStringSubmatch(body, -1) {
		pm := partitionLabel.FindStringSubmatch(m[1])
		if pm == nil || !regexp.MustCompile(`topic="`+followTopic+`"`).MatchString(m[1]) {
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

// committedOffsets returns the group's committed offset per partition of topic.
func committedOffsets(ctx context.Context, a *admin, group, topic string) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resps, err := a.adm.FetchOffsets(ctx, group)
	if err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return map[int32]int64{}, nil // nothing committed yet
		}
		return nil, err
	}
	out := map[int32]int64{}
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err == nil && r.Topic == topic {
			out[r.Partition] = r.At
		}
	})
	return out, nil
}

// terminate sends SIGTERM and waits for exit 0, returning how long it took.
func terminate(t *testing.T, p *proc, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if p.exited() {
		t.Fatalf("ended before SIGTERM\n%s", p)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("no exit within %s of SIGTERM\n%s", timeout, p)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0\n%s", code, p)
	}
	return time.Since(start)
}

// checkFollowBucket reads the bucket back: per partition, the objects must hold
// offsets 0 to sent-1 once each, in order, and each record must be the one
// produced at its offset. Two objects of a partition covering one offset fail
// the test (an object rewritten under its own name is one object).
func checkFollowBucket(t *testing.T, ctx context.Context, dir, url string, sent map[int32]int64) {
	t.Helper()
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cat, err := catalog.Scan(ctx, b, layout.DefaultTopicsDir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Skipped) > 0 {
		t.Logf("skipped (temporary files of the killed member): %v", cat.Skipped)
	}
	objects := 0
	for p := range int32(followPartitions) {
		po := cat.Topics[followTopic][p]
		if po == nil {
			t.Errorf("partition %d: no objects", p)
			continue
		}
		next := int64(0)
		for _, g := range po.Groups {
			objects++
			if g.Start != next {
				kind := "a gap before it"
				if g.Start < next {
					kind = "offsets that the previous object holds too"
				}
				t.Errorf("partition %d: object %s starts at %d, after offset %d: %s", p, g.Values.Key, g.Start, next-1, kind)
			}
			next = g.Start
			err := objset.Dump(ctx, b, g, nil, func(r *record.Record) error {
				var v struct{ P, N int64 }
				if err := json.Unmarshal(r.Value, &v); err != nil {
					return fmt.Errorf("offset %d: %w", r.Offset, err)
				}
				if v.P != int64(p) || v.N != r.Offset || string(r.Key) != fmt.Sprintf("k%d", r.Offset) {
					return fmt.Errorf("offset %d holds key %q value %s", r.Offset, r.Key, r.Value)
				}
				next = r.Offset + 1
				return nil
			})
			if err != nil {
				t.Errorf("partition %d object %s: %v", p, g.Values.Key, err)
			}
		}
		if next != sent[p] {
			t.Errorf("partition %d: the objects end at offset %d, want %d (every produced record)", p, next-1, sent[p]-1)
		}
	}
	if !t.Failed() {
		t.Logf("bucket %s: %d objects, every record once and in order", dir, objects)
	}
}

// TestFollowFlagsNeedFollow: follow-only flags without --follow are usage
// errors, found before connecting.
func TestFollowFlagsNeedFollow(t *testing.T) {
	url, _ := fileURL(t)
	for _, flag := range [][]string{{"--group", "g"}, {"--metrics-addr", "127.0.0.1:0"}} {
		r := kferry(t, runOpts{}, append([]string{"export", "--brokers", "127.0.0.1:1", "--topics", "t", "--to", url}, flag...)...)
		wantError(t, r, 2, "need --follow")
	}
}
