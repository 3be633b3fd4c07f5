package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/record"
)

const (
	keyV1 = `{"type":"record","name":"K","namespace":"com.acme","fields":[{"name":"k","type":"long"}]}`
	keyV2 = `{"type":"record","name":"K","namespace":"com.acme","fields":[{"name":"k","type":"long"},{"name":"r","type":"string","default":""}]}`
)

// TestAvroKeySchemaFlips: keys in the wire format whose schema changes while
// the values' does not, values flipping back and forth: every change of
// either starts a new object set; a rerun of the export writes the same
// bytes; import run twice writes each record once, key and value equal.
func TestAvroKeySchemaFlips(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	v1, v2 := srcReg.Register(t, "flip-value", orderV1), srcReg.Register(t, "flip-value", orderV2)
	k1, k2 := srcReg.Register(t, "flip-key", keyV1), srcReg.Register(t, "flip-key", keyV2)
	var recs []record.Record
	// value schema pattern and key schema pattern differ
	vs := []int{1, 1, 1, 2, 2, 1, 2, 1, 1, 1}
	ks := []int{1, 2, 2, 2, 1, 1, 1, 1, 2, 1}
	for i := range vs {
		val := map[string]any{"id": int64(i), "note": nil}
		vsch, vid := orderV1, v1
		if vs[i] == 2 {
			vsch, vid = orderV2, v2
			val["qty"] = i
		}
		key := map[string]any{"k": int64(i)}
		ksch, kid := keyV1, k1
		if ks[i] == 2 {
			ksch, kid = keyV2, k2
			key["r"] = fmt.Sprint("r", i)
		}
		recs = append(recs, record.Record{Topic: "flip", Key: avroValue(t, ksch, kid, key), Value: avroValue(t, vsch, vid, val)})
	}
	if err := src.CreateTopic(context.Background(), "flip", 1); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "flip", "--to", dir, "--format", "avro", "--store-keys", "--schema-registry", srcReg.URL())
	wantObjs := []string{}
	for _, o := range []int{0, 1, 3, 4, 5, 6, 7, 8, 9} { // offset 2 has both schemas of offset 1
		wantObjs = append(wantObjs, fmt.Sprintf("topics/flip/partition=0/flip+0+%010d.avro", o), fmt.Sprintf("topics/flip/partition=0/flip+0+%010d.keys.avro", o))
	}
	if diff := cmp.Diff(wantObjs, bucketKeys(t, dir)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	dir2 := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "flip", "--to", dir2, "--format", "avro", "--store-keys", "--schema-registry", srcReg.URL())
	for _, k := range bucketKeys(t, dir) {
		a, _ := os.ReadFile(filepath.Join(dir, k))
		b, _ := os.ReadFile(filepath.Join(dir2, k))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs on rerun", k)
		}
	}
	dst, dstReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	dstReg.Register(t, "x-value", `"string"`)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg.URL())
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg.URL())
	clA, _ := schemareg.New(schemareg.Config{URL: srcReg.URL()})
	clB, _ := schemareg.New(schemareg.Config{URL: dstReg.URL()})
	got, want := records(t, dst, "flip")[0], records(t, src, "flip")[0]
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		_, gv := decoded(t, clB, got[i].Value)
		_, wv := decoded(t, clA, want[i].Value)
		_, gk := decoded(t, clB, got[i].Key)
		_, wk := decoded(t, clA, want[i].Key)
		if !cmp.Equal(gv, wv) || !cmp.Equal(gk, wk) {
			t.Errorf("record %d: got %v %v, want %v %v", i, gk, gv, wk, wv)
		}
	}
}

