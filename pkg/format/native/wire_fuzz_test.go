package native

import (
	"bytes"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/record"
)

// FuzzWireMatchesHamba: on any bytes, the hand-written block reader reads the
// records hamba/avro reads, and fails where it fails (never panics).
func FuzzWireMatchesHamba(f *testing.F) {
	var block bytes.Buffer
	enc := avro.DefaultConfig.NewEncoder(schema, &block)
	v := []byte("value")
	for _, w := range []wireRecord{
		{Offset: 7, Value: &v, Headers: []wireHeader{{Key: "h", Value: &v}, {Key: "\xff\xfe", Value: nil}}},
		{Offset: -1, Timestamp: -1, TimestampType: -1, Key: &[]byte{}, Value: nil},
	} {
		if err := enc.Encode(&w); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(block.Bytes())
	f.Add([]byte{14, 0, 0, 0, 0, 3, 2, 2, 'a', 0, 0})                                           // a negative headers block with a byte size
	f.Add([]byte{0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}) // -2^63 headers
	f.Fuzz(func(t *testing.T, b []byte) {
		hamba := avro.Config{MaxByteSliceSize: MaxRecordBytes, MaxSliceAllocSize: MaxRecordBytes}.Freeze().NewDecoder(schema, bytes.NewReader(b))
		var r blockReader
		r.reset(b)
		for i := 0; r.left() > 0; i++ {
			var got record.Record
			ourErr := r.record(&got)
			var h wireRecord
			herr := func() (err error) {
				defer func() {
					if p := recover(); p != nil {
						err = errPanic
					}
				}()
				return hamba.Decode(&h)
			}()
			if herr == nil && (h.TimestampType < math.MinInt8 || h.TimestampType > math.MaxInt8) {
				herr = errPanic // refused after decoding before blockReader
			}
			if (ourErr == nil) != (herr == nil) {
				t.Fatalf("record %d: ours %v, hamba %v", i, ourErr, herr)
			}
			if ourErr != nil {
				return
			}
			if diff := cmp.Diff(fromWire(h), got); diff != "" {
				t.Fatalf("record %d differs (-hamba +ours):\n%s", i, diff)
			}
		}
	})
}

var errPanic = errorString("hamba panicked")

type errorString string

func (e errorString) Error() string { return string(e) }
