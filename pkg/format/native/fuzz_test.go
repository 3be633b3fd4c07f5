package native

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// FuzzDecode feeds arbitrary bytes to the native decoder: it must return records
// or an error wrapping format.ErrMalformed or ErrVersion, never panic.
func FuzzDecode(f *testing.F) {
	small := sample()[:3]
	for _, codec := range []ocf.CodecName{ocf.ZStandard, ocf.Snappy, ocf.Deflate, ocf.Null} {
		var buf bytes.Buffer
		enc, _ := Format{Codec: codec}.NewEncoder(&buf, layout.ViewValues)
		for i := range small {
			_ = enc.Encode(&small[i])
		}
		if c, ok := enc.(format.Closer); ok {
			_ = c.Close() // a seed; the fuzz target reports what it cannot decode
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("Obj\x01"))
	maxBlockBytes = 1 << 20 // each input stays cheap; the limit logic is the same
	f.Fuzz(func(t *testing.T, body []byte) {
		dec, err := Format{}.NewDecoder(bytes.NewReader(body), layout.ViewValues)
		if err != nil {
			t.Fatal(err)
		}
		for range 10_000 {
			var rec record.Record
			err := dec.Next(&rec)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !errors.Is(err, format.ErrMalformed) && !errors.Is(err, ErrVersion) {
					t.Fatalf("error not classified: %v", err)
				}
				return
			}
		}
	})
}
