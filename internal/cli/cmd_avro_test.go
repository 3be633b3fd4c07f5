package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/test/apicurio"
)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null},{"name":"qty","type":"int","default":1}]}`
)

// avroValue is a record of schema id in the Confluent wire format.
func avroValue(t *testing.T, schema string, id int, v any) []byte {
	t.Helper()
	b, err := avro.Marshal(avro.MustParse(schema), v)
	if err != nil {
		t.Fatal(err)
	}
	return avrofmt.AppendWire(nil, id, b)
}

// seedAvro produces orders in the wire format into topic orders of c: on
// partition 0 five v1 records, four v2, two v1 (so three objects); on
// partition 1 three v1. Keys are strings, each record has a header.
func seedAvro(t *testing.T, c *kafkatest.Cluster, registry string) {
	t.Helper()
	v1 := register(t, registry, "orders-value", orderV1)
	v2 := register(t, registry, "orders-value", orderV2)
	var recs []record.Record
	add := func(p int32, n int, schema string, id int) {
		for range n {
			i := len(recs)
			v := map[string]any{"id": int64(i), "note": map[string]any{"string": fmt.Sprintf("note %d", i)}}
			if i%3 == 0 {
				v["note"] = nil
			}
			if schema == orderV2 {
				v["qty"] = i
			}
			recs = append(recs, record.Record{Topic: "orders", Partition: p, Key: fmt.Appendf(nil, "k-%d", i),
				Value: avroValue(t, schema, id, v), Headers: []record.Header{{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}}})
		}
	}
	add(0, 5, orderV1, v1)
	add(0, 4, orderV2, v2)
	add(0, 2, orderV1, v1)
	add(1, 3, orderV1, v1)
	if err := c.CreateTopic(context.Background(), "orders", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// register registers schema under subject in the registry at url (any
// server with Confluent's API) and returns its id.
func register(t *testing.T, url, subject, schema string) int {
	t.Helper()
	cl, err := schemareg.New(schemareg.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	cl.Subject = func(string, layout.View) string { return subject }
	id, err := cl.Register(context.Background(), "", layout.ViewValues, schema)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// hasSubject reports whether the registry at url has version 1 of subject.
func hasSubject(t *testing.T, url, subject string) bool {
	t.Helper()
	resp, err := http.Get(url + "/subjects/" + subject + "/versions/1") //nolint:noctx // a test registry on 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode == http.StatusOK
}

// bucketKeys lists the object keys under dir/topics, sorted.
func bucketKeys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	_ = filepath.WalkDir(filepath.Join(dir, "topics"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(keys)
	return keys
}

// decoded decodes a wire-format value with the schema its id has in reg.
func decoded(t *testing.T, reg *schemareg.Client, value []byte) (int, any) {
	t.Helper()
	w, err := avrofmt.ParseWire(value)
	if err != nil {
		t.Fatalf("value %x: %v", value, err)
	}
	s, err := reg.SchemaByID(context.Background(), w.ID)
	if err != nil {
		t.Fatalf("schema id %d: %v", w.ID, err)
	}
	var v any
	if err := avro.Unmarshal(avro.MustParse(s.Text), w.Payload, &v); err != nil {
		t.Fatalf("decode with schema id %d: %v", w.ID, err)
	}
	return w.ID, v
}

// TestAvroRoundTrip: Avro records in the wire format export as .avro objects
// (one per schema run, keys and headers sidecars) and import into a second
// cluster whose registry numbers schemas differently: every record decodes
// with the target registry, under the renamed subject, with its id
// rewritten, and equals its source record. Registries: srfake (in process).
func TestAvroRoundTrip(t *testing.T) {
	avroRoundTrip(t, kafkatest.NewRegistry(t, "", "").URL(), kafkatest.NewRegistry(t, "", "").URL(), 0)
}

// TestAvroRoundTripApicurio is TestAvroRoundTrip with a real registry
// server, Apicurio Registry (KFERRY_TEST_APICURIO=1): as the source's
// registry, then as the target's.
func TestAvroRoundTripApicurio(t *testing.T) {
	real := apicurio.Start(t)
	t.Run("source", func(t *testing.T) { avroRoundTrip(t, real, kafkatest.NewRegistry(t, "", "").URL(), 0) })
	// Apicurio knows the orders schemas by now (ids 1 and 2): the source
	// numbers them after five others.
	t.Run("target", func(t *testing.T) { avroRoundTrip(t, kafkatest.NewRegistry(t, "", "").URL(), real, 5) })
	// Parquet objects of records whose ids Apicurio gave.
	t.Run("parquet", func(t *testing.T) { parquetRoundTrip(t, real) })
}

// avroRoundTrip runs the round trip from a cluster with registry srcReg,
// where srcSkip schemas come before the records', to one with registry
// dstReg, where two other schemas come first: the ids differ.
func avroRoundTrip(t *testing.T, srcReg, dstReg string, srcSkip int) {
	src := kafkatest.NewCluster(t)
	for i := range srcSkip {
		register(t, srcReg, "skip-value", fmt.Sprintf(`{"type":"record","name":"S%d","fields":[]}`, i))
	}
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "orders", "--to", dir, "--format", "avro",
		"--store-keys", "--store-headers", "--headers-format", "avro", "--schema-registry", srcReg, "--avro-codec", "snappy")
	want := []string{
		"topics/orders/partition=0/orders+0+0000000000.avro", "topics/orders/partition=0/orders+0+0000000000.headers.avro", "topics/orders/partition=0/orders+0+0000000000.keys.avro",
		"topics/orders/partition=0/orders+0+0000000005.avro", "topics/orders/partition=0/orders+0+0000000005.headers.avro", "topics/orders/partition=0/orders+0+0000000005.keys.avro",
		"topics/orders/partition=0/orders+0+0000000009.avro", "topics/orders/partition=0/orders+0+0000000009.headers.avro", "topics/orders/partition=0/orders+0+0000000009.keys.avro",
		"topics/orders/partition=1/orders+1+0000000000.avro", "topics/orders/partition=1/orders+1+0000000000.headers.avro", "topics/orders/partition=1/orders+1+0000000000.keys.avro",
	}
	if diff := cmp.Diff(want, avroKeys(bucketKeys(t, dir))); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}

	dst := kafkatest.NewCluster(t)
	// The target numbers from elsewhere.
	register(t, dstReg, "other-value", `{"type":"record","name":"D","fields":[{"name":"d","type":"string"}]}`)
	register(t, dstReg, "other-value", `{"type":"record","name":"D","fields":[{"name":"d","type":"string"},{"name":"e","type":"long","default":0}]}`)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--rename", "orders=orders-copy", "--schema-registry", dstReg)

	verifyAvroCopy(t, src, dst, srcReg, dstReg)
}

// verifyAvroCopy checks that topic orders-copy of dst holds the records of
// orders of src, each value decoding with dstReg under a target id other
// than its source id, to the value the source record decodes to with srcReg.
func verifyAvroCopy(t *testing.T, src, dst *kafkatest.Cluster, srcReg, dstReg string) {
	t.Helper()
	if !hasSubject(t, dstReg, "orders-copy-value") {
		t.Fatal("subject orders-copy-value not registered in the target registry")
	}
	clA, _ := schemareg.New(schemareg.Config{URL: srcReg})
	clB, _ := schemareg.New(schemareg.Config{URL: dstReg})
	got, wantRecs := records(t, dst, "orders-copy"), records(t, src, "orders")
	n := 0
	for p := range int32(2) {
		if len(got[p]) != len(wantRecs[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(got[p]), len(wantRecs[p]))
		}
		for i := range got[p] {
			g, w := got[p][i], wantRecs[p][i]
			idB, vb := decoded(t, clB, g.Value)
			idA, va := decoded(t, clA, w.Value)
			if idB == idA {
				t.Errorf("partition %d record %d: target id %d, source id %d: not rewritten to the target's ids", p, i, idB, idA)
			}
			if diff := cmp.Diff(va, vb); diff != "" {
				t.Errorf("partition %d record %d value (-source +target):\n%s", p, i, diff)
			}
			if string(g.Key) != string(w.Key) || !cmp.Equal(g.Headers, w.Headers) {
				t.Errorf("partition %d record %d: key %q headers %v, want %q %v", p, i, g.Key, g.Headers, w.Key, w.Headers)
			}
			n++
		}
	}
	if n != 14 {
		t.Errorf("%d records compared, want 14", n)
	}
}

// avroKeys keeps the .avro objects of keys.
func avroKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasSuffix(k, ".avro") {
			out = append(out, k)
		}
	}
	return out
}

// TestAvroExportErrors: a value whose schema id the registry does not know,
// one not in the wire format, one with a GUID: one error line naming
// topic, partition, offset (and the id), exit 1, no object written.
func TestAvroExportErrors(t *testing.T) {
	c, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	id := reg.Register(t, "good-value", orderV1)
	good := avroValue(t, orderV1, id, map[string]any{"id": int64(1), "note": nil})
	cases := []struct {
		name  string
		value []byte
		want  []string
	}{
		{"unknown-id", avrofmt.AppendWire(nil, 999, good[5:]), []string{"unknown-id/0", "offset 1", "schema id 999", "not found"}},
		{"not-wire", []byte(`{"id":1}`), []string{"not-wire/0", "offset 1", "not in the Confluent wire format"}},
		{"guid", append([]byte{1}, make([]byte, 20)...), []string{"guid/0", "offset 1", "GUID"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := []record.Record{{Topic: tc.name, Value: good}, {Topic: tc.name, Value: tc.value}}
			if err := c.CreateTopic(context.Background(), tc.name, 1); err != nil {
				t.Fatal(err)
			}
			if err := c.Produce(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out, errOut, code := run(t, "export", "--brokers", brokers(c), "--topics", tc.name, "--to", dir, "--format", "avro", "--schema-registry", reg.URL())
			if code != ExitFailed || !errorLine(errLine(errOut)) {
				t.Fatalf("exit %d, stderr %q; want exit %d and one error line\nstdout: %s", code, errOut, ExitFailed, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not say %q", errOut, w)
				}
			}
			if keys := bucketKeys(t, dir); len(keys) != 0 {
				t.Errorf("objects written: %v", keys)
			}
		})
	}
}

// TestAvroRegistrySecrets: basic auth reaches the registry, and a wrong
// password fails without showing it; both secrets are masked flags.
func TestAvroRegistrySecrets(t *testing.T) {
	c := kafkatest.NewCluster(t)
	reg := kafkatest.NewRegistry(t, "alice", "s3cret-pw")
	seedAvro(t, c, strings.Replace(reg.URL(), "http://", "http://alice:s3cret-pw@", 1))
	dir := t.TempDir()
	base := []string{"export", "--brokers", brokers(c), "--topics", "orders", "--format", "avro", "--schema-registry", reg.URL(), "--schema-registry-user", "alice"}
	mustRun(t, append(base, "--to", dir, "--schema-registry-password", "s3cret-pw")...)
	if n := len(avroKeys(bucketKeys(t, dir))); n != 4 {
		t.Errorf("%d .avro objects, want 4", n)
	}
	out, errOut, code := run(t, append(base, "--to", t.TempDir(), "--schema-registry-password", "wrong-pw")...)
	if code == ExitOK || !errorLine(errLine(errOut)) || !strings.Contains(errOut, "not authorized") {
		t.Errorf("wrong password: exit %d, stderr %q", code, errOut)
	}
	noSecret(t, []string{"wrong-pw", "s3cret-pw"}, out, errOut)
	if !secretFlag("schema-registry-password") || !secretFlag("schema-registry-token") {
		t.Error("the registry password and token are not masked as secrets")
	}
}

// errLine is the last line of s, with its newline (the log comes first).
func errLine(s string) string {
	t := strings.TrimSuffix(s, "\n")
	return s[strings.LastIndex(t, "\n")+1:]
}

// fastavroReader reads each .avro file named on its command line with
// fastavro and prints, per file, its codec, schema name and field names, and
// record count as one JSON line.
const fastavroReader = `
import json, sys
import fastavro
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        s = r.writer_schema
        n = sum(1 for _ in r)
        name = s.get("name") if isinstance(s, dict) else json.dumps(s)
        fields = [x["name"] for x in s.get("fields", [])] if isinstance(s, dict) else []
        print(json.dumps({"file": path.rsplit("/", 1)[-1], "codec": r.codec, "name": name, "fields": fields, "records": n}))
