package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kferry/kferry/pkg/format/linereader"
	"github.com/kferry/kferry/pkg/record"
)

// blockReader decodes the records of one container block by hand. The schema
// is fixed (Schema), and hamba/avro's reflective decoder cost a restore of
// 100-byte records more CPU than producing them; keys and values are carved
// from a Slab instead of allocated one by one. TestWireMatchesHamba holds it
// to hamba/avro's reading of the same bytes.
type blockReader struct {
	b    []byte
	pos  int
	slab linereader.Slab
}

var errShort = errors.New("record runs past the end of its block")

// reset starts reading a new block.
func (r *blockReader) reset(b []byte) { r.b, r.pos = b, 0 }

// left is how many bytes of the block are not read yet.
func (r *blockReader) left() int { return len(r.b) - r.pos }

// long reads an Avro long (zig-zag varint).
func (r *blockReader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.pos:])
	switch {
	case n == 0:
		return 0, errShort
	case n < 0:
		return 0, errors.New("long longer than 64 bits")
	}
	r.pos += n
	return v, nil
}

// span reads a length-prefixed run of bytes; the slice points into the block.
func (r *blockReader) span(what string) ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > MaxRecordBytes || n > int64(r.left()) {
		return nil, fmt.Errorf("%s of %d bytes in a block with %d left", what, n, r.left())
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// nullableBytes reads ["null","bytes"]: nil for null, a non-nil slice of its
// own (from the slab) for bytes, empty ones included.
func (r *blockReader) nullableBytes(what string) ([]byte, error) {
	branch, err := r.long()
	if err != nil {
		return nil, err
	}
	switch branch {
	case 0:
		return nil, nil
	case 1:
		b, err := r.span(what)
		if err != nil || len(b) == 0 {
			return []byte{}, err
		}
		return r.slab.Clone(b), nil
	}
	return nil, fmt.Errorf("%s: union branch %d of [null, bytes]", what, branch)
}

// record reads one record into rec.
func (r *blockReader) record(rec *record.Record) error {
	off, err := r.long()
	if err != nil {
		return err
	}
	ts, err := r.long()
	if err != nil {
		return err
	}
	tt, err := r.long()
	if err != nil {
		return err
	}
	if tt < math.MinInt8 || tt > math.MaxInt8 {
		return fmt.Errorf("timestamp type %d", tt)
	}
	rec.Offset, rec.TimestampType, rec.Timestamp = off, record.TimestampType(tt), time.Time{}
	if tt >= 0 || ts != 0 {
		rec.Timestamp = time.UnixMilli(ts)
	}
	if rec.Key, err = r.nullableBytes("key"); err != nil {
		return err
	}
	if rec.Value, err = r.nullableBytes("value"); err != nil {
		return err
	}
	rec.Headers, err = r.headers()
	return err
}

// headers reads the array of Header records, in Avro's blocks.
func (r *blockReader) headers() ([]record.Header, error) {
	var hs []record.Header
	for {
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return hs, nil
		}
		if n < 0 { // a block with its size in bytes, which is not needed
			n = -n
			if _, err := r.long(); err != nil {
				return nil, err
			}
		}
		if n < 0 || n > int64(r.left())/2 { // -2^63 stays negative; a header takes two bytes at least
			return nil, fmt.Errorf("%d headers in a block with %d bytes left", n, r.left())
		}
		hs = append(make([]record.Header, 0, len(hs)+int(n)), hs...)
		for range n {
			k, err := r.span("header key")
			if err != nil {
				return nil, err
			}
			v, err := r.nullableBytes("header value")
			if err != nil {
				return nil, err
			}
			hs = append(hs, record.Header{Key: string(k), Value: v})
		}
	}
}
