package native

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

func sample() []record.Record {
	ts := time.UnixMilli(1_700_000_000_123)
	return []record.Record{
		{Topic: "t", Partition: 4, Offset: 10, Timestamp: ts, TimestampType: record.TimestampCreateTime, Key: []byte("k"), Value: []byte(`{"a":1}`),
			Headers: []record.Header{{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte{0xff, 0x00}}, {Key: "n", Value: nil}, {Key: "e", Value: []byte{}}}},
		{Topic: "t", Partition: 4, Offset: 11, Timestamp: ts.Add(30 * 24 * time.Hour), TimestampType: record.TimestampCreateTime, Key: nil, Value: nil},
		{Topic: "t", Partition: 4, Offset: 15, Timestamp: ts, TimestampType: record.TimestampLogAppendTime, Key: []byte{}, Value: []byte{}},
		{Topic: "t", Partition: 4, Offset: 16, Timestamp: ts, Key: []byte{0x80, 0x81}, Value: bytes.Repeat([]byte{0xfe}, 900<<10)},
		// Above hamba/avro's default 1 MiB limit for bytes fields.
		{Topic: "t", Partition: 4, Offset: 17, Timestamp: ts, Value: bytes.Repeat([]byte("kferry"), 3<<20/6)},
	}
}

// exactBytes compares byte slices quickly (cmp's reflection is slow on 900 KiB)
// and keeps null distinct from empty.
var exactBytes = cmp.Comparer(func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) })

func encodeAll(t *testing.T, f Format, recs []record.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := f.NewEncoder(&buf, layout.ViewValues)
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
		t.Fatalf("%T is not a format.Closer", enc)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeAll(t *testing.T, body []byte) ([]record.Record, error) {
	t.Helper()
	dec, err := Format{}.NewDecoder(bytes.NewReader(body), layout.ViewValues)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for {
		rec := record.Record{Topic: "t", Partition: 4}
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

func TestRoundTripKeepsEverything(t *testing.T) {
	for _, codec := range []ocf.CodecName{ocf.ZStandard, ocf.Snappy, ocf.Deflate, ocf.Null} {
		t.Run(string(codec), func(t *testing.T) {
			want := sample()
			got, err := decodeAll(t, encodeAll(t, Format{Codec: codec}, want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, exactBytes); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got[1].Value != nil || got[2].Value == nil || got[0].Headers[2].Value != nil || got[0].Headers[3].Value == nil {
				t.Errorf("null/empty distinction lost: %+v", got)
			}
		})
	}
}

func TestRefusesOtherFiles(t *testing.T) {
	body := encodeAll(t, Format{}, sample()[:1])
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"not avro", []byte("{\"a\":1}\n"), format.ErrMalformed},
		{"truncated", body[:len(body)-40], format.ErrMalformed},
		{"newer major", bytes.Replace(body, []byte("1.0"), []byte("2.0"), 1), ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(t, tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRefusesTimestampTypeOutOfRange: a timestamp type that does not fit
// Kafka's int8 is malformed, not wrapped into another type.
func TestRefusesTimestampTypeOutOfRange(t *testing.T) {
	var buf bytes.Buffer
	enc, err := ocf.NewEncoderWithSchema(schema, &buf, ocf.WithMetadata(map[string][]byte{
		MetaFormat: []byte("native"), MetaVersion: []byte(Version), MetaTopic: []byte("t"), MetaPartition: []byte("4"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(wireRecord{Offset: 1, TimestampType: 256}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll(t, buf.Bytes()); !errors.Is(err, format.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestViewsOtherThanValuesRefused(t *testing.T) {
	if _, err := (Format{}).NewEncoder(io.Discard, layout.ViewKeys); !errors.Is(err, format.ErrUnsupported) {
		t.Errorf("keys view: err = %v", err)
	}
}

// withSchemaText rewrites the avro.schema header entry of a native object.
func withSchemaText(t *testing.T, body []byte, text string) []byte {
	t.Helper()
	old := binary.AppendVarint(nil, int64(len(schemaText)))
	old = append(old, schemaText...)
	i := bytes.Index(body, old)
	if i < 0 {
		t.Fatal("no schema entry in the header")
	}
	repl := append(binary.AppendVarint(nil, int64(len(text))), text...)
	return append(append(append([]byte{}, body[:i]...), repl...), body[i+len(old):]...)
}

// The schema is compared as text first (parsing it per object cost a restore
// of small objects more than its records); another spelling of the same
// schema still decodes, another schema is still refused.
func TestSchemaSpellings(t *testing.T) {
	body := encodeAll(t, Format{}, sample()[:3])
	spaced := withSchemaText(t, body, " \n"+schemaText+"\n")
	got, err := decodeAll(t, spaced)
	if err != nil || len(got) != 3 {
		t.Fatalf("schema with whitespace: %d records, %v; want 3", len(got), err)
	}
	if !strings.Contains(schemaText, `"offset"`) {
		t.Fatalf("native schema without an offset field: %s", schemaText)
	}
	other := withSchemaText(t, body, strings.Replace(schemaText, `"offset"`, `"offzet"`, 1))
	if _, err := decodeAll(t, other); !errors.Is(err, format.ErrMalformed) {
		t.Fatalf("another schema: %v, want ErrMalformed", err)
	}
}