`

// TestAvroFastavro: fastavro (an independent reader, from PyPI) reads every
// exported .avro object with the expected codec, schema and row count.
// Needs KFERRY_TEST_FASTAVRO (scripts/test-env.sh); fails without it under CI.
func TestAvroFastavro(t *testing.T) {
	py := os.Getenv("KFERRY_TEST_FASTAVRO")
	if py == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KFERRY_TEST_FASTAVRO is not set (run through scripts/test-env.sh)")
		}
		t.Skip("KFERRY_TEST_FASTAVRO is not set (run through scripts/test-env.sh)")
	}
	c, reg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "")
	seedAvro(t, c, reg.URL())
	for _, codec := range []string{"null", "deflate", "snappy", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			dir := t.TempDir()
			mustRun(t, "export", "--brokers", brokers(c), "--topics", "orders", "--to", dir, "--format", "avro",
				"--store-keys", "--store-headers", "--headers-format", "avro", "--schema-registry", reg.URL(), "--avro-codec", codec)
			var paths []string
			for _, k := range avroKeys(bucketKeys(t, dir)) {
				paths = append(paths, filepath.Join(dir, k))
			}
			out, err := exec.Command(py, append([]string{"-c", fastavroReader}, paths...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("fastavro: %v\n%s", err, out)
			}
			wantCodec := map[string]string{"null": "null", "deflate": "deflate", "snappy": "snappy", "zstd": "zstandard"}[codec]
			v1, v2 := []string{"id", "note"}, []string{"id", "note", "qty"}
			want := map[string]fastavroFile{
				"orders+0+0000000000.avro": {wantCodec, "com.acme.Order", v1, 5}, "orders+0+0000000005.avro": {wantCodec, "com.acme.Order", v2, 4},
				"orders+0+0000000009.avro": {wantCodec, "com.acme.Order", v1, 2}, "orders+1+0000000000.avro": {wantCodec, "com.acme.Order", v1, 3},
			}
			got := map[string]fastavroFile{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var f struct {
					File, Codec, Name string
					Fields            []string
					Records           int
				}
				if err := json.Unmarshal([]byte(line), &f); err != nil {
					t.Fatalf("fastavro output %q: %v", line, err)
				}
				if strings.Count(f.File, ".") == 1 { // values; sidecars checked below
					got[f.File] = fastavroFile{f.Codec, f.Name, f.Fields, f.Records}
				} else if f.Codec != wantCodec || (f.Records != 5 && f.Records != 4 && f.Records != 2 && f.Records != 3) {
					t.Errorf("%s: codec %s, %d records", f.File, f.Codec, f.Records)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read by fastavro (-want +got):\n%s", diff)
			}
		})
	}
}

type fastavroFile struct {
	Codec, Name string
	Fields      []string
	Records     int
}

// TestImportTranslatesIDs: records in the wire format exported as native
// objects import with --source-schema-registry: every schema id is rewritten
// to the target registry's id of the same schema, registered under the
// renamed subject; an id the source registry does not know stops the import
// with one line naming topic, partition, offset and the id, and nothing of
// that object is written.
func TestImportTranslatesIDs(t *testing.T) {
	src, srcReg := kafkatest.NewCluster(t), kafkatest.NewRegistry(t, "", "").URL()
	seedAvro(t, src, srcReg)
	dir := t.TempDir()
	mustRun(t, "export", "--brokers", brokers(src), "--topics", "orders", "--to", dir, "--format", "native")
	dst, dstReg := shiftedTarget(t)
	mustRun(t, "import", "--from", dir, "--brokers", brokers(dst), "--rename", "orders=orders-copy",
		"--schema-registry", dstReg, "--source-schema-registry", srcReg)
	verifyAvroCopy(t, src, dst, srcReg, dstReg)

	bad := lostIDCluster(t, srcReg)
	dir = t.TempDir()
	mustRun(t, "export", "--brokers", brokers(bad), "--topics", "lost", "--to", dir, "--format", "native")
	_, errOut, code := run(t, "import", "--from", dir, "--brokers", brokers(dst), "--schema-registry", dstReg, "--source-schema-registry", srcReg)
	wantLostIDError(t, dst, errOut, code)
}
