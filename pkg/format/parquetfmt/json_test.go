package parquetfmt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// jsonFormat is the parquet format for JSON values without a registry.
func jsonFormat(t *testing.T, schema string) *Format {
	t.Helper()
	a, err := avrofmt.New(context.Background(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(a, "snappy", 0)
	if err != nil {
		t.Fatal(err)
	}
	if f, err = f.WithJSONValues(schema, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// exportObjects encodes recs' view as the export does: a record that does
// not fit the open object (format.Fitter) starts a new one.
func exportObjects(t *testing.T, f *Format, view layout.View, recs []record.Record) [][]byte {
	t.Helper()
	var objs [][]byte
	var buf *bytes.Buffer
	var enc format.Encoder
	flush := func() {
		if enc != nil {
			c, ok := enc.(format.Closer)
			if !ok {
				t.Fatal("the encoder has no Close")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			objs = append(objs, buf.Bytes())
		}
	}
	for i := range recs {
		if enc != nil {
			fitter, ok := enc.(format.Fitter)
			if !ok {
				t.Fatal("the encoder is not a Fitter")
			}
			fits, err := fitter.Fits(&recs[i])
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if !fits {
				flush()
				enc = nil
			}
		}
		if enc == nil {
			buf = &bytes.Buffer{}
			var err error
			if enc, err = f.NewEncoder(buf, view); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	flush()
	return objs
}

// TestJSONInferred: plain JSON values get a schema inferred from each
// object's first record; a value of another shape starts a new object; every
// value reads back as the same JSON text (canonical numbers, key order kept),
// keys as they were, with no registry anywhere.
func TestJSONInferred(t *testing.T) {
	values := []string{
		`{"id":1,"name":"a","tags":["x","y"],"addr":{"city":"Zürich","zip":8000},"score":1.5,"ok":true,"note":null}`,
		`{"id":2,"name":"b\"q\u00e9","tags":[],"addr":{"city":"Bern","zip":3000},"score":-2.25e-7,"ok":false,"note":null}`,
		`{"id":3,"name":"c","tags":["z"],"addr":{"city":"Basel","zip":4000},"score":3,"ok":true,"note":null}`,
		`{"id":4,"name":"d","tags":["z"],"addr":{"city":"Basel","zip":4000},"score":3.5,"ok":true,"note":"now text"}`,
		`{"id":5,"name":"e","extra":{},"nested":[[1,2],[3]],"m":{"k":null}}`,
		`{"id":6,"name":"f","extra":{},"nested":[[4]],"m":{"k":null}}`,
		`{"name":"g","id":7}`,
	}
	var recs []record.Record
	for i, v := range values {
		recs = append(recs, record.Record{Topic: "j", Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v)})
	}
	f := jsonFormat(t, "")
	objs := exportObjects(t, f, layout.ViewValues, recs)
	// Records 0-3 share one schema (an integer fits the double score, a
	// string the note first seen null); 4-5 another; 6 lacks fields.
	var got []string
	for _, o := range objs {
		for _, r := range decode(t, f, layout.Object{Topic: "j"}, o) {
			got = append(got, string(r.Value))
		}
	}
	want := []string{
		`{"id":1,"name":"a","tags":["x","y"],"addr":{"city":"Zürich","zip":8000},"score":1.5,"ok":true,"note":null}`,
		`{"id":2,"name":"b\"qé","tags":[],"addr":{"city":"Bern","zip":3000},"score":-2.25e-7,"ok":false,"note":null}`,
		`{"id":3,"name":"c","tags":["z"],"addr":{"city":"Basel","zip":4000},"score":3,"ok":true,"note":null}`,
		values[3], values[4], values[5], values[6],
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(objs) != 3 {
		t.Errorf("%d objects, want 3: records of other shapes start new ones", len(objs))
	}
	pf, err := parquet.OpenFile(bytes.NewReader(objs[0]), int64(len(objs[0])))
	if err != nil {
		t.Fatal(err)
	}
	if enc, _ := pf.Lookup(metaValueEncoding); enc != "json" {
		t.Errorf("%s = %q, want json", metaValueEncoding, enc)
	}
	if how, _ := pf.Lookup(metaInferred); how != "inferred" {
		t.Errorf("%s = %q, want inferred", metaInferred, how)
	}
	keys := exportObjects(t, f, layout.ViewKeys, recs)
	kf := decode(t, f, layout.Object{Topic: "j", View: layout.ViewKeys}, keys[0])
	if len(kf) != len(recs) || string(kf[6].Key) != "k6" {
		t.Errorf("keys read back: %d, last %q", len(kf), kf[len(kf)-1].Key)
	}
}

// TestJSONRefused: values JSON cannot carry into Parquet exactly are refused
// naming the offset, never written changed.
func TestJSONRefused(t *testing.T) {
	f := jsonFormat(t, "")
	for _, v := range []string{`"text"`, `[1,2]`, `{"bad-name":1}`, `{"big":123456789012345678901234567890}`, `{"a":1,"a":2}`, `{"a":1} {"b":2}`, `not json`,
		"{\"s\":\"\xff\"}", `{"s":"\ud800"}`, `{"s":"\udc00\ud800"}`, `{"s":"\ud800x"}`, `{"d":0.10000000000000000001}`, `{"d":1e-400}`, `{"d":1e400}`} {
		var buf bytes.Buffer
		enc, _ := f.NewEncoder(&buf, layout.ViewValues)
		err := enc.Encode(&record.Record{Offset: 7, Value: []byte(v)})
		if !errors.Is(err, format.ErrUnsupported) || !strings.Contains(err.Error(), "offset 7") {
			t.Errorf("%s: %v, want ErrUnsupported naming offset 7", v, err)
		}
	}
	var buf bytes.Buffer
	enc, _ := f.NewEncoder(&buf, layout.ViewValues)
	if err := enc.Encode(&record.Record{Offset: 1}); !errors.Is(err, format.ErrUnsupported) {
		t.Errorf("tombstone: %v", err)
	}
}

// TestJSONGivenSchema: with --value-schema, an absent optional field reads
// back as null, a value of another type or with an unknown key is refused,
// and schemas JSON cannot fill are refused up front.
func TestJSONGivenSchema(t *testing.T) {
	schema := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"status","type":{"type":"enum","name":"S","symbols":["NEW","PAID"]}},{"name":"amount","type":"double"},{"name":"note","type":["null","string"],"default":null},{"name":"items","type":{"type":"map","values":"int"}}]}`
	f := jsonFormat(t, schema)
	recs := []record.Record{
		{Offset: 0, Value: []byte(`{"id":1,"status":"NEW","amount":2,"note":"x","items":{"a":1}}`)},
		{Offset: 1, Value: []byte(`{"items":{},"amount":0.5,"status":"PAID","id":2}`)},
	}
	objs := exportObjects(t, f, layout.ViewValues, recs)
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	got := decode(t, f, layout.Object{}, objs[0])
	want := []string{`{"id":1,"status":"NEW","amount":2,"note":"x","items":{"a":1}}`, `{"id":2,"status":"PAID","amount":0.5,"note":null,"items":{}}`}
	for i := range want {
		if string(got[i].Value) != want[i] {
			t.Errorf("record %d: %s, want %s", i, got[i].Value, want[i])
		}
	}
	for _, v := range []string{`{"id":1.5,"status":"NEW","amount":1,"items":{}}`, `{"id":1,"status":"OLD","amount":1,"items":{}}`, `{"id":1,"status":"NEW","amount":1,"items":{},"more":1}`, `{"status":"NEW","amount":1,"items":{}}`} {
		var buf bytes.Buffer
		enc, _ := f.NewEncoder(&buf, layout.ViewValues)
		if err := enc.Encode(&record.Record{Offset: 3, Value: []byte(v)}); !errors.Is(err, format.ErrUnsupported) || !strings.Contains(err.Error(), "--value-schema") {
			t.Errorf("%s: %v", v, err)
		}
	}
	base, _ := New(f.avro, "", 0)
	for _, bad := range []string{`"string"`, `{"type":"record","name":"B","fields":[{"name":"b","type":"bytes"}]}`, `{not json`} {
		if _, err := base.WithJSONValues(bad, nil); err == nil {
			t.Errorf("schema %s accepted", bad)
		}
	}
}

// TestJSONExact: the review's values come back as the same JSON: doubles
// that hold integers print as integers, an integer a double would round
// starts no silent change (it is refused), a reordered record starts a new
// object and keeps its order, arrays of integers and doubles or nulls take
// one type.
func TestJSONExact(t *testing.T) {
	values := []string{
		`{"n":1.5,"a":[1,1.5],"b":[1,null],"s":"\ud83d\ude00"}`,
		`{"n":1234567,"a":[2],"b":[null],"s":"x"}`,
		`{"a":[3],"n":0.000001,"b":[],"s":"y"}`,
	}
	var recs []record.Record
	for i, v := range values {
		recs = append(recs, record.Record{Offset: int64(i), Value: []byte(v)})
	}
	f := jsonFormat(t, "")
	objs := exportObjects(t, f, layout.ViewValues, recs)
	if len(objs) != 2 {
		t.Errorf("%d objects, want 2 (the reordered record starts one)", len(objs))
	}
	var got []string
	for _, o := range objs {
		for _, r := range decode(t, f, layout.Object{}, o) {
			got = append(got, string(r.Value))
		}
	}
	want := []string{`{"n":1.5,"a":[1,1.5],"b":[1,null],"s":"😀"}`, `{"n":1234567,"a":[2],"b":[null],"s":"x"}`, `{"a":[3],"n":0.000001,"b":[],"s":"y"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// 2^53+1 in a column of doubles would come back as 2^53.
	var buf bytes.Buffer
	enc, _ := f.NewEncoder(&buf, layout.ViewValues)
	if err := enc.Encode(&record.Record{Value: []byte(`{"n":1.5}`)}); err != nil {
		t.Fatal(err)
	}
	fitter, _ := enc.(format.Fitter)
	fits, err := fitter.Fits(&record.Record{Offset: 1, Value: []byte(`{"n":9007199254740993}`)})
	if err != nil || fits {
		t.Errorf("2^53+1 after a double: fits %v, %v; want a new object (a long column)", fits, err)
	}
}
