package native

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/record"
)

// TestWireMatchesHamba: the hand-written block reader reads every record as
// hamba/avro's decoder reads the same bytes (the reader kferry used before),
// over random records with every kind of key, value and header.
func TestWireMatchesHamba(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	opt := func() *[]byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return &[]byte{}
		}
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return &b
	}
	var block bytes.Buffer
	enc := avro.DefaultConfig.NewEncoder(schema, &block)
	var want []wireRecord
	for range 2000 {
		w := wireRecord{Offset: rng.Int64N(1 << 62), Timestamp: rng.Int64N(1<<45) - 1<<44, TimestampType: int32(rng.IntN(3) - 1), Key: opt(), Value: opt()}
		for range rng.IntN(4) {
			w.Headers = append(w.Headers, wireHeader{Key: string(rune('a' + rng.IntN(26))), Value: opt()})
		}
		if err := enc.Encode(&w); err != nil {
			t.Fatal(err)
		}
		want = append(want, w)
	}
	hamba := avro.Config{MaxByteSliceSize: MaxRecordBytes}.Freeze().NewDecoder(schema, bytes.NewReader(block.Bytes()))
	var r blockReader
	r.reset(block.Bytes())
	for i := range want {
		var h wireRecord
		if err := hamba.Decode(&h); err != nil {
			t.Fatal(err)
		}
		var got record.Record
		if err := r.record(&got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if diff := cmp.Diff(fromWire(h), got); diff != "" {
			t.Fatalf("record %d differs from hamba/avro's reading (-hamba +ours):\n%s", i, diff)
		}
	}
	if r.left() != 0 {
		t.Fatalf("%d bytes left after the last record", r.left())
	}
}

// fromWire is what a record read by hamba/avro became before blockReader.
func fromWire(w wireRecord) record.Record {
	denull := func(p *[]byte) []byte {
		if p == nil {
			return nil
		}
		if *p == nil {
			return []byte{}
		}
		return *p
	}
	rec := record.Record{Offset: w.Offset, TimestampType: record.TimestampType(w.TimestampType), Key: denull(w.Key), Value: denull(w.Value)}
	if w.TimestampType >= 0 || w.Timestamp != 0 {
		rec.Timestamp = time.UnixMilli(w.Timestamp)
	}
	for _, h := range w.Headers {
		rec.Headers = append(rec.Headers, record.Header{Key: h.Key, Value: denull(h.Value)})
	}
	return rec
}

// Truncated and corrupt blocks are errors, never panics or huge allocations.
func TestWireRefusesBrokenBlocks(t *testing.T) {
	var block bytes.Buffer
	enc := avro.DefaultConfig.NewEncoder(schema, &block)
	v := []byte("value")
	if err := enc.Encode(&wireRecord{Offset: 7, Value: &v, Headers: []wireHeader{{Key: "h", Value: &v}}}); err != nil {
		t.Fatal(err)
	}
	full := block.Bytes()
	for n := range len(full) {
		var r blockReader
		r.reset(full[:n])
		var rec record.Record
		if err := r.record(&rec); err == nil {
			t.Fatalf("a block cut to %d of %d bytes read without error", n, len(full))
		}
	}
	huge := []byte{14, 0, 0, 2, 0xfe, 0xff, 0xff, 0xff, 0x0f} // a key of 2^31-1 bytes
	var r blockReader
	r.reset(huge)
	var rec record.Record
	if err := r.record(&rec); err == nil {
		t.Fatal("a value longer than its block read without error")
	}
	badUnion := []byte{14, 0, 0, 4}
	r.reset(badUnion)
	if err := r.record(&rec); err == nil {
		t.Fatal("union branch 2 read without error")
	}
}

// A headers block whose count is the most negative long (its negation is
// itself) is an error, not a panic: a corrupt object must not crash a restore.
func TestWireRefusesMinInt64HeaderCount(t *testing.T) {
	b := []byte{0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}
	var r blockReader
	r.reset(b)
	var rec record.Record
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic: %v", p)
			}
		}()
		return r.record(&rec)
	}()
	if err == nil {
		t.Fatal("a headers block of -2^63 records read without error")
	}
}
