package bytesfmt

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// FuzzRoundTrip: any object decodes without panic, and re-encoding what it
// decodes gives the object back (with a final separator).
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("abc\n"))
	f.Add([]byte("a\n\nb"))
	f.Add([]byte{0x00, 0xff, '\n'})
	f.Fuzz(func(t *testing.T, body []byte) {
		dec, err := Format{}.NewDecoder(bytes.NewReader(body), layout.ViewValues)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		enc, err := Format{}.NewEncoder(&out, layout.ViewValues)
		if err != nil {
			t.Fatal(err)
		}
		for {
			var rec record.Record
			err := dec.Next(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, format.ErrMalformed) {
					t.Fatalf("error not classified: %v", err)
				}
				return
			}
			if err := enc.Encode(&rec); err != nil {
				t.Fatalf("re-encode %q: %v", rec.Value, err)
			}
		}
		want := body
		if len(want) > 0 && want[len(want)-1] != Separator {
			want = append(bytes.Clone(want), Separator)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("round trip changed the object:\n got %q\nwant %q", out.Bytes(), want)
		}
	})
}
