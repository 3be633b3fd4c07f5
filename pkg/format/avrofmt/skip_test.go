package avrofmt

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

const allTypes = `{"type":"record","name":"All","namespace":"t","fields":[
 {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},
 {"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},
 {"name":"by","type":"bytes"},{"name":"fx","type":{"type":"fixed","name":"F","size":3}},
 {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
 {"name":"a","type":{"type":"array","items":"long"}},{"name":"m","type":{"type":"map","values":"string"}},
 {"name":"u","type":["null","string","long"]},
 {"name":"next","type":["null","All"],"default":null}]}`

// TestDatumLen: datumLen measures datums of every type exactly (hamba/avro
// encodes them), and refuses a datum cut anywhere or with a bad index.
func TestDatumLen(t *testing.T) {
	sch := avro.MustParse(allTypes)
	inner := map[string]any{"b": true, "i": 1, "l": int64(-2), "f": float32(1.5), "d": 2.5, "s": "x", "by": []byte{1}, "fx": [3]byte{1, 2, 3},
		"e": "B", "a": []any{int64(1), int64(2)}, "m": map[string]any{"k": "v"}, "u": map[string]any{"long": int64(7)}, "next": nil}
	outer := map[string]any{"b": false, "i": 0, "l": int64(0), "f": float32(0), "d": 0.0, "s": "", "by": []byte{}, "fx": [3]byte{},
		"e": "A", "a": []any{}, "m": map[string]any{}, "u": nil, "next": map[string]any{"t.All": inner}}
	b, err := avro.Marshal(sch, outer)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := datumLen(sch, b); err != nil || n != len(b) {
		t.Fatalf("datumLen %d, %v; want %d", n, err, len(b))
	}
	for cut := range len(b) {
		if n, err := datumLen(sch, b[:cut]); err == nil {
			t.Fatalf("datum cut at %d of %d: length %d, no error", cut, len(b), n)
		}
	}
	if _, err := datumLen(avro.MustParse(`{"type":"enum","name":"E","symbols":["A"]}`), []byte{2}); err == nil {
		t.Error("enum index 1 of 1 symbol accepted")
	}
	if _, err := datumLen(avro.MustParse(`["null","long"]`), []byte{4}); err == nil {
		t.Error("union index 2 of 2 types accepted")
	}
}

// FuzzDecode: no object, however malformed, panics the decoder or makes it
// loop; errors wrap ErrMalformed or are the registry's.
func FuzzDecode(f *testing.F) {
	reg := &schemaTable{byID: map[int]Schema{}}
	fm, _ := New(context.Background(), reg, "")
	for _, codec := range []string{"null", "deflate", "snappy"} {
		ft, _ := New(context.Background(), &schemaTable{byID: map[int]Schema{7: {Text: orderSchema}}}, codec)
		var buf bytes.Buffer
		enc, _ := ft.NewEncoder(&buf, layout.ViewValues)
		recs := wireRecords(f, orders(20))
		for i := range recs {
			_ = enc.Encode(&recs[i]) // a seed; errors show as undecodable input
		}
		if c, ok := enc.(interface{ Close() error }); ok {
			_ = c.Close() // as above
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec, _ := fm.NewObjectDecoder(bytes.NewReader(body), layout.Object{Topic: "t", View: layout.ViewValues})
		for range 10_000 {
			var rec record.Record
			if err := dec.Next(&rec); err != nil {
				return
			}
		}
	})
}

// TestChecker: a payload is one whole datum of the schema, or an error; a
// top-level bytes schema takes any payload.
func TestChecker(t *testing.T) {
	c, err := NewChecker(`{"type":"record","name":"R","fields":[{"name":"n","type":"long"},{"name":"s","type":["null","string"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		payload []byte
		ok      bool
	}{{[]byte{2, 0}, true}, {[]byte{2, 2, 2, 'x'}, true}, {[]byte{0x10, 0x20, 0x30}, false}, {[]byte{2, 0, 0}, false}, {[]byte{2}, false}} {
		if err := c.Check(tc.payload); (err == nil) != tc.ok {
			t.Errorf("Check(%x): %v, want ok %v", tc.payload, err, tc.ok)
		}
	}
	b, err := NewChecker(`"bytes"`)
	if err != nil || b.Check([]byte{0xff, 1}) != nil {
		t.Errorf("bytes schema: %v", err)
	}
}

// TestInvalidDefaults: schemas Confluent's registry accepts although a
// default does not match its type (it does not validate defaults unless told
// to) are read: their datums are checked and split as any others.
func TestInvalidDefaults(t *testing.T) {
	for _, text := range []string{
		`{"type":"record","name":"A","fields":[{"name":"x","type":"string","default":null},{"name":"n","type":"long"}]}`,
		`{"type":"record","name":"A","fields":[{"name":"x","type":["string","null"],"default":null},{"name":"n","type":"long"}]}`,
		`{"type":"record","name":"A","fields":[{"name":"x","type":{"type":"enum","name":"E","symbols":["a"],"default":"zz"}},{"name":"n","type":"long","default":"one"}]}`,
	} {
		c, err := NewChecker(text)
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		datum := []byte{2, 'a', 4} // "a", then the long 2
		if strings.Contains(text, "enum") {
			datum = []byte{0, 4}
		}
		if strings.Contains(text, `["string","null"]`) {
			datum = []byte{0, 2, 'a', 4}
		}
		if err := c.Check(datum); err != nil {
			t.Errorf("%s: datum %x: %v", text, datum, err)
		}
		if err := c.Check(append(datum, 0)); err == nil {
			t.Errorf("%s: a byte too many passes", text)
		}
	}
	if _, err := NewChecker(`{"type":"record","name":"my-rec","fields":[]}`); err == nil {
		t.Error("an invalid name parses")
	}
}
