package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/record"
)

// parquetKeys keeps the Parquet objects of keys.
func parquetKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasSuffix(k, ".parquet") {
			out = append(out, k)
		}
	}
	return out
}

// TestParquetRoundTrip: Avro records in the wire format export as Parquet
// objects (one per schema run, keys and headers sidecars) and import into a
// second cluster whose registry numbers schemas differently: every record
// decodes with the target registry, under the renamed subject, and equals
// its source record, key and headers included.
func TestParquetRoundTrip(t *testing.T) {
	parquetRoundTrip(t, kafkatest.NewRegistry(t, "", "").URL())
}

// parquetRoundTrip is TestParquetRoundTrip with the source's registry at
// srcReg (TestAvroRoundTripApicurio runs it on Apicurio Registry).
func parquetRoundTrip(t *testing.T, srcReg string) {
	src := kafkatest.NewCluster(t)
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "orders", "--to", dir, "--format", "parquet",
		"--store-keys", "--store-headers", "--headers-format", "parquet", "--schema-registry", srcReg)
	var want []string
	for _, stem := range []string{"partition=0/orders+0+0000000000", "partition=0/orders+0+0000000005", "partition=0/orders+0+0000000009", "partition=1/orders+1+0000000000"} {
		for _, view := range []string{"", ".headers", ".keys"} {
			want = append(want, "topics/orders/"+stem+view+".snappy.parquet")
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, bucketKeys(t, dir)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	dst, dstReg := shiftedTarget(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--rename", "orders=orders-copy", "--schema-registry", dstReg)
	verifyAvroCopy(t, src, dst, srcReg, dstReg)
}

// TestParquetErrors: parquet without a registry is a usage error; a value
// whose schema is not a record (Parquet holds records) fails with one line
// naming the offset and the id, and writes no object; a bad codec is a
// usage error.
func TestParquetErrors(t *testing.T) {
	c, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	_, errOut, code := run(t, "export", "--brokers", brokers(c), "--topics", "x", "--to", t.TempDir(), "--format", "parquet")
	if code != ExitUsage || !strings.Contains(errOut, "--schema-registry") {
		t.Errorf("no registry: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run(t, "export", "--brokers", brokers(c), "--topics", "x", "--to", t.TempDir(), "--format", "parquet", "--schema-registry", reg.URL(), "--parquet-codec", "lzo")
	if code != ExitUsage || !strings.Contains(errOut, "--parquet-codec") {
		t.Errorf("bad codec: exit %d, stderr %q", code, errOut)
	}
	id := reg.Register(t, "plain-value", `"string"`)
	if err := c.CreateTopic(context.Background(), "plain", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(context.Background(), []record.Record{{Topic: "plain", Value: avroValue(t, `"string"`, id, "text")}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, errOut, code = run(t, "export", "--brokers", brokers(c), "--topics", "plain", "--to", dir, "--format", "parquet", "--schema-registry", reg.URL())
	if code != ExitFailed || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "offset 0") || !strings.Contains(errOut, "records") {
		t.Errorf("string values: exit %d, stderr %q", code, errOut)
	}
	if keys := bucketKeys(t, dir); len(keys) != 0 {
		t.Errorf("objects written: %v", keys)
	}
}

// pyarrowReader reads each Parquet file named on its command line with
// pyarrow and prints its column names, row count and Avro schema name as one
// JSON line; then DuckDB counts the rows of them all and reads the ids.
const pyarrowReader = `
import json, sys
import pyarrow.parquet as pq
import duckdb
for path in sys.argv[1:]:
    t = pq.read_table(path)
    meta = pq.ParquetFile(path).schema_arrow.metadata or {}
    avro = json.loads(meta.get(b"parquet.avro.schema", b"{}"))
    print(json.dumps({"file": path.rsplit("/", 1)[-1], "columns": t.column_names, "rows": t.num_rows, "avro": avro.get("name", "")}))
files = ", ".join("'%s'" % p for p in sys.argv[1:])
print(json.dumps({"duckdb": duckdb.sql("select count(*), count(distinct id), sum(coalesce(qty, 0)) from read_parquet([%s], union_by_name=true)" % files).fetchall()[0]}))
`

// TestParquetPyarrow: pyarrow and DuckDB (independent readers, from PyPI)
// read every exported values object with the expected columns, rows and
// Avro schema, for each codec. Needs KFERRY_TEST_FASTAVRO (a python with
// pyarrow and duckdb, scripts/test-env.sh); fails without it under CI.
func TestParquetPyarrow(t *testing.T) {
	py := os.Getenv("KFERRY_TEST_FASTAVRO")
	if py == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KFERRY_TEST_FASTAVRO is not set (run through scripts/test-env.sh)")
		}
		t.Skip("KFERRY_TEST_FASTAVRO is not set (run through scripts/test-env.sh)")
	}
	c, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	seedAvro(t, c, reg.URL())
	for codec, ext := range map[string]string{"none": ".parquet", "snappy": ".snappy.parquet", "gzip": ".gz.parquet", "zstd": ".zstd.parquet", "brotli": ".br.parquet"} {
		t.Run(codec, func(t *testing.T) {
			dir := t.TempDir()
			mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", dir, "--format", "parquet",
				"--schema-registry", reg.URL(), "--parquet-codec", codec)
			var paths []string
			for _, k := range parquetKeys(bucketKeys(t, dir)) {
				if !strings.HasSuffix(k, ext) || strings.HasSuffix(k, ".snappy"+ext) {
					t.Fatalf("object %s does not end in %s", k, ext)
				}
				paths = append(paths, filepath.Join(dir, k))
			}
			out, err := exec.Command(py, append([]string{"-c", pyarrowReader}, paths...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("pyarrow: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			type file struct {
				Columns []string
				Rows    int
				Avro    string
			}
			got := map[string]file{}
			for _, line := range lines[:len(lines)-1] {
				var f struct {
					File string
					file
				}
				if err := json.Unmarshal([]byte(line), &f); err != nil {
					t.Fatalf("pyarrow output %q: %v", line, err)
				}
				got[f.File] = f.file
			}
			v1, v2 := []string{"id", "note"}, []string{"id", "note", "qty"}
			want := map[string]file{
				"orders+0+0000000000" + ext: {v1, 5, "Order"}, "orders+0+0000000005" + ext: {v2, 4, "Order"},
				"orders+0+0000000009" + ext: {v1, 2, "Order"}, "orders+1+0000000000" + ext: {v1, 3, "Order"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read by pyarrow (-want +got):\n%s", diff)
			}
			// 14 records with ids 0..13; qty = the index of the four v2 records (5..8).
			if last := lines[len(lines)-1]; last != `{"duckdb": [14, 14, 26]}` {
				t.Errorf("DuckDB: %s, want 14 rows, 14 ids, qty sum 26", last)
			}
		})
	}
}

// TestParquetJSONValues: plain JSON values (no registry) export as Parquet
// with an inferred schema (or a given one), in field-partitioned folders,
// and import back as the same JSON, keys and headers included; the schema
// is logged; --value-schema without --format parquet is a usage error.
func TestParquetJSONValues(t *testing.T) {
	src := kafkatest.NewCluster(t)
	if err := src.CreateTopic(context.Background(), "events", 2); err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for i := range 40 {
		v := fmt.Sprintf(`{"id":%d,"kind":"k%d","amount":%d.5,"tags":["a","b"],"who":{"name":"n%d"}}`, i, i%2, i, i)
		if i == 30 { // another shape: a new object
			v = fmt.Sprintf(`{"id":%d,"kind":"k0","extra":null}`, i)
		}
		recs = append(recs, record.Record{Topic: "events", Partition: int32(i % 2), Key: fmt.Appendf(nil, "key-%d", i), Value: []byte(v),
			Headers: []record.Header{{Key: "h", Value: []byte("v")}}})
	}
	if err := src.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, errOut := mustRun(t, "export", "--brokers", brokers(src), "--topics", "events", "--to", dir, "--format", "parquet", "--value-schema", "infer",
		"--store-keys", "--store-headers", "--partitioner", "field", "--partition-field", "kind")
	if !strings.Contains(errOut, "schema inferred") || !strings.Contains(errOut, `{\"name\":\"amount\",\"type\":[\"null\",\"double\"]`) {
		t.Errorf("the inferred schema is not logged:\n%s", errOut)
	}
	if n := len(parquetKeys(bucketKeys(t, dir))); n < 8 {
		t.Errorf("%d parquet objects, want values and keys per partition and kind", n)
	}
	dst := kafkatest.NewCluster(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--partitioner", "field", "--partition-field", "kind")
	got, want := records(t, dst, "events"), records(t, src, "events")
	for p := range int32(2) {
		if len(got[p]) != len(want[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(got[p]), len(want[p]))
		}
		for i := range got[p] {
			g, w := got[p][i], want[p][i]
			if string(g.Value) != string(w.Value) || string(g.Key) != string(w.Key) || !cmp.Equal(g.Headers, w.Headers) {
				t.Fatalf("partition %d record %d: %s %s %v, want %s %s %v", p, i, g.Key, g.Value, g.Headers, w.Key, w.Value, w.Headers)
			}
		}
	}
	_, errOut, code := run(t, "export", "--brokers", brokers(src), "--topics", "events", "--to", t.TempDir(), "--value-schema", "infer")
	if code != ExitUsage || !strings.Contains(errOut, "--format parquet") {
		t.Errorf("--value-schema with json: exit %d, stderr %q", code, errOut)
	}
	schema := filepath.Join(t.TempDir(), "s.avsc")
	if err := os.WriteFile(schema, []byte(`{"type":"record","name":"E","fields":[{"name":"id","type":"long"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, "export", "--brokers", brokers(src), "--topics", "events", "--to", t.TempDir(), "--format", "parquet", "--value-schema", schema)
	if code != ExitFailed || !strings.Contains(errOut, "offset 0") || !strings.Contains(errOut, `"kind"`) {
		t.Errorf("values with fields the schema lacks: exit %d, stderr %q", code, errOut)
	}
}
