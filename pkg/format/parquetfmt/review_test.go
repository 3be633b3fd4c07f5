package parquetfmt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// formatWith is the parquet format over a registry that knows schema as id 7.
func formatWith(t *testing.T, schema string, rowGroup int) *Format {
	t.Helper()
	reg := &schemaTable{byID: map[int]avrofmt.Schema{7: {Text: schema}}, registered: map[string]string{}}
	a, err := avrofmt.New(context.Background(), reg, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(a, "snappy", rowGroup)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// shapeCases are schemas the first review found mishandled, with values.
var shapeCases = []struct {
	name, schema string
	values       []any
}{
	{"nullable multi-type items", `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":["null","int","string"]}},{"name":"b","type":{"type":"array","items":"long"}}]}`,
		[]any{map[string]any{"a": []any{nil, map[string]any{"int": 1}, map[string]any{"string": "x"}}, "b": []any{int64(1)}}, map[string]any{"a": []any{}, "b": []any{}}}},
	{"arrays of arrays of nullable", `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":{"type":"array","items":["null","string"]}}}]}`,
		[]any{map[string]any{"a": []any{[]any{nil, map[string]any{"string": "y"}}, []any{}}}, map[string]any{"a": []any{}}}},
	{"single-type union", `{"type":"record","name":"R","fields":[{"name":"a","type":["long"]},{"name":"s","type":"string"}]}`,
		[]any{map[string]any{"a": map[string]any{"long": int64(1)}, "s": ""}, map[string]any{"a": map[string]any{"long": int64(-5)}, "s": "z"}}},
	{"default of another type", `{"type":"record","name":"R","fields":[{"name":"x","type":"string","default":null}]}`,
		[]any{map[string]any{"x": "v"}}},
}

// TestShapes: the review's schemas round-trip value for value; the file of
// an array with nullable items has 3-level lists only (parquet-avro's
// write-old-list-structure=false); pyarrow reads each file when present.
func TestShapes(t *testing.T) {
	py := os.Getenv("KFERRY_TEST_FASTAVRO")
	for _, tc := range shapeCases {
		t.Run(tc.name, func(t *testing.T) {
			f := formatWith(t, tc.schema, 0)
			sch, err := avrofmt.ParseSchema(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			var recs []record.Record
			for i, v := range tc.values {
				b, err := avro.Marshal(sch, v)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, record.Record{Offset: int64(i), Key: []byte("k"), Value: avrofmt.AppendWire(nil, 7, b)})
			}
			obj := encode(t, f, layout.ViewValues, recs)
			got := decode(t, f, layout.Object{Topic: "t"}, obj)
			for i := range recs {
				var a, b any
				if err := avro.Unmarshal(sch, recs[i].Value[5:], &a); err != nil {
					t.Fatal(err)
				}
				if err := avro.Unmarshal(sch, got[i].Value[5:], &b); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("record %d: %v, want %v", i, b, a)
				}
			}
			pf, err := parquet.OpenFile(bytes.NewReader(obj), int64(len(obj)))
			if err != nil {
				t.Fatal(err)
			}
			if s := pf.Schema().String(); strings.Contains(tc.schema, `"null"`) && strings.Contains(tc.schema, "array") && strings.Contains(s, " array ") {
				t.Errorf("a 2-level list in a file with nullable items:\n%s", s)
			}
			keys := encode(t, f, layout.ViewKeys, recs)
			if k := decode(t, f, layout.Object{Topic: "t", View: layout.ViewKeys}, keys); string(k[0].Key) != "k" {
				t.Errorf("key %q", k[0].Key)
			}
			if py != "" {
				path := filepath.Join(t.TempDir(), "v.snappy.parquet")
				if err := os.WriteFile(path, obj, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(py, "-c", "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)", path).CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(len(recs)) {
					t.Errorf("pyarrow: %v: %s", err, out)
				}
			}
		})
	}
}

// foreignFile writes a Parquet file of one column with the Avro schema
// avroSchema in its metadata (which may not match the column).
func foreignFile(t *testing.T, node parquet.Node, row parquet.Row, avroSchema string, extra ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	g := &group{fields: []parquet.Field{field{node, "a"}}, typ: groupType}
	for _, name := range extra {
		g.fields = append(g.fields, field{parquet.Leaf(parquet.Int32Type), name})
	}
	w := parquet.NewWriter(&buf, parquet.NewSchema("R", g), parquet.KeyValueMetadata("parquet.avro.schema", avroSchema))
	if row != nil {
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestForeignFiles: a file whose columns do not have the types its Avro
// schema gives them, or has columns the schema lacks, is refused with a line
// naming the column: never read as other values, never a panic.
func TestForeignFiles(t *testing.T) {
	f := formatWith(t, `"string"`, 0)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"long over string", foreignFile(t, parquet.String(), parquet.Row{parquet.ByteArrayValue([]byte("hello")).Level(0, 0, 0)}, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`), "column [a]"},
		{"string over double", foreignFile(t, parquet.Leaf(parquet.DoubleType), parquet.Row{parquet.DoubleValue(1.5).Level(0, 0, 0)}, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`), "column [a]"},
		{"int over int64", foreignFile(t, parquet.Leaf(parquet.Int64Type), parquet.Row{parquet.Int64Value(1<<40).Level(0, 0, 0)}, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`), "column [a]"},
		{"extra column", foreignFile(t, parquet.Leaf(parquet.Int64Type), parquet.Row{parquet.Int64Value(1).Level(0, 0, 0), parquet.Int32Value(2).Level(0, 0, 1)}, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`, "b"), "columns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := f.NewObjectDecoder(bytes.NewReader(tc.file), layout.Object{Topic: "t"})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = dec.(format.Closer).Close() }() //nolint:errcheck // the decoder is a Closer
			err = dec.Next(&record.Record{})
			if !errors.Is(err, format.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want ErrMalformed naming %q", err, tc.want)
			}
		})
	}
	// A file with no rows reads as no records.
	empty := foreignFile(t, parquet.Leaf(parquet.Int64Type), nil, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`)
	if got := decode(t, f, layout.Object{Topic: "t"}, empty); len(got) != 0 {
		t.Errorf("%d records from an empty file", len(got))
	}
}

// TestManyRowGroups: row groups of one record would pass Parquet's 32,767
// row groups; they grow instead, and every record reads back.
func TestManyRowGroups(t *testing.T) {
	f := formatWith(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`, 1)
	sch := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`)
	recs := make([]record.Record, 40000)
	for i := range recs {
		b, err := avro.Marshal(sch, map[string]any{"a": int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = record.Record{Offset: int64(i), Value: avrofmt.AppendWire(nil, 7, b)}
	}
	obj := encode(t, f, layout.ViewValues, recs)
	pf, err := parquet.OpenFile(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pf.RowGroups()); n >= 32767 || n < 2000 {
		t.Errorf("%d row groups", n)
	}
	if got := decode(t, f, layout.Object{Topic: "t"}, obj); len(got) != len(recs) {
		t.Errorf("%d records read, want %d", len(got), len(recs))
	}
}

// TestWireStringKey: a key in the wire format whose registry schema is a
// bare "string" (AvroConverter keys) comes back in the wire format under the
// target's id, not as plain text.
func TestWireStringKey(t *testing.T) {
	f, reg := newFormat(t, "snappy", 0)
	key := avrofmt.AppendWire(nil, 8, []byte{0x06, 'k', '-', '0'})
	recs := []record.Record{{Offset: 0, Key: key, Value: richRecords(t, 1)[0].Value}}
	got := decode(t, f, layout.Object{Topic: "rich", View: layout.ViewKeys}, encode(t, f, layout.ViewKeys, recs))
	if want := avrofmt.AppendWire(nil, 42, key[5:]); !bytes.Equal(got[0].Key, want) {
		t.Errorf("key %x, want %x", got[0].Key, want)
	}
	if reg.registered["rich/keys"] != `"string"` {
		t.Errorf("registered %q for the keys", reg.registered["rich/keys"])
	}
}
