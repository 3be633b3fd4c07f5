package native

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/record"
)

// manyRecords spans several blocks (1,000 records each).
func manyRecords(n int) []record.Record {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Topic: "t", Partition: 4, Offset: int64(i), Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)), Key: fmt.Appendf(nil, "k%d", i),
			Value: bytes.Repeat([]byte{byte(i)}, 100), Headers: []record.Header{{Key: "h", Value: []byte("v")}}}
	}
	return recs
}

// TestContainerReadByAvroTools checks that kferry's own container writer makes
// files that another Avro implementation (hamba/avro's ocf.Decoder) reads, with
// every codec: native objects are plain Avro object container files.
func TestContainerReadByAvroTools(t *testing.T) {
	recs := manyRecords(2500)
	for _, codec := range []ocf.CodecName{ocf.ZStandard, ocf.Snappy, ocf.Deflate, ocf.Null} {
		t.Run(string(codec), func(t *testing.T) {
			body := encodeAll(t, Format{Codec: codec}, recs)
			dec, err := ocf.NewDecoder(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(dec.Metadata()["avro.codec"]); got != string(codec) {
				t.Errorf("avro.codec = %q, want %q", got, codec)
			}
			n := 0
			for dec.HasNext() {
				var w wireRecord
				if err := dec.Decode(&w); err != nil {
					t.Fatal(err)
				}
				if w.Offset != int64(n) || w.Value == nil || !bytes.Equal(*w.Value, recs[n].Value) {
					t.Fatalf("record %d: offset %d, value %v", n, w.Offset, w.Value)
				}
				n++
			}
			if err := dec.Error(); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if n != len(recs) {
				t.Errorf("decoded %d records, want %d", n, len(recs))
			}
		})
	}
}

// TestConcurrentEncodersShareCompressors writes objects from many goroutines at
// once (as an exporter of many partitions does): the shared zstd encoder and
// the pooled deflate writers must keep every object intact (run with -race).
func TestConcurrentEncodersShareCompressors(t *testing.T) {
	recs := manyRecords(1500)
	for _, codec := range []ocf.CodecName{ocf.ZStandard, ocf.Deflate} {
		var wg sync.WaitGroup
		bodies := make([][]byte, 8)
		for i := range bodies {
			wg.Go(func() { bodies[i] = encodeAll(t, Format{Codec: codec}, recs) })
		}
		wg.Wait()
		for i, body := range bodies {
			got, err := decodeAll(t, body)
			if err != nil {
				t.Fatalf("%s object %d: %v", codec, i, err)
			}
			if diff := cmp.Diff(recs, got, exactBytes); diff != "" {
				t.Fatalf("%s object %d differs (-want +got):\n%s", codec, i, diff)
			}
		}
	}
}
