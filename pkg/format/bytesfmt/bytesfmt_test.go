package bytesfmt_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/bytesfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the encoder's output")

func encodeAll(view layout.View, recs []record.Record) ([]byte, error) {
	var buf bytes.Buffer
	enc, err := bytesfmt.Format{}.NewEncoder(&buf, view)
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

// decodeAll returns the view's field (Value or Key) of every record in body.
func decodeAll(view layout.View, body []byte) ([][]byte, error) {
	dec, err := bytesfmt.Format{}.NewDecoder(bytes.NewReader(body), view)
	if err != nil {
		return nil, err
	}
	out := [][]byte{}
	for {
		var rec record.Record
		err := dec.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if view == layout.ViewKeys {
			if rec.Value != nil {
				return out, errors.New("keys decoder set Value")
			}
			out = append(out, rec.Key)
		} else {
			if rec.Key != nil {
				return out, errors.New("values decoder set Key")
			}
			out = append(out, rec.Value)
		}
	}
}

// TestGolden checks the FORMATS.md fixture "value abc in bytes format (.bin)":
// the encoder writes it, the decoder reads it back, and it is the spec's bytes.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "value-abc.bin")
	recs := []record.Record{{Topic: "orders", Partition: 3, Offset: 40, Value: []byte("abc")}}
	got, err := encodeAll(layout.ViewValues, recs)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != "abc\n" {
		t.Fatalf("%s = %q, FORMATS.md says %q", path, want, "abc\n")
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("encoded (-golden +got):\n%s", diff)
	}
	vals, err := decodeAll(layout.ViewValues, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{[]byte("abc")}, vals); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name    string
		view    layout.View
		rec     record.Record
		want    string
		wantErr error
		errHas  []string
	}{
		{name: "value", view: layout.ViewValues, rec: record.Record{Value: []byte("abc")}, want: "abc\n"},
		{name: "empty value", view: layout.ViewValues, rec: record.Record{Value: []byte{}}, want: "\n"},
		{name: "binary value is byte-exact", view: layout.ViewValues, rec: record.Record{Value: []byte{0x00, 0xff, '\r', 0x01}}, want: "\x00\xff\r\x01\n"},
		{name: "key", view: layout.ViewKeys, rec: record.Record{Key: []byte("k1"), Value: []byte("v")}, want: "k1\n"},
		{name: "value containing the separator", view: layout.ViewValues, rec: record.Record{Offset: 12, Value: []byte("abc\ndef")},
			wantErr: format.ErrUnsupported, errHas: []string{"value", "offset 12", "position 3", "--format native"}},
		{name: "tombstone", view: layout.ViewValues, rec: record.Record{Offset: 13},
			wantErr: format.ErrUnsupported, errHas: []string{"tombstone", "offset 13", "--format native"}},
		{name: "null key", view: layout.ViewKeys, rec: record.Record{Offset: 14, Value: []byte("v")},
			wantErr: format.ErrUnsupported, errHas: []string{"null key", "offset 14"}},
		{name: "key containing the separator", view: layout.ViewKeys, rec: record.Record{Offset: 15, Key: []byte("\n")},
			wantErr: format.ErrUnsupported, errHas: []string{"key", "offset 15", "position 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeAll(tt.view, []record.Record{tt.rec})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, string(got)); diff != "" {
					t.Errorf("object (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Encode error = %v, want one wrapping %v", err, tt.wantErr)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if len(got) != 0 {
				t.Errorf("Encode wrote %q for a refused record, want nothing", got)
			}
		})
	}
}

// TestHeadersView: Confluent allows no ByteArrayFormat headers, so neither does kferry.
func TestHeadersView(t *testing.T) {
	if _, err := (bytesfmt.Format{}).NewEncoder(io.Discard, layout.ViewHeaders); !errors.Is(err, format.ErrUnsupported) || !strings.Contains(err.Error(), "headers") {
		t.Errorf("NewEncoder(headers) error = %v, want ErrUnsupported about headers", err)
	}
	if _, err := (bytesfmt.Format{}).NewDecoder(strings.NewReader("x\n"), layout.ViewHeaders); !errors.Is(err, format.ErrMalformed) {
		t.Errorf("NewDecoder(headers) error = %v, want ErrMalformed", err)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		view layout.View
		in   string
		want [][]byte
	}{
		{"empty object", layout.ViewValues, "", [][]byte{}},
		{"two records", layout.ViewValues, "abc\ndef\n", [][]byte{[]byte("abc"), []byte("def")}},
		{"final record without separator", layout.ViewValues, "abc\ndef", [][]byte{[]byte("abc"), []byte("def")}},
		{"empty records are empty, not null", layout.ViewValues, "\n\n", [][]byte{{}, {}}},
		{"carriage return is data", layout.ViewValues, "a\r\n", [][]byte{[]byte("a\r")}},
		{"keys view", layout.ViewKeys, "k1\nk2\n", [][]byte{[]byte("k1"), []byte("k2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(tt.view, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoundTripRandom: any separator-free values and keys come back byte for byte,
// and decoded slices stay valid after later calls.
func TestRoundTripRandom(t *testing.T) {
	seed := uint64(7)
	r := rand.New(rand.NewPCG(seed, seed))
	recs := make([]record.Record, 1000)
	for i := range recs {
		recs[i] = record.Record{Offset: int64(i), Key: randBytes(r, 40), Value: randBytes(r, 300)}
	}
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys} {
		obj, err := encodeAll(view, recs)
		if err != nil {
			t.Fatalf("seed %d: encode %s: %v", seed, view, err)
		}
		got, err := decodeAll(view, obj)
		if err != nil {
			t.Fatalf("seed %d: decode %s: %v", seed, view, err)
		}
		want := make([][]byte, len(recs))
		for i := range recs {
			want[i] = recs[i].Value
			if view == layout.ViewKeys {
				want[i] = recs[i].Key
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("seed %d: %s did not round-trip (-want +got):\n%s", seed, view, diff)
		}
	}
}

// randBytes returns up to n random bytes other than the separator (never nil).
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, r.IntN(n+1))
	for i := range b {
		c := byte(r.UintN(255))
		if c >= bytesfmt.Separator {
			c++ // skip the separator
		}
		b[i] = c
	}
	return b
}