// connectorFile writes an OCF file as Confluent's connector would.
func connectorFile(t *testing.T, path, schema, codec string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(schema, &buf, ocf.WithCodec(ocf.CodecName(codec)), ocf.WithBlockLength(2))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := enc.Encode(map[string]any{"id": int64(i), "note": nil}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const connectSchema = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}],"connect.version":1,"connect.name":"com.acme.Order"}`

// TestAvroConnectorFiles: .avro files as Confluent's connector writes them
// (connect.* properties; deflate, snappy, null; with no records, which
// registers nothing) import;
// a truncated file and one with an altered sync marker fail with one line
// naming the object, nothing of it written.
func TestAvroConnectorFiles(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, "topics", "conn", "partition=0", name) }
	connectorFile(t, p("conn+0+0000000000.avro"), connectSchema, "deflate", 0)
	connectorFile(t, p("conn+0+0000000001.avro"), connectSchema, "snappy", 5)
	connectorFile(t, p("conn+0+0000000006.avro"), connectSchema, "null", 3)
	connectorFile(t, filepath.Join(dir, "topics", "empty", "partition=0", "empty+0+0000000000.avro"), connectSchema, "snappy", 0)
	dst, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", reg.URL())
	if n := total(records(t, dst, "conn")); n != 8 {
		t.Errorf("%d records, want 8", n)
	}
	if _, _, ok := reg.Version("empty-value", 1); ok {
		t.Error("a file without records registered its schema")
	}
	for _, bad := range []struct {
		name string
		mod  func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }},
		{"badsync", func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)-1] ^= 0xff; return c }},
	} {
		t.Run(bad.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "topics", bad.name, "partition=0", bad.name+"+0+0000000000.avro")
			b := connectorFile(t, path, connectSchema, "deflate", 7)
			if err := os.WriteFile(path, bad.mod(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", reg.URL())
			if code != ExitFailed || !errorLine(errLine(errOut)) || !strings.Contains(errOut, bad.name+"+0+0000000000.avro") {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
			if topicExists(t, dst, bad.name) {
				if n := total(records(t, dst, bad.name)); n != 0 {
					t.Errorf("%d records written", n)
				}
			}
		})
	}
}

// TestAvroRegistryRefuses: the target registry refuses the file's schema
// (409, incompatible): one line naming the object and the registry's reason,
// not retried, nothing written.
func TestAvroRegistryRefuses(t *testing.T) {
	src, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	seedAvro(t, src, reg.URL())
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "orders", "--to", dir, "--format", "avro", "--schema-registry", reg.URL())
	dst, dreg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	var posts atomic.Int32
	dreg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			posts.Add(1)
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"orders-value\""}`))
			return true
		}
		return false
	})
	_, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dreg.URL(), "--parallelism", "1")
	if code != ExitFailed || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "incompatible") || !strings.Contains(errOut, "orders+0+0000000000.avro") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("%d registrations tried, want 1 (a 409 is not retried)", n)
	}
	if topicExists(t, dst, "orders") {
		if n := total(records(t, dst, "orders")); n != 0 {
			t.Errorf("%d records written", n)
		}
	}
}

// TestAvroSecretsDebug: credentials in the --schema-registry URL show
// nowhere at debug level (stdout, stderr, --report), right or wrong, nor in
// the usage error of a URL that does not parse.
func TestAvroSecretsDebug(t *testing.T) {
	c := kafkatest.NewCluster(t)
	reg := kafkatest.NewRegistry(t, "alice", "s3cret-pw")
	withCreds := strings.Replace(reg.URL(), "http://", "http://alice:s3cret-pw@", 1)
	seedAvro(t, c, withCreds)
	dir := t.TempDir()
	report := filepath.Join(t.TempDir(), "r.json")
	out, errOut := mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", dir, "--format", "avro", "--schema-registry", withCreds, "--log-level", "debug", "--report", report)
	rep, _ := os.ReadFile(report)
	noSecret(t, []string{"s3cret-pw"}, out, errOut, string(rep))
	bad := strings.Replace(withCreds, "s3cret-pw", "wr0ng-pw", 1)
	out, errOut, code := run(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", t.TempDir(), "--format", "avro", "--schema-registry", bad, "--log-level", "debug", "--report", report)
	rep, _ = os.ReadFile(report)
	if code != ExitFailed || !strings.Contains(string(rep), "not authorized") {
		t.Errorf("wrong password: exit %d, report %s", code, rep)
	}
	noSecret(t, []string{"wr0ng-pw"}, out, errOut, string(rep))
	// bad URL with creds
	out, errOut, code = run(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", t.TempDir(), "--format", "avro", "--schema-registry", "htp://alice:z3cret@x:1/%zz", "--log-level", "debug")
	if code != ExitUsage {
		t.Errorf("bad URL: exit %d", code)
	}
	noSecret(t, []string{"z3cret"}, out, errOut)
}

// TestImportLongKeysNotTranslated: a binary key (a big-endian long, as
// Kafka's LongSerializer writes) starts with byte 0 and its bytes 1-4 happen
// to be a schema id the source registry knows. It is no datum of that schema,
// so import --source-schema-registry refuses it with one line (it used to
// rewrite the "id" silently, changing the key, and register the schema under
// <topic>-key in the target); nothing is written or registered.
func TestImportLongKeysNotTranslated(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	id := srcReg.Register(t, "lk-value", orderV1)
	good := avroValue(t, orderV1, id, map[string]any{"id": int64(1), "note": nil})
	key := []byte{0, 0, 0, 0, byte(id), 0x10, 0x20, 0x30} // payload: long 8, then union index 16 of 2
	if err := src.CreateTopic(context.Background(), "lk", 1); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), []record.Record{{Topic: "lk", Key: key, Value: good}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "lk", "--to", dir, "--format", "native")
	dst, dstReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	dstReg.Register(t, "x-value", `"string"`) // the target numbers differently
	_, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg.URL(), "--source-schema-registry", srcReg.URL())
	if code != ExitFailed || !errorLine(errLine(errOut)) {
		t.Fatalf("exit %d, stderr %q; want exit %d and one error line", code, errOut, ExitFailed)
	}
	for _, w := range []string{"lk+0+0000000000", "offset 0", "key schema id 1", "not a datum of that schema"} {
		if !strings.Contains(errLine(errOut), w) {
			t.Errorf("error %q does not say %q", errLine(errOut), w)
		}
	}
	if topicExists(t, dst, "lk") && total(records(t, dst, "lk")) != 0 {
		t.Errorf("records written: %v", records(t, dst, "lk"))
	}
	if _, _, ok := dstReg.Version("lk-key", 1); ok {
		t.Error("the key's supposed schema was registered under lk-key in the target")
	}
}

