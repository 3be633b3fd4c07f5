package jsonfmt_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/jsonfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

func hdrs(kv ...string) []record.Header {
	var out []record.Header
	for i := 0; i < len(kv); i += 2 {
		out = append(out, record.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		view layout.View
		in   string
		// want is the view's field of every record delivered, also those before
		// an error.
		want    []any
		wantErr error
		errHas  []string
	}{
		{name: "empty object", view: layout.ViewValues, in: "", want: []any{}},
		{name: "values are compacted", view: layout.ViewValues, in: "{\"a\": [1, 2.50]}\n\"x y\"\n",
			want: []any{[]byte(`{"a":[1,2.50]}`), []byte(`"x y"`)}},
		{name: "final line without newline", view: layout.ViewValues, in: "1\n{\"b\":2}",
			want: []any{[]byte(`1`), []byte(`{"b":2}`)}},
		{name: "CRLF line ends", view: layout.ViewValues, in: "{\"a\":1}\r\n[2]\r\n",
			want: []any{[]byte(`{"a":1}`), []byte(`[2]`)}},
		{name: "malformed line 3 of 5", view: layout.ViewValues, in: "1\n2\n{\"a\":\n4\n5\n",
			want: []any{[]byte(`1`), []byte(`2`)}, wantErr: format.ErrMalformed, errHas: []string{"line 3"}},
		{name: "blank line is not a record", view: layout.ViewValues, in: "1\n\n3\n",
			want: []any{[]byte(`1`)}, wantErr: format.ErrMalformed, errHas: []string{"line 2"}},
		{name: "two values on one line", view: layout.ViewValues, in: "1 2\n",
			want: []any{}, wantErr: format.ErrMalformed, errHas: []string{"line 1"}},

		{name: "string key is its text", view: layout.ViewKeys, in: "\"order-1\"\n\"a\\u0001\\\"b\\u00e9\"\n",
			want: []any{[]byte("order-1"), []byte("a\x01\"bé")}},
		{name: "null key", view: layout.ViewKeys, in: "null\n", want: []any{[]byte(nil)}},
		{name: "JSON object key kept compact", view: layout.ViewKeys, in: "{\"id\": 1, \"r\": [ true ]}\n42\n",
			want: []any{[]byte(`{"id":1,"r":[true]}`), []byte(`42`)}},
		{name: "malformed key", view: layout.ViewKeys, in: "\"a\"\n{\"id\":\n", want: []any{[]byte("a")},
			wantErr: format.ErrMalformed, errHas: []string{"line 2", "key"}},
		{name: "unterminated string key", view: layout.ViewKeys, in: "\"abc\n", want: []any{},
			wantErr: format.ErrMalformed, errHas: []string{"line 1"}},

		{name: "headers", view: layout.ViewHeaders, in: "{\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"},{\"key\":\"n\",\"value\":\"\\n\"}]}\n",
			want: []any{hdrs("trace", "abc", "n", "\n")}},
		{name: "null header value differs from empty", view: layout.ViewHeaders,
			in:   "{\"headers\":[{\"key\":\"n\",\"value\":null},{\"key\":\"e\",\"value\":\"\"}]}\n",
			want: []any{[]record.Header{{Key: "n", Value: nil}, {Key: "e", Value: []byte{}}}}},
		{name: "no headers", view: layout.ViewHeaders, in: "{\"headers\":[]}\n", want: []any{[]record.Header(nil)}},
		{name: "header value not a string", view: layout.ViewHeaders, in: "{\"headers\":[]}\n{\"headers\":[{\"key\":\"a\",\"value\":1}]}\n",
			want: []any{[]record.Header(nil)}, wantErr: format.ErrMalformed, errHas: []string{"line 2", "headers"}},
		{name: "headers line not JSON", view: layout.ViewHeaders, in: "headers\n", want: []any{},
			wantErr: format.ErrMalformed, errHas: []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.view.String()+"/"+tt.name, func(t *testing.T) {
			got, err := decodeAll(tt.view, []byte(tt.in))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("decode: %v", err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("decode error = %v, want one wrapping %v", err, tt.wantErr)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeEOFRepeats checks that io.EOF is returned immediately for an empty
// object and keeps being returned.
func TestDecodeEOFRepeats(t *testing.T) {
	for _, view := range []layout.View{layout.ViewValues, layout.ViewKeys, layout.ViewHeaders} {
		dec, err := jsonfmt.Format{}.NewDecoder(strings.NewReader(""), view)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			var rec record.Record
			if err := dec.Next(&rec); !errors.Is(err, io.EOF) {
				t.Errorf("%s view: Next #%d on an empty object = %v, want io.EOF", view, i+1, err)
			}
		}
	}
}

// TestDecodeLeavesOtherFields checks the Decoder contract: Next sets only its
// view's field, and the slices it set stay valid after the next call.
func TestDecodeLeavesOtherFields(t *testing.T) {
	in := map[layout.View]string{
		layout.ViewValues:  "{\"v\":1}\n{\"v\":2}\n",
		layout.ViewKeys:    "\"k1\"\n\"k2\"\n",
		layout.ViewHeaders: "{\"headers\":[{\"key\":\"h\",\"value\":\"1\"}]}\n{\"headers\":[{\"key\":\"h\",\"value\":\"2\"}]}\n",
	}
	for view, body := range in {
		t.Run(view.String(), func(t *testing.T) {
			dec, err := jsonfmt.Format{}.NewDecoder(strings.NewReader(body), view)
			if err != nil {
				t.Fatal(err)
			}
			preset := record.Record{Topic: "t", Partition: 2, Offset: 9, Key: []byte("K"), Value: []byte("V"), Headers: hdrs("H", "h")}
			first := preset
			if err := dec.Next(&first); err != nil {
				t.Fatal(err)
			}
			kept := viewOf(&first, view)
			snapshot := cloneView(kept)
			second := preset
			if err := dec.Next(&second); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(snapshot, kept); diff != "" {
				t.Errorf("first record's %s changed after the next call (-before +after):\n%s", view, diff)
			}
			// Put the preset's field back in the view: the rest must be untouched.
			switch view {
			case layout.ViewValues:
				second.Value = preset.Value
			case layout.ViewKeys:
				second.Key = preset.Key
			case layout.ViewHeaders:
				second.Headers = preset.Headers
			}
			if diff := cmp.Diff(preset, second); diff != "" {
				t.Errorf("Next changed fields outside the %s view (-preset +got):\n%s", view, diff)
			}
		})
	}
}

func cloneView(v any) any {
	switch v := v.(type) {
	case []byte:
		return bytes.Clone(v)
	case []record.Header:
		out := make([]record.Header, len(v))
		for i, h := range v {
			out[i] = record.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
		return out
	}
	panic("unknown view type")
}
