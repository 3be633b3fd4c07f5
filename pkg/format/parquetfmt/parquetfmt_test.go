package parquetfmt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// The registry the package tests use: avrofmt's Registry interface over a
// fixed table (the real client and registry servers are tested in
// internal/kafka/schemareg and internal/cli).
type schemaTable struct {
	byID       map[int]avrofmt.Schema
	registered map[string]string // topic/view -> schema
}

func (s *schemaTable) SchemaByID(_ context.Context, id int) (avrofmt.Schema, error) {
	if sc, ok := s.byID[id]; ok {
		return sc, nil
	}
	return avrofmt.Schema{}, fmt.Errorf("schema id %d: %w", id, avrofmt.ErrUnknownID)
}

func (s *schemaTable) Register(_ context.Context, topic string, view layout.View, schema string) (int, error) {
	s.registered[topic+"/"+view.String()] = schema
	return 42, nil
}

// richSchema has a field of every kind parquet-avro maps.
const richSchema = `{"type":"record","name":"Rich","namespace":"t","fields":[
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"s","type":"string"},
 {"name":"by","type":"bytes"},
 {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}},
 {"name":"fx","type":{"type":"fixed","name":"F4","size":4}},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"ns","type":["null","string"],"default":null},
 {"name":"longs","type":{"type":"array","items":"long"}},
 {"name":"maybes","type":{"type":"array","items":["null","string"]}},
 {"name":"items","type":["null",{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":["null","int"]}]}}]},
 {"name":"m","type":{"type":"map","values":"int"}},
 {"name":"u","type":["null","int","string"]},
 {"name":"u2","type":["long","string"]},
 {"name":"nested","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"},{"name":"tags","type":{"type":"array","items":{"type":"array","items":"string"}}}]}},
 {"name":"on","type":["null","Inner"]}
]}`

func randomRich(r *rand.Rand, i int) map[string]any {
	str := func() string { return fmt.Sprintf("s%d-%d", i, r.IntN(1000)) }
	opt := func(v any) any {
		if r.IntN(3) == 0 {
			return nil
		}
		return v
	}
	arr := func(f func() any) []any {
		out := make([]any, r.IntN(4))
		for j := range out {
			out[j] = f()
		}
		return out
	}
	inner := func() map[string]any {
		return map[string]any{"x": r.Int32(), "tags": arr(func() any { return arr(func() any { return str() }) })}
	}
	m := map[string]any{}
	for range r.IntN(3) {
		m[str()] = r.Int32()
	}
	var u, u2 any
	switch r.IntN(3) {
	case 0:
		u = nil
	case 1:
		u = map[string]any{"int": r.Int32()}
	default:
		u = map[string]any{"string": str()}
	}
	if r.IntN(2) == 0 {
		u2 = map[string]any{"long": r.Int64()}
	} else {
		u2 = map[string]any{"string": str()}
	}
	var items any
	if r.IntN(4) > 0 {
		items = map[string]any{"array": arr(func() any {
			var q any
			if r.IntN(2) == 0 {
				q = map[string]any{"int": r.Int32()}
			}
			return map[string]any{"sku": str(), "qty": q}
		})}
	}
	var on any
	if r.IntN(2) == 0 {
		on = map[string]any{"t.Inner": inner()}
	}
	var ns any
	if s := opt(str()); s != nil {
		ns = map[string]any{"string": s}
	}
	return map[string]any{
		"b": r.IntN(2) == 0, "i": r.Int32(), "l": r.Int64(), "f": r.Float32(), "d": r.Float64(), "s": str(),
		"by": []byte(str()), "e": []string{"RED", "GREEN", "BLUE"}[r.IntN(3)], "fx": [4]byte{byte(i), 1, 2, 3},
		"dec": []byte{byte(r.IntN(256)), byte(r.IntN(256))}, "day": r.Int32N(20000), "ts": r.Int64N(1 << 41),
		"ns": ns, "longs": arr(func() any { return r.Int64() }),
		"maybes": arr(func() any {
			if r.IntN(2) == 0 {
				return nil
			}
			return map[string]any{"string": str()}
		}),
		"items": items, "m": m, "u": u, "u2": u2, "nested": inner(), "on": on,
	}
}

