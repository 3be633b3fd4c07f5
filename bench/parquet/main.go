// Command parquet measures `kferry export --format parquet` (Avro records in
// the Schema Registry wire format, written as Parquet) against `kferry export
// --format json` of the same records as JSON, on an in-process kfake cluster
// and srfake registry. It runs the kferry binary given by -kferry for each,
// times it, takes its peak RSS from the kernel (rusage), checks that every
// record landed (the objects' row counts, read back with kferry cat) and
// prints one line per format and their ratio:
//
//	go build -o /tmp/kferry ./cmd/kferry && go run ./bench/parquet -kferry /tmp/kferry -records 1000000
//
// Records are orders of about 100 bytes as Avro ({id, customer, amount, note,
// ts, tags}), about 150 as JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/record"
)

const orderSchema = `{"type":"record","name":"Order","namespace":"bench","fields":[
 {"name":"id","type":"long"},{"name":"customer","type":"string"},{"name":"amount","type":"double"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"tags","type":{"type":"array","items":"string"}}]}`

type order struct {
	ID       int64    `avro:"id" json:"id"`
	Customer string   `avro:"customer" json:"customer"`
	Amount   float64  `avro:"amount" json:"amount"`
	Note     *string  `avro:"note" json:"note"`
	TS       int64    `avro:"ts" json:"ts"`
	Tags     []string `avro:"tags" json:"tags"`
}

// tb is what kafkatest needs of a testing.TB, for a program.
type tb struct{ cleanups []func() }

func (*tb) Helper()            {}
func (*tb) Fatal(args ...any)  { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (t *tb) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (*tb) TempDir() string    { d, _ := os.MkdirTemp("", "kferry-bench-parquet"); return d }
func (t *tb) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func main() {
	bin := flag.String("kferry", "", "the kferry binary")
	n := flag.Int("records", 1000000, "records per topic")
	parts := flag.Int("partitions", 9, "partitions per topic")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "parquet: -kferry PATH is required")
		os.Exit(2)
	}
	t := &tb{}
	defer t.close()
	if err := run(t, *bin, *n, int32(*parts)); err != nil {
		fmt.Fprintln(os.Stderr, "parquet:", err)
		t.close()
		os.Exit(1)
	}
}

func run(t *tb, bin string, n int, parts int32) error {
	ctx := context.Background()
	c, err := kafkatest.Start(1)
	if err != nil {
		return err
	}
	defer c.Close()
	reg := kafkatest.NewRegistry(t, "", "")
	id := reg.Register(t, "orders-value", orderSchema)
	if err := seed(ctx, c, id, n, parts); err != nil {
		return err
	}
	brokers := strings.Join(c.ListenAddrs(), ",")
	type result struct {
		secs  float64
		rssMB float64
	}
	res := map[string]result{}
	for _, f := range []struct{ name, topic string }{{"json", "orders-json"}, {"parquet", "orders"}} {
		dir, err := os.MkdirTemp("", "kferry-bench-parquet-"+f.name)
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }() // scratch data; a leftover harms nothing
		args := []string{"export", "--brokers", brokers, "--topics", f.topic, "--to", dir, "--format", f.name, "--log-level", "warn"}
		if f.name == "parquet" {
			args = append(args, "--schema-registry", reg.URL())
		}
		cmd := exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		begin := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("export %s: %w", f.name, err)
		}
		hwm := watchHWM(cmd.Process.Pid)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("export %s: %w", f.name, err)
		}
		secs := time.Since(begin).Seconds()
		rss := float64(<-hwm) / 1024
		got, err := countRecords(dir)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("export %s: %d records in the bucket, want %d", f.name, got, n)
		}
		res[f.name] = result{secs, rss}
		fmt.Printf("format=%s records=%d secs=%.2f records_per_s=%.0f peak_rss_mib=%.0f\n", f.name, n, secs, float64(n)/secs, rss)
	}
	fmt.Printf("parquet_vs_json_records_per_s=%.2f\n", res["json"].secs/res["parquet"].secs)
	return nil
}

// seed produces n orders into topic orders (Avro, schema id) and the same
// orders as JSON into orders-json.
func seed(ctx context.Context, c *kafkatest.Cluster, id, n int, parts int32) error {
	sch := avro.MustParse(orderSchema)
	for _, topic := range []string{"orders", "orders-json"} {
		if err := c.CreateTopic(ctx, topic, parts); err != nil {
			return err
		}
	}
	start := time.Now()
	const batch = 20000
	for at := 0; at < n; at += batch {
		var avroRecs, jsonRecs []record.Record
		for i := at; i < min(n, at+batch); i++ {
			o := order{ID: int64(i), Customer: fmt.Sprintf("customer-%06d", i%50000), Amount: float64(i%10000) / 100,
				TS: 1_764_000_000_000 + int64(i), Tags: []string{"web", "eu"}}
			if i%3 == 0 {
				s := fmt.Sprintf("note %d", i)
				o.Note = &s
			}
			b, err := avro.Marshal(sch, o)
			if err != nil {
				return err
			}
			js, _ := json.Marshal(o)
			p := int32(i) % parts
			avroRecs = append(avroRecs, record.Record{Topic: "orders", Partition: p, Value: avrofmt.AppendWire(nil, id, b)})
			jsonRecs = append(jsonRecs, record.Record{Topic: "orders-json", Partition: p, Value: js})
		}
		if err := c.Produce(ctx, append(avroRecs, jsonRecs...)); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "seeded %d records per topic in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// watchHWM polls the peak RSS (VmHWM, KiB) of process pid until it exits
// and sends the last value read. The kernel's rusage would not do: a child's
// ru_maxrss starts from this process's RSS at fork, and this process holds
// the cluster's records.
func watchHWM(pid int) <-chan int {
	out := make(chan int, 1)
	go func() {
		last := 0
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			b, err := os.ReadFile(path)
			if err != nil || strings.Contains(string(b), "State:\tZ") {
				out <- last
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB")); err == nil {
						last = kb
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return out
}

// countRecords counts the records in dir's objects: Parquet files' row
// counts (from their footers, with parquet-go) and JSON objects' lines.
func countRecords(dir string) (int, error) {
	total := 0
	err := filepath.WalkDir(filepath.Join(dir, "topics"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".parquet"):
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer func() { _ = f.Close() }() // read only
			st, err := f.Stat()
			if err != nil {
				return err
			}
			pf, err := parquet.OpenFile(f, st.Size())
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			total += int(pf.NumRows())
		case strings.HasSuffix(path, ".json"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			total += bytes.Count(b, []byte("\n"))
		}
		return nil
	})
	return total, err
}
