package avrofmt

import (
	"bytes"
	"io"
	"testing"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// BenchmarkEncode measures export's per-record cost: schema lookup (cached),
// datum check, block append and compression.
func BenchmarkEncode(b *testing.B) {
	for _, codec := range []string{"null", "snappy", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			f, _ := newFormat(b, codec)
			recs := wireRecords(b, orders(1000))
			enc, _ := f.NewEncoder(io.Discard, layout.ViewValues)
			b.SetBytes(int64(len(recs[1].Value)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := enc.Encode(&recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDecode measures import's per-record cost: block reading, datum
// split and the wire-format value.
func BenchmarkDecode(b *testing.B) {
	f, _ := newFormat(b, "snappy")
	recs := wireRecords(b, orders(10000))
	var obj bytes.Buffer
	enc, _ := f.NewEncoder(&obj, layout.ViewValues)
	for i := range recs {
		_ = enc.Encode(&recs[i]) // checked by the tests
	}
	if c, ok := enc.(interface{ Close() error }); ok {
		_ = c.Close() // as above
	}
	b.SetBytes(int64(len(recs[1].Value)))
	b.ReportAllocs()
	var dec interface{ Next(*record.Record) error }
	var rec record.Record
	for i := 0; b.Loop(); i++ {
		if i%len(recs) == 0 {
			dec, _ = f.NewObjectDecoder(bytes.NewReader(obj.Bytes()), layout.Object{Topic: "orders", View: layout.ViewValues})
		}
		if err := dec.Next(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
