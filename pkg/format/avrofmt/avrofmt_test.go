package avrofmt

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

var update = flag.Bool("update", false, "write the golden fixtures of testdata that are missing")

// The registry the package tests use: the format's Registry interface over a
// fixed table (the real client and registry server are tested in
// internal/kafka/schemareg and internal/cli).
type schemaTable struct {
	byID       map[int]Schema
	registered []string // topic/view: schema
}

func (s *schemaTable) SchemaByID(_ context.Context, id int) (Schema, error) {
	if sc, ok := s.byID[id]; ok {
		return sc, nil
	}
	return Schema{}, fmt.Errorf("schema id %d not found", id)
}

func (s *schemaTable) Register(_ context.Context, topic string, view layout.View, schema string) (int, error) {
	s.registered = append(s.registered, topic+"/"+view.String()+": "+schema)
	return 42, nil
}

const (
	orderSchema = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`
	// connectSchema is what Confluent's sink writes for orderSchema as
	// version 1 of orders-value (AVRO-PARQUET.md §2).
	connectSchema = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null",{"type":"string","connect.parameters":{"io.confluent.connect.avro.field.default":"true"}}],"default":null}],"connect.version":1,"connect.name":"com.acme.Order"}`
)

type order struct {
	ID   int64   `avro:"id"`
	Note *string `avro:"note"`
}

func orders(n int) []order {
	out := make([]order, n)
	for i := range out {
		out[i].ID = int64(i)
		if i%2 == 1 {
			s := fmt.Sprintf("note %d", i)
			out[i].Note = &s
		}
	}
	return out
}

// wireRecords are the orders as Kafka records of schema id 7.
func wireRecords(t testing.TB, os []order) []record.Record {
	t.Helper()
	sch := avro.MustParse(orderSchema)
	recs := make([]record.Record, len(os))
	for i, o := range os {
		b, err := avro.Marshal(sch, o)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = record.Record{Topic: "orders", Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: AppendWire(nil, 7, b),
			Headers: []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}}
	}
	return recs
}

func newFormat(t testing.TB, codec string) (*Format, *schemaTable) {
	t.Helper()
	reg := &schemaTable{byID: map[int]Schema{7: {Text: orderSchema}, 8: {Text: `{"type":"record","name":"Other","fields":[]}`}, 9: {Text: `syntax = "proto3";`, Type: "PROTOBUF"}}}
	f, err := New(context.Background(), reg, codec)
	if err != nil {
		t.Fatal(err)
	}
	return f, reg
}

// encode writes recs' view with f into one object.
func encode(t *testing.T, f *Format, view layout.View, recs []record.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := f.NewEncoder(&buf, view)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	c, ok := enc.(format.Closer)
	if !ok {
		t.Fatal("the encoder has no Close")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCodecs: objects of every codec read back with hamba/avro's ocf reader
// (an independent one) with the registry schema, the codec in avro.codec and
// the records, and with the format's own decoder as wire-format values of the
// id the registry gives the file's schema.
func TestCodecs(t *testing.T) {
	want := orders(3000) // several blocks
	for _, codec := range []string{"null", "deflate", "snappy", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			f, reg := newFormat(t, codec)
			recs := wireRecords(t, want)
			obj := encode(t, f, layout.ViewValues, recs)
			meta, got := readOrders(t, obj)
			if got, wantCodec := string(meta["avro.codec"]), Codecs[codec]; got != wantCodec {
				t.Errorf("avro.codec %q, want %q", got, wantCodec)
			}
			if got := string(meta["avro.schema"]); got != orderSchema {
				t.Errorf("avro.schema %s, want the registry's %s", got, orderSchema)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("records read by hamba/avro (-want +got):\n%s", diff)
			}
			values := decodeAll(t, f, obj, layout.Object{Topic: "orders", View: layout.ViewValues})
			for i := range recs {
				if !bytes.Equal(values[i].Value, AppendWire(nil, 42, recs[i].Value[5:])) {
					t.Fatalf("record %d: value %x, want id 42 and the source payload %x", i, values[i].Value, recs[i].Value[5:])
				}
			}
			if len(values) != len(recs) || len(reg.registered) != 1 || reg.registered[0] != "orders/values: "+orderSchema {
				t.Errorf("%d records, registered %q", len(values), reg.registered)
			}
		})
	}
}