// TestAvroExportLongKeys: --store-keys with binary keys that start with byte
// 0 (big-endian longs): one whose bytes 1-4 are an id the registry does not
// know, one whose id it knows but whose payload is no datum of that schema.
// Both are plain keys, not Avro ones (the export used to fail on the first
// with "schema id 0 not found"); they import as they were, and the unknown
// id is asked of the registry once, not per record.
func TestAvroExportLongKeys(t *testing.T) {
	src, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	id := reg.Register(t, "lk-value", orderV1)
	var gets atomic.Int32
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/schemas/ids/0" {
			gets.Add(1)
		}
		return false
	})
	good := avroValue(t, orderV1, id, map[string]any{"id": int64(1), "note": nil})
	keys := [][]byte{{0, 0, 0, 0, 0, 0, 0, 7}, {0, 0, 0, 0, byte(id), 0x10, 0x20, 0x30}, {0, 0, 0, 0, 0, 0, 0, 9}}
	var recs []record.Record
	for _, k := range keys {
		recs = append(recs, record.Record{Topic: "lk", Key: k, Value: good})
	}
	if err := src.CreateTopic(context.Background(), "lk", 1); err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "lk", "--to", dir, "--format", "avro", "--store-keys", "--schema-registry", reg.URL())
	if n := gets.Load(); n != 1 {
		t.Errorf("schema id 0 asked %d times, want once", n)
	}
	if got := avroKeys(bucketKeys(t, dir)); len(got) != 2 {
		t.Errorf("objects %v, want one values and one keys object", got)
	}
	dst := kafkatest.NewCluster(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", reg.URL())
	got := records(t, dst, "lk")[0]
	if len(got) != len(keys) {
		t.Fatalf("%d records, want %d", len(got), len(keys))
	}
	for i, k := range keys {
		if !bytes.Equal(got[i].Key, k) {
			t.Errorf("record %d: key %x, want %x", i, got[i].Key, k)
		}
	}
}

// TestAvroAbortedGap: an aborted transaction of another schema between two
// committed runs of one schema: its records are not exported and do not
// split the object; the record after it (the other schema) starts one.
func TestAvroAbortedGap(t *testing.T) {
	src, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	v1, v2 := reg.Register(t, "ab-value", orderV1), reg.Register(t, "ab-value", orderV2)
	mk := func(n int, sch string, id int) []record.Record {
		var r []record.Record
		for i := range n {
			v := map[string]any{"id": int64(i), "note": nil}
			if sch == orderV2 {
				v["qty"] = i
			}
			r = append(r, record.Record{Topic: "ab", Key: []byte("k"), Value: avroValue(t, sch, id, v)})
		}
		return r
	}
	if err := src.CreateTopic(context.Background(), "ab", 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(src.ProduceTxn(ctx, "x", mk(3, orderV1, v1), true))
	must(src.ProduceTxn(ctx, "x", mk(4, orderV2, v2), false))
	must(src.ProduceTxn(ctx, "x", mk(2, orderV1, v1), true))
	must(src.Produce(ctx, mk(1, orderV2, v2)))
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "ab", "--to", dir, "--format", "avro", "--store-keys", "--schema-registry", reg.URL())
	want := []string{"topics/ab/partition=0/ab+0+0000000000.avro", "topics/ab/partition=0/ab+0+0000000000.keys.avro", "topics/ab/partition=0/ab+0+0000000012.avro", "topics/ab/partition=0/ab+0+0000000012.keys.avro"}
	if diff := cmp.Diff(want, bucketKeys(t, dir)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	dst := kafkatest.NewCluster(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", reg.URL())
	cl, err := schemareg.New(schemareg.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, r := range records(t, dst, "ab")[0] {
		_, v := decoded(t, cl, r.Value)
		got = append(got, v)
	}
	wantVals := []any{}
	for _, id := range []int64{0, 1, 2, 0, 1} {
		wantVals = append(wantVals, map[string]any{"id": id, "note": nil})
	}
	wantVals = append(wantVals, map[string]any{"id": int64(0), "note": nil, "qty": 0})
	if diff := cmp.Diff(wantVals, got); diff != "" {
		t.Errorf("imported values (-want +got):\n%s", diff)
	}
}
