package jsonfmt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// encodeCase encodes one record in one view. Either want is the line written, or
// the error wraps wantErr and mentions every string of errHas, and nothing was
// written.
type encodeCase struct {
	name    string
	rec     record.Record
	want    string
	wantErr error
	errHas  []string
}

func runEncodeCases(t *testing.T, view layout.View, cases []encodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeAll(view, []record.Record{tc.rec})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if diff := cmp.Diff(tc.want, string(got)); diff != "" {
					t.Errorf("line (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Encode error = %v, want one wrapping %v", err, tc.wantErr)
			}
			for _, s := range tc.errHas {
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

func TestEncodeValues(t *testing.T) {
	runEncodeCases(t, layout.ViewValues, []encodeCase{
		{name: "compaction keeps key order and number literals",
			rec: record.Record{Value: []byte(`{"b":1.50,"a":[1, 2]}`)}, want: "{\"b\":1.50,\"a\":[1,2]}\n"},
		{name: "newlines and tabs between tokens go, inside strings they stay escaped",
			rec: record.Record{Value: []byte("{\n\t\"x\" : \"a b\\n\" ,\r\n \"y\":[ ]\n}")}, want: "{\"x\":\"a b\\n\",\"y\":[]}\n"},
		{name: "big and exponent numbers are not reformatted",
			rec: record.Record{Value: []byte(`[12345678901234567890123, 1E+3, -0.0, 1e-7]`)}, want: "[12345678901234567890123,1E+3,-0.0,1e-7]\n"},
		{name: "no HTML escaping", rec: record.Record{Value: []byte(`{"h":"<a href='x'>&</a>"}`)}, want: "{\"h\":\"<a href='x'>&</a>\"}\n"},
		{name: "scalar string value", rec: record.Record{Value: []byte(`"hello"`)}, want: "\"hello\"\n"},
		{name: "JSON null value is a value, not a tombstone", rec: record.Record{Value: []byte(`null`)}, want: "null\n"},
		{name: "non-JSON value", rec: record.Record{Topic: "t", Offset: 7, Value: []byte("abc")},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 7", "--format bytes", "not JSON"}},
		{name: "raw bytes 0x01 0xff are not JSON", rec: record.Record{Offset: 8, Value: []byte{0x01, 0xff}},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 8", "--format bytes"}},
		{name: "empty value is not JSON", rec: record.Record{Offset: 9, Value: []byte{}},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 9", "--format bytes"}},
		{name: "two JSON values in one record", rec: record.Record{Offset: 10, Value: []byte(`{"a":1} {"b":2}`)},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 10"}},
		{name: "null value (tombstone)", rec: record.Record{Offset: 11},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 11", "tombstone", "--format native"}},
	})
}

func TestEncodeKeys(t *testing.T) {
	runEncodeCases(t, layout.ViewKeys, []encodeCase{
		{name: "string key is a JSON string", rec: record.Record{Key: []byte("order-1")}, want: "\"order-1\"\n"},
		{name: "empty key", rec: record.Record{Key: []byte{}}, want: "\"\"\n"},
		{name: "JSON text key is still written as a string", rec: record.Record{Key: []byte(`{"id":1}`)}, want: "\"{\\\"id\\\":1}\"\n"},
		{name: "Jackson escapes", rec: record.Record{Key: []byte("q\"b\\s/\b\t\n\f\r\x00\x01\x1b\x1f")},
			want: "\"q\\\"b\\\\s/\\b\\t\\n\\f\\r\\u0000\\u0001\\u001B\\u001F\"\n"},
		{name: "no HTML or line separator escaping", rec: record.Record{Key: []byte("<&>\u2028\u2029\x7f")}, want: "\"<&>\u2028\u2029\x7f\"\n"},
		{name: "multi-byte UTF-8 kept raw", rec: record.Record{Key: []byte("clé-日本-🚀")}, want: "\"clé-日本-🚀\"\n"},
		{name: "null key", rec: record.Record{Offset: 4},
			wantErr: format.ErrUnsupported, errHas: []string{"null key", "offset 4", "--store-keys"}},
		{name: "non-UTF-8 key", rec: record.Record{Offset: 5, Key: []byte{'k', 0xff, 0xfe}},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 5", "UTF-8", "--keys-format bytes"}},
	})
}

func TestEncodeHeaders(t *testing.T) {
	runEncodeCases(t, layout.ViewHeaders, []encodeCase{
		{name: "one header", rec: record.Record{Headers: []record.Header{{Key: "trace", Value: []byte("abc")}}},
			want: "{\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"}]}\n"},
		{name: "null value and empty value differ",
			rec:  record.Record{Headers: []record.Header{{Key: "n", Value: nil}, {Key: "e", Value: []byte{}}}},
			want: "{\"headers\":[{\"key\":\"n\",\"value\":null},{\"key\":\"e\",\"value\":\"\"}]}\n"},
		{name: "repeated keys keep their order",
			rec:  record.Record{Headers: []record.Header{{Key: "a", Value: []byte("2")}, {Key: "a", Value: []byte("1")}}},
			want: "{\"headers\":[{\"key\":\"a\",\"value\":\"2\"},{\"key\":\"a\",\"value\":\"1\"}]}\n"},
		{name: "escaping in keys and values",
			rec:  record.Record{Headers: []record.Header{{Key: "k\"\x02", Value: []byte("<v>\n\x1f&")}}},
			want: "{\"headers\":[{\"key\":\"k\\\"\\u0002\",\"value\":\"<v>\\n\\u001F&\"}]}\n"},
		// Confluent refuses records without headers ("Headers cannot be null");
		// kferry writes an empty list so every record keeps its line.
		{name: "no headers", rec: record.Record{}, want: "{\"headers\":[]}\n"},
		{name: "binary header value", rec: record.Record{Offset: 6, Headers: []record.Header{{Key: "ok", Value: []byte("x")}, {Key: "bin", Value: []byte{0xc3, 0x28}}}},
			wantErr: format.ErrUnsupported, errHas: []string{`"bin"`, "offset 6", "UTF-8"}},
		{name: "non-UTF-8 header key", rec: record.Record{Offset: 7, Headers: []record.Header{{Key: "b\xffd", Value: []byte("x")}}},
			wantErr: format.ErrUnsupported, errHas: []string{"offset 7", "UTF-8"}},
	})
}

// TestEncodeAfterRefusal checks that a refused record leaves no trace in the
// object: the next record's line follows the previous one directly.
func TestEncodeAfterRefusal(t *testing.T) {
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys, layout.ViewHeaders} {
		t.Run(view.String(), func(t *testing.T) {
			good := record.Record{Key: []byte("k"), Value: []byte(`1`), Headers: []record.Header{{Key: "h", Value: []byte("v")}}}
			bad := record.Record{Key: []byte{0xff}, Value: []byte(`{`), Headers: []record.Header{{Key: "h", Value: []byte("v")}, {Key: "b", Value: []byte{0xff}}}}
			var buf strings.Builder
			enc, err := jsonfmt.Format{}.NewEncoder(&buf, view)
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(&good); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(&bad); !errors.Is(err, format.ErrUnsupported) {
				t.Fatalf("Encode(bad) = %v, want ErrUnsupported", err)
			}
			if err := enc.Encode(&good); err != nil {
				t.Fatal(err)
			}
			once, err := encodeAll(view, []record.Record{good})
			if err != nil {
				t.Fatal(err)
			}
			if want := string(once) + string(once); buf.String() != want {
				t.Errorf("object = %q, want %q", buf.String(), want)
			}
		})
	}
}

func TestAppendStringJackson(t *testing.T) {
	// Jackson's default escapes: the two-character forms for " \ \b \t \n \f \r,
	// \u00XX with upper-case hex for other control characters, nothing else.
	var want strings.Builder
	for c := 0; c < 0x20; c++ {
		switch c {
		case '\b':
			want.WriteString(`\b`)
		case '\t':
			want.WriteString(`\t`)
		case '\n':
			want.WriteString(`\n`)
		case '\f':
			want.WriteString(`\f`)
		case '\r':
			want.WriteString(`\r`)
		default:
			want.WriteString(`\u00`)
			want.WriteByte("0123456789ABCDEF"[c>>4])
			want.WriteByte("0123456789ABCDEF"[c&0xf])
		}
	}
	in := make([]byte, 0x20)
	for c := range in {
		in[c] = byte(c)
	}
	got := string(jsonfmt.AppendString([]byte("prefix:"), in))
	if w := `prefix:"` + want.String() + `"`; got != w {
		t.Errorf("AppendString(control characters) = %s, want %s", got, w)
	}
	if !strings.Contains(got, `\u001B`) || strings.Contains(got, `\u001b`) {
		t.Errorf("hex digits must be upper case like Jackson's: %s", got)
	}
}
