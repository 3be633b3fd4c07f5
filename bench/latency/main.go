// Command latency measures kferry's end-to-end latency in continuous mode: it
// produces records at a fixed rate into a source topic, each carrying its
// produce time, and reads the target topic that `kferry export --follow` and
// `kferry import --follow` (started by bench/run.sh) fill from it. A record's
// latency is the time it was read on the target (read_committed) minus the time
// it was handed to the producer on the source; both clocks are this process's,
// so there is no clock skew to correct.
//
//	latency -brokers 127.0.0.1:9092 -source lat -target lat-copy -rate 1000 -duration 60s
//
// With -target-brokers the target topic is read from that cluster instead
// (migrate from one cluster to another); the clock is still this process's.
//
// Before the measured run, one probe record per partition must arrive on the
// target: that proves the exporter owns every partition, the importer is polling
// and the target topic exists, so start-up (group join, topic creation) is not
// counted as latency.
//
// It prints one line of key=value pairs on stdout (records, missing,
// duplicates, p50_ms, p90_ms, p99_ms, max_ms, rate) and exits 1 when records are
// missing or duplicated, 2 on bad flags.
//
// It talks to Kafka through internal/kafka like kferry itself, so that the rule
// "only internal/kafka imports franz-go" (internal/archtest) holds for bench/ too.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/pkg/record"
)

