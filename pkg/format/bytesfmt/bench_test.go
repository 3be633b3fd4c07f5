package bytesfmt

import (
	"bytes"
	"io"
	"testing"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

func BenchmarkBytesEncode(b *testing.B) {
	enc, _ := Format{}.NewEncoder(io.Discard, layout.ViewValues)
	rec := &record.Record{Value: bytes.Repeat([]byte("x"), 1024)}
	b.SetBytes(int64(len(rec.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBytesDecode(b *testing.B) {
	const n = 1000
	line := append(bytes.Repeat([]byte("x"), 1024), Separator)
	obj := bytes.Repeat(line, n)
	b.SetBytes(int64(len(line) - 1))
	b.ReportAllocs()
	var rec record.Record
	var dec interface{ Next(*record.Record) error }
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			dec, _ = Format{}.NewDecoder(bytes.NewReader(obj), layout.ViewValues)
		}
		if err := dec.Next(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
