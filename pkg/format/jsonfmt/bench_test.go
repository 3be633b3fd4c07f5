package jsonfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// benchValue is a 1 KiB JSON object like the ones `make bench` moves.
func benchValue(i int) []byte {
	head := fmt.Sprintf(`{"id":%d,"name":"rec-%d","tags":["a","b"],"ok":true,"score":12.5,"pad":"`, i, i)
	return []byte(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)
}

func BenchmarkJSONEncode(b *testing.B) {
	enc, _ := Format{}.NewEncoder(io.Discard, layout.ViewValues)
	rec := &record.Record{Value: benchValue(1)}
	b.SetBytes(int64(len(rec.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONDecode(b *testing.B) {
	const n = 1000
	var obj bytes.Buffer
	for i := range n {
		obj.Write(benchValue(i))
		obj.WriteByte('\n')
	}
	b.SetBytes(int64(obj.Len() / n))
	b.ReportAllocs()
	var rec record.Record
	var dec interface{ Next(*record.Record) error }
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			dec, _ = Format{}.NewDecoder(bytes.NewReader(obj.Bytes()), layout.ViewValues)
		}
		if err := dec.Next(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompact compares the fast path with encoding/json on a compact and
// an indented value.
func BenchmarkCompact(b *testing.B) {
	var indented bytes.Buffer
	_ = json.Indent(&indented, benchValue(1), "", "  ")
	for _, in := range []struct {
		name string
		src  []byte
	}{{"compact", benchValue(1)}, {"indented", indented.Bytes()}} {
		b.Run(in.name+"/kferry", func(b *testing.B) {
			b.SetBytes(int64(len(in.src)))
			b.ReportAllocs()
			dst := make([]byte, 0, 2048)
			for b.Loop() {
				dst, _ = appendCompact(dst[:0], in.src)
			}
		})
		b.Run(in.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(in.src)))
			b.ReportAllocs()
			var dst bytes.Buffer
			for b.Loop() {
				dst.Reset()
				_ = json.Compact(&dst, in.src)
			}
		})
	}
}

// BenchmarkHeadersDecode reads a line of two headers, as an import reads the
// headers sidecar of every record: the fast path and encoding/json.
func BenchmarkHeadersDecode(b *testing.B) {
	line := []byte(`{"headers":[{"key":"trace-id","value":"4bf92f3577b34da6a3ce929d0e0e4736"},{"key":"source","value":"orders-service"}]}`)
	var d decoder
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := d.headersFast(line); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var hl headerLine
			if err := json.Unmarshal(line, &hl); err != nil {
				b.Fatal(err)
			}
		}
	})
}