type options struct {
	brokers       []string
	targetBrokers []string // where the target topic is; brokers when empty
	source        string
	target        string
	partitions    int
	rate          int
	duration      time.Duration
	warmup        time.Duration
	drain         time.Duration
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "comma-separated brokers of the cluster holding both topics")
	targetBrokers := fs.String("target-brokers", "", "comma-separated brokers of the target topic's cluster (default: -brokers)")
	var o options
	fs.StringVar(&o.source, "source", "lat", "topic to produce into (created when missing)")
	fs.StringVar(&o.target, "target", "lat-copy", "topic to read, filled by kferry import")
	fs.IntVar(&o.partitions, "partitions", 9, "partitions of the source topic")
	fs.IntVar(&o.rate, "rate", 1000, "records per second, spread round-robin over the partitions")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long to produce")
	fs.DurationVar(&o.warmup, "warmup-timeout", 2*time.Minute, "how long the probe records may take to arrive")
	fs.DurationVar(&o.drain, "drain-timeout", time.Minute, "how long to wait for the last records after producing stops")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.brokers, o.targetBrokers = splitList(*brokers), splitList(*targetBrokers)
	switch {
	case len(o.brokers) == 0:
		return o, errors.New("-brokers is required")
	case o.source == o.target && len(o.targetBrokers) == 0:
		return o, errors.New("-source and -target must differ on one cluster")
	case o.partitions < 1 || o.rate < 1 || o.duration <= 0:
		return o, errors.New("-partitions, -rate and -duration must be positive")
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// payload is a record's value: JSON, so that every export format keeps it.
// Run tells this run's records from those of an earlier run on the same
// cluster; Seq is -1-partition for the probes.
type payload struct {
	Run string `json:"run"`
	Seq int64  `json:"seq"`
	NS  int64  `json:"ns"`
}

func run(ctx context.Context, o options) error {
	cfg := kafka.Config{Brokers: o.brokers, ClientID: "kferry-latency"}
	if err := ensureTopic(ctx, cfg, o.source, o.partitions); err != nil {
		return err
	}
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	runID := hex.EncodeToString(nonce)
	total := int64(o.rate) * int64(o.duration/time.Millisecond) / 1000
	rx := newReceiver(runID, o.partitions, total)
	rx.window = int64(o.rate) * 10

	tcfg := cfg
	if len(o.targetBrokers) > 0 {
		tcfg.Brokers = o.targetBrokers
	}
	c, err := startConsumer(ctx, tcfg, o.target, runID, rx)
	if err != nil {
		return err
	}
	defer c.close()

	w, err := kafka.NewWriter(ctx, cfg, kafka.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Close()

	if err := sendProbes(ctx, w, o, runID, rx, c); err != nil {
		return err
	}

	logf("producing %d records/s into %s (%d partitions) for %s", o.rate, o.source, o.partitions, o.duration)
	began := time.Now()
	if err := pace(ctx, w, o, runID, total); err != nil {
		return err
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	produced := time.Since(began)
	logf("produced %d records in %.1fs; waiting up to %s for the rest", total, produced.Seconds(), o.drain)
	waitErr := rx.wait(ctx, rx.allIn, o.drain, c.consumed, c.stopped)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return report(rx.result(), total, produced, waitErr)
}

// consumer reads the target topic into a receiver on a goroutine of its own.
type consumer struct {
	g        *kafka.GroupReader
	stop     context.CancelFunc
	consumed chan struct{} // closed when consume returns, with err set
	err      error
}

// startConsumer starts reading topic in a fresh group, which starts at the
// log start and so sees every record of this run.
func startConsumer(ctx context.Context, cfg kafka.Config, topic, runID string, rx *receiver) (*consumer, error) {
	g, err := kafka.NewGroupReader(ctx, cfg, kafka.GroupOptions{
		Group:  "kferry-latency-" + runID,
		Topics: []string{topic},
		// The target appears when the importer creates it; notice it soon.
		MetadataMaxAge: time.Second,
	})
	if err != nil {
		return nil, err
	}
	cctx, stop := context.WithCancel(ctx)
	c := &consumer{g: g, stop: stop, consumed: make(chan struct{})}
	go func() { c.err = consume(cctx, g, rx); close(c.consumed) }()
	return c, nil
}

// close stops the consumer, waits for it to return and closes its reader.
func (c *consumer) close() {
	c.stop()
	<-c.consumed
	c.g.Close()
}

// stopped says why the consumer stopped; it is called once consumed is closed.
func (c *consumer) stopped() error {
	if c.err == nil {
		return errors.New("consumer stopped")
	}
	return fmt.Errorf("consumer stopped: %w", c.err)
}

// sendProbes produces one probe per partition and waits for them all on the
// target, so that start-up is not counted as latency.
func sendProbes(ctx context.Context, w *kafka.Writer, o options, runID string, rx *receiver, c *consumer) error {
	logf("waiting for one probe per partition on %s (up to %s)", o.target, o.warmup)
	for p := range o.partitions {
		if err := produce(ctx, w, o.source, int32(p), payload{Run: runID, Seq: -1 - int64(p)}); err != nil {
			return err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	if err := rx.wait(ctx, rx.probesIn, o.warmup, c.consumed, c.stopped); err != nil {
		return fmt.Errorf("probes: %w", err)
	}
	return nil
}

// report prints the result line and returns an error when records are
// missing or duplicated, or not all arrived (waitErr).
func report(r result, total int64, produced time.Duration, waitErr error) error {
	fmt.Printf("records=%d received=%d missing=%d duplicates=%d p50_ms=%d p90_ms=%d p99_ms=%d max_ms=%d rate=%.0f\n",
		total, r.received, r.missing, r.duplicates, r.p50.Milliseconds(), r.p90.Milliseconds(),
		r.p99.Milliseconds(), r.max.Milliseconds(), float64(total)/produced.Seconds())
	switch {
	case r.missing > 0 || r.duplicates > 0:
		return fmt.Errorf("%d of %d records missing, %d duplicated", r.missing, total, r.duplicates)
	case waitErr != nil:
		return waitErr
	}
	return nil
}

// ensureTopic creates topic with n partitions, or checks the one there.
func ensureTopic(ctx context.Context, cfg kafka.Config, topic string, n int) error {
	c, err := kafka.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CreateTopic(ctx, topic, int32(n), -1); err != nil {
		return err
	}
	ts, err := c.Topics(ctx)
	if err != nil {
		return err
	}
	if got := ts[topic].Partitions; got != n {
		return fmt.Errorf("topic %s has %d partitions, want %d", topic, got, n)
	}
	return nil
}

// pace produces total records at o.rate. A coarse ticker paces it: each tick
// sends the records due by then, so a late tick catches up instead of lowering
// the rate, and each record is stamped just before it is handed over.
func pace(ctx context.Context, w *kafka.Writer, o options, runID string, total int64) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for seq := int64(0); seq < total; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := min(total, int64(now.Sub(start).Seconds()*float64(o.rate)))
			for ; seq < due; seq++ {
				if err := produce(ctx, w, o.source, int32(seq%int64(o.partitions)), payload{Run: runID, Seq: seq}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func produce(ctx context.Context, w *kafka.Writer, topic string, p int32, v payload) error {
	v.NS = time.Now().UnixNano()
	b, _ := json.Marshal(v) // a struct of strings and ints always marshals
	// Writer keeps the value slice until delivery, so b is fresh per record.
	return w.Produce(ctx, &record.Record{Topic: topic, Partition: p, Value: b})
}

// consume hands every polled record to rx until ctx ends.
func consume(ctx context.Context, g *kafka.GroupReader, rx *receiver) error {
	for {
		err := g.Poll(ctx, func(b kafka.Batch) error {
			now := time.Now().UnixNano()
			for _, r := range b.Records {
				rx.add(r.Value, now)
			}
			return nil
		}, nil)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// receiver keeps each record's latency by sequence number.
type receiver struct {
	runID  string
	total  int64
	window int64 // records per 10 s of producing, for the per-window lines

	mu         sync.Mutex
	lat        []time.Duration // -1 until the record arrives
	received   int64
	duplicates int64
	foreign    int64
	probes     []bool
	probesLeft int
	changed    chan struct{} // closed and replaced on every add
}

func newReceiver(runID string, partitions int, total int64) *receiver {
	lat := make([]time.Duration, total)
	for i := range lat {
		lat[i] = -1
	}
	return &receiver{runID: runID, total: total, lat: lat,
		probes: make([]bool, partitions), probesLeft: partitions, changed: make(chan struct{})}
}

func (rx *receiver) add(value []byte, now int64) {
	var v payload
	err := json.Unmarshal(value, &v)
	rx.mu.Lock()
	defer rx.mu.Unlock()
	defer func() { close(rx.changed); rx.changed = make(chan struct{}) }()
	switch {
	case err != nil || v.Run != rx.runID:
		rx.foreign++
	case v.Seq < 0 && -1-v.Seq < int64(len(rx.probes)):
		if !rx.probes[-1-v.Seq] {
			rx.probes[-1-v.Seq] = true
			rx.probesLeft--
		}
	case v.Seq < 0 || v.Seq >= rx.total:
		rx.foreign++
	case rx.lat[v.Seq] >= 0:
		rx.duplicates++
	default:
		rx.lat[v.Seq] = time.Duration(now - v.NS)
		rx.received++
	}
}

func (rx *receiver) probesIn() bool { return rx.probesLeft == 0 }
func (rx *receiver) allIn() bool    { return rx.received == rx.total }

// wait returns once done (called under rx.mu) holds, or an error when timeout
// passes, ctx ends or the consumer stopped (consumed closed; stopped says why).
func (rx *receiver) wait(ctx context.Context, done func() bool, timeout time.Duration, consumed <-chan struct{}, stopped func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		rx.mu.Lock()
		ok, changed := done(), rx.changed
		rx.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("not all records arrived within %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-consumed:
			return stopped()
		}
	}
}

type result struct {
	received, missing, duplicates int64
	p50, p90, p99, max            time.Duration
}

func (rx *receiver) result() result {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	got := make([]time.Duration, 0, rx.received)
	for _, d := range rx.lat {
		if d >= 0 {
			got = append(got, d)
		}
	}
	slices.Sort(got)
	if rx.foreign > 0 {
		logf("ignored %d records of other runs or not ours", rx.foreign)
	}
	rx.logWindows()
	r := result{received: rx.received, missing: rx.total - rx.received, duplicates: rx.duplicates}
	if len(got) > 0 {
		r.p50, r.p90, r.p99, r.max = rank(got, 0.50), rank(got, 0.90), rank(got, 0.99), got[len(got)-1]
	}
	return r
}

// logWindows prints the percentiles of each 10 s of producing, to tell a
// steady state from a slow start or a backlog that keeps growing.
func (rx *receiver) logWindows() {
	if rx.window <= 0 {
		return
	}
	for from := int64(0); from < rx.total; from += rx.window {
		var got []time.Duration
		for _, d := range rx.lat[from:min(from+rx.window, rx.total)] {
			if d >= 0 {
				got = append(got, d)
			}
		}
		if len(got) == 0 {
			continue
		}
		slices.Sort(got)
		logf("records %d-%d: p50 %dms p99 %dms max %dms", from, min(from+rx.window, rx.total)-1,
			rank(got, 0.5).Milliseconds(), rank(got, 0.99).Milliseconds(), got[len(got)-1].Milliseconds())
	}
}

// rank is the nearest-rank percentile of sorted.
func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s latency: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