// readOrders reads an object with hamba/avro's ocf reader (independent of
// the format's own) into its metadata and orders.
func readOrders(t *testing.T, obj []byte) (map[string][]byte, []order) {
	t.Helper()
	dec, err := ocf.NewDecoder(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	var got []order
	for dec.HasNext() {
		var o order
		if err := dec.Decode(&o); err != nil {
			t.Fatal(err)
		}
		got = append(got, o)
	}
	if err := dec.Error(); err != nil {
		t.Fatal(err)
	}
	return dec.Metadata(), got
}

func decodeAll(t *testing.T, f *Format, obj []byte, o layout.Object) []record.Record {
	t.Helper()
	dec, err := f.NewObjectDecoder(bytes.NewReader(obj), o)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for {
		var rec record.Record
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

// TestSidecars: keys (strings) and headers objects have Confluent's schemas
// and read back to the records' keys and headers.
func TestSidecars(t *testing.T) {
	f, _ := newFormat(t, "deflate")
	recs := wireRecords(t, orders(5))
	for _, tc := range []struct {
		view   layout.View
		schema string
	}{{layout.ViewKeys, stringKeySchema}, {layout.ViewHeaders, headersSchema}} {
		obj := encode(t, f, tc.view, recs)
		dec, err := ocf.NewDecoder(bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(dec.Metadata()["avro.schema"]); got != tc.schema {
			t.Errorf("%s schema %s, want %s", tc.view, got, tc.schema)
		}
		got := decodeAll(t, f, obj, layout.Object{Topic: "orders", View: tc.view})
		for i := range recs {
			if tc.view == layout.ViewKeys && !bytes.Equal(got[i].Key, recs[i].Key) {
				t.Errorf("key %d: %q, want %q", i, got[i].Key, recs[i].Key)
			}
			if tc.view == layout.ViewHeaders && !cmp.Equal(got[i].Headers, recs[i].Headers) {
				t.Errorf("headers %d: %v, want %v", i, got[i].Headers, recs[i].Headers)
			}
		}
	}
}

// TestFits: a record of another schema id does not fit an object; one of a
// Protobuf schema, or with a bad payload, is refused.
func TestFits(t *testing.T) {
	f, _ := newFormat(t, "null")
	recs := wireRecords(t, orders(2))
	enc, _ := f.NewEncoder(io.Discard, layout.ViewValues)
	if err := enc.Encode(&recs[0]); err != nil {
		t.Fatal(err)
	}
	fit, ok := enc.(format.Fitter)
	if !ok {
		t.Fatal("the encoder is no format.Fitter")
	}
	other := record.Record{Value: AppendWire(nil, 8, nil)}
	if ok, err := fit.Fits(&recs[1]); !ok || err != nil {
		t.Errorf("same schema: fits %v, %v", ok, err)
	}
	if ok, err := fit.Fits(&other); ok || err != nil {
		t.Errorf("schema id 8 after 7: fits %v, %v; want a new object", ok, err)
	}
	for _, tc := range []struct {
		value []byte
		want  string
	}{
		{AppendWire(nil, 9, []byte{0}), "PROTOBUF"},
		{recs[1].Value[:len(recs[1].Value)-2], "is not an Avro datum of schema id 7"},
		{append(append([]byte(nil), recs[1].Value...), 0), "1 bytes left after the datum"},
		{nil, "tombstone"},
	} {
		err := enc.Encode(&record.Record{Offset: 5, Value: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "offset 5") {
			t.Errorf("value %x: error %v, want one naming offset 5 and %q", tc.value, err, tc.want)
		}
	}
}

// TestWireFormat: the golden bytes of AVRO-PARQUET.md §7.
func TestWireFormat(t *testing.T) {
	w, err := ParseWire([]byte{0, 0, 0, 0, 7, 0})
	if err != nil || w.ID != 7 {
		t.Fatalf("ParseWire: %+v, %v", w, err)
	}
	if idx, rest, err := MessageIndexes(w.Payload); err != nil || !cmp.Equal(idx, []int{0}) || len(rest) != 0 {
		t.Errorf("[0]: %v %x %v", idx, rest, err)
	}
	w, _ = ParseWire([]byte{0, 0, 0, 0, 7, 4, 2, 4, 0xaa})
	if idx, rest, err := MessageIndexes(w.Payload); err != nil || !cmp.Equal(idx, []int{1, 2}) || !bytes.Equal(rest, []byte{0xaa}) {
		t.Errorf("[1,2]: %v %x %v", idx, rest, err)
	}
	if _, err := ParseWire(append([]byte{1}, make([]byte, 16)...)); !errors.Is(err, ErrGUID) {
		t.Errorf("magic 1: %v, want ErrGUID", err)
	}
	for _, b := range [][]byte{nil, {0, 0, 0, 7}, []byte(`{"a":1}`)} {
		if _, err := ParseWire(b); !errors.Is(err, ErrNotWire) {
			t.Errorf("%x: %v, want ErrNotWire", b, err)
		}
	}
	if got := AppendWire(nil, 7, []byte{9}); !bytes.Equal(got, []byte{0, 0, 0, 0, 7, 9}) {
		t.Errorf("AppendWire: %x", got)
	}
}

// golden compares obj with testdata/name, writing it under -update when
// missing.
func golden(t *testing.T, name string, obj []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && *update && obj != nil {
		if err := os.WriteFile(path, obj, 0o600); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestGolden: kferry's object for fixed records is byte for byte the
// fixture (a rerun of an export rewrites identical objects), and the fixture
// holds, semantically, what Confluent's AvroFormat writes: the schema, the
// codec in avro.codec and the records, read by hamba/avro.
func TestGolden(t *testing.T) {
	f, _ := newFormat(t, "deflate")
	obj := encode(t, f, layout.ViewValues, wireRecords(t, orders(4)))
	want := golden(t, "orders+0+0000000000.avro", obj)
	if !bytes.Equal(obj, want) {
		t.Errorf("the encoder writes other bytes than testdata/orders+0+0000000000.avro")
	}
	m, got := readOrders(t, want)
	if string(m["avro.codec"]) != "deflate" || string(m["avro.schema"]) != orderSchema || len(m) != 2 {
		t.Errorf("metadata %q", m)
	}
	if diff := cmp.Diff(orders(4), got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestConnectorObject: an object as Confluent's sink writes it (the
// Connect-derived schema with connect.* properties, deflate, a random sync
// marker; written here by hamba/avro's ocf encoder) imports: its schema is
// registered as it is, each record becomes the new id and the datum.
func TestConnectorObject(t *testing.T) {
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(connectSchema, &buf, ocf.WithCodec(ocf.Deflate), ocf.WithSchemaMarshaler(func(avro.Schema) ([]byte, error) { return []byte(connectSchema), nil }))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders(3) {
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	obj := golden(t, "connector/orders+0+0000000000.avro", buf.Bytes())
	f, reg := newFormat(t, "")
	got := decodeAll(t, f, obj, layout.Object{Topic: "orders", View: layout.ViewValues})
	if len(reg.registered) != 1 || reg.registered[0] != "orders/values: "+connectSchema {
		t.Errorf("registered %q, want the file's schema for orders' values", reg.registered)
	}
	sch := avro.MustParse(connectSchema)
	var dec []order
	for _, rec := range got {
		w, err := ParseWire(rec.Value)
		if err != nil || w.ID != 42 {
			t.Fatalf("value %x: id %d, %v", rec.Value, w.ID, err)
		}
		var o order
		if err := avro.Unmarshal(sch, w.Payload, &o); err != nil {
			t.Fatal(err)
		}
		dec = append(dec, o)
	}
	if diff := cmp.Diff(orders(3), dec); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestHeadersNotText: a headers object whose values (or keys) are not
// strings is malformed: its headers are refused, never imported with their
// values dropped to null.
func TestHeadersNotText(t *testing.T) {
	for name, schema := range map[string]string{
		"int value": `{"type":"array","items":{"type":"record","name":"H","fields":[{"name":"key","type":"string"},{"name":"value","type":["null","int"]}]}}`,
		"long key":  `{"type":"array","items":{"type":"record","name":"H","fields":[{"name":"key","type":"long"},{"name":"value","type":"string"}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var item map[string]any
			if strings.Contains(name, "value") {
				item = map[string]any{"key": "n", "value": map[string]any{"int": 42}}
			} else {
				item = map[string]any{"key": int64(7), "value": "v"}
			}
			var buf bytes.Buffer
			enc, err := ocf.NewEncoder(schema, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode([]any{item}); err != nil {
				t.Fatal(err)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			f, _ := newFormat(t, "")
			dec, err := f.NewObjectDecoder(bytes.NewReader(buf.Bytes()), layout.Object{Topic: "orders", View: layout.ViewHeaders})
			if err != nil {
				t.Fatal(err)
			}
			var rec record.Record
			if err := dec.Next(&rec); !errors.Is(err, format.ErrMalformed) || !strings.Contains(err.Error(), "not a string") {
				t.Errorf("Next: %v, headers %v; want ErrMalformed, not a string", err, rec.Headers)
			}
		})
	}
}
