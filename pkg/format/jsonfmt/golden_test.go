package jsonfmt_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

var update = flag.Bool("update", false, "rewrite the encodable golden files in testdata/ from the encoder's output")

// ordersRecords are the sample records of FORMATS.md: topic orders, partition 3,
// start offset 40, two JsonConverter values with a trace header each. The keys are
// kferry's addition (string keys written as JSON strings, FORMATS.md decisions).
func ordersRecords() []record.Record {
	return []record.Record{
		{Topic: "orders", Partition: 3, Offset: 40, Key: []byte("order-1"), Value: []byte(`{"id":1,"amount":"AZA="}`),
			Headers: []record.Header{{Key: "trace", Value: []byte("abc")}}},
		{Topic: "orders", Partition: 3, Offset: 41, Key: []byte("order-2"), Value: []byte(`{"id":2,"amount":"AZA="}`),
			Headers: []record.Header{{Key: "trace", Value: []byte("def")}}},
	}
}

// goldenCase is one fixture in testdata/ and the records it holds in one view.
type goldenCase struct {
	file string
	view layout.View
	recs []record.Record
	// decodeOnly marks fixtures kferry reads but cannot write: Confluent wrote them
	// from data kferry's json format does not accept.
	decodeOnly bool
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{file: "orders+3+0000000040.json", view: layout.ViewValues, recs: ordersRecords()},
		{file: "orders+3+0000000040.keys.json", view: layout.ViewKeys, recs: ordersRecords()},
		{file: "orders+3+0000000040.headers.json", view: layout.ViewHeaders, recs: ordersRecords()},
		// A StringConverter value "hello" is the JSON string "hello". kferry's json
		// values must already be JSON, so the record value is the quoted text.
		{file: "string-value-hello.json", view: layout.ViewValues, recs: []record.Record{{Value: []byte(`"hello"`)}}},
		// A ByteArrayConverter value 0x01 0xff is written by Confluent as the base64
		// JSON string "Af8=". kferry cannot write it from raw bytes (they are not JSON;
		// use --format bytes) and, since a JSON string line is indistinguishable from
		// a StringConverter value, reads it back as the JSON text "Af8=" (quotes
		// included), not as the original two bytes.
		{file: "bytearray-value-01ff.json", view: layout.ViewValues, recs: []record.Record{{Value: []byte(`"Af8="`)}}, decodeOnly: true},
	}
}

// TestFixturesMatchSpec pins the Confluent fixtures to the bytes FORMATS.md gives,
// so that -update can never drift them towards a wrong encoder.
func TestFixturesMatchSpec(t *testing.T) {
	spec := map[string]string{
		"orders+3+0000000040.json":         "{\"id\":1,\"amount\":\"AZA=\"}\n{\"id\":2,\"amount\":\"AZA=\"}\n",
		"orders+3+0000000040.headers.json": "{\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"}]}\n{\"headers\":[{\"key\":\"trace\",\"value\":\"def\"}]}\n",
		"string-value-hello.json":          "\"hello\"\n",
		"bytearray-value-01ff.json":        "\"Af8=\"\n",
	}
	for file, want := range spec {
		t.Run(file, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("testdata/%s differs from FORMATS.md (-spec +file):\n%s", file, diff)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, gc := range goldenCases() {
		if gc.decodeOnly {
			continue
		}
		t.Run(gc.file, func(t *testing.T) {
			got, err := encodeAll(gc.view, gc.recs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", gc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("encoded %s view differs from %s (-golden +encoded):\n%s", gc.view, path, diff)
			}
		})
	}
}

// TestGoldenDecode reads every fixture, including the ones kferry cannot write:
// golden files must keep decoding forever.
func TestGoldenDecode(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", gc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeAll(gc.view, body)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]any, len(gc.recs))
			for i := range gc.recs {
				want[i] = viewOf(&gc.recs[i], gc.view)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decoded %s view (-want +got):\n%s", gc.view, diff)
			}
		})
	}
}

// encodeAll encodes recs with a fresh encoder of view and returns the object bytes.
func encodeAll(view layout.View, recs []record.Record) ([]byte, error) {
	var buf bytes.Buffer
	enc, err := jsonfmt.Format{}.NewEncoder(&buf, view)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return buf.Bytes(), err
		}
	}
	return buf.Bytes(), nil
}

// decodeAll decodes every record of body in view and returns the view's field of
// each (see viewOf), stopping at the first error.
func decodeAll(view layout.View, body []byte) ([]any, error) {
	dec, err := jsonfmt.Format{}.NewDecoder(bytes.NewReader(body), view)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for {
		var rec record.Record
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, viewOf(&rec, view))
	}
}

// viewOf returns the field of rec that view carries.
func viewOf(rec *record.Record, view layout.View) any {
	switch view {
	case layout.ViewKeys:
		return rec.Key
	case layout.ViewHeaders:
		return rec.Headers
	}
	return rec.Value
}