// richRecords are n records of richSchema (id 7) in the wire format, with
// text keys and headers.
func richRecords(t testing.TB, n int) []record.Record {
	t.Helper()
	sch := avro.MustParse(richSchema)
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]record.Record, n)
	for i := range recs {
		b, err := avro.Marshal(sch, randomRich(r, i))
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = record.Record{Topic: "rich", Partition: 1, Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i),
			Value: avrofmt.AppendWire(nil, 7, b), Headers: []record.Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}}
	}
	return recs
}

func newFormat(t testing.TB, codec string, rowGroup int) (*Format, *schemaTable) {
	t.Helper()
	reg := &schemaTable{byID: map[int]avrofmt.Schema{7: {Text: richSchema}, 8: {Text: `"string"`}}, registered: map[string]string{}}
	a, err := avrofmt.New(context.Background(), reg, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(a, codec, rowGroup)
	if err != nil {
		t.Fatal(err)
	}
	return f, reg
}

func encode(t testing.TB, f *Format, view layout.View, recs []record.Record) []byte {
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

func decode(t testing.TB, f *Format, obj layout.Object, b []byte) []record.Record {
	t.Helper()
	dec, err := f.NewObjectDecoder(bytes.NewReader(b), obj)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := dec.(format.Closer); ok {
		defer func() { _ = c.Close() }() // a spool file; nothing to lose
	}
	var out []record.Record
	for {
		var rec record.Record
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("record %d: %v", len(out), err)
		}
		out = append(out, rec)
	}
}

// TestRoundTrip: every view of records with a field of every kind comes back
// byte for byte (the Avro datums, under the id the registry gives the file's
// schema), with every codec and with several row groups per object.
func TestRoundTrip(t *testing.T) {
	recs := richRecords(t, 500)
	for _, codec := range CodecNames() {
		t.Run(codec, func(t *testing.T) {
			f, reg := newFormat(t, codec, 4096)
			obj := layout.Object{Topic: "rich", Partition: 1}
			vals := encode(t, f, layout.ViewValues, recs)
			pf, err := parquet.OpenFile(bytes.NewReader(vals), int64(len(vals)))
			if err != nil {
				t.Fatal(err)
			}
			if pf.NumRows() != int64(len(recs)) || len(pf.RowGroups()) < 2 {
				t.Fatalf("%d rows in %d row groups, want %d rows in several", pf.NumRows(), len(pf.RowGroups()), len(recs))
			}
			got := decode(t, f, obj, vals)
			if len(got) != len(recs) {
				t.Fatalf("read %d records, want %d", len(got), len(recs))
			}
			sch := avro.MustParse(richSchema)
			for i := range recs {
				w, err := avrofmt.ParseWire(got[i].Value)
				if err != nil || w.ID != 42 {
					t.Fatalf("record %d: %x is not wire format with id 42: %v", i, got[i].Value, err)
				}
				// The same values, not always the same bytes: hamba writes
				// arrays and maps in sized blocks, kferry (as Java) in plain ones.
				var gotV, wantV any
				if err := avro.Unmarshal(sch, w.Payload, &gotV); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if err := avro.Unmarshal(sch, recs[i].Value[5:], &wantV); err != nil {
					t.Fatal(err)
				}
				// fmt prints maps sorted (hamba marshals them in Go's random order).
				if fmt.Sprint(gotV) != fmt.Sprint(wantV) {
					t.Fatalf("record %d: %v, want %v", i, gotV, wantV)
				}
			}
			if reg.registered["rich/values"] == "" {
				t.Error("the file's schema was not registered for the topic")
			}
			kobj, hobj := obj, obj
			kobj.View, hobj.View = layout.ViewKeys, layout.ViewHeaders
			keys := decode(t, f, kobj, encode(t, f, layout.ViewKeys, recs))
			heads := decode(t, f, hobj, encode(t, f, layout.ViewHeaders, recs))
			for i := range recs {
				if !bytes.Equal(keys[i].Key, recs[i].Key) || !cmp.Equal(heads[i].Headers, recs[i].Headers) {
					t.Fatalf("record %d: key %q headers %v, want %q %v", i, keys[i].Key, heads[i].Headers, recs[i].Key, recs[i].Headers)
				}
			}
		})
	}
}
