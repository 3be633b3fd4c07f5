package avrofmt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
)

var errDatum = errors.New("datum does not match its schema")

// maxDepth bounds nesting (recursive schemas), so hostile data cannot
// exhaust the stack.
const maxDepth = 1000

// datumLen returns the length of the Avro binary datum of schema s at the start
// of b, checking its structure on the way (lengths, union and enum indexes).
// It lets the encoder check a Kafka payload and the decoder split a block into
// datums without decoding them into Go values.
func datumLen(s avro.Schema, b []byte) (int, error) {
	return skip(s, b, 0, 0)
}

func varint(b []byte, at int) (int64, int, error) {
	if at > len(b) {
		return 0, 0, fmt.Errorf("%w: ends early", errDatum)
	}
	v, w := binary.Varint(b[at:])
	if w <= 0 {
		return 0, 0, fmt.Errorf("%w: bad varint at byte %d", errDatum, at)
	}
	return v, at + w, nil
}

func need(b []byte, at, n int64) (int, error) {
	if n < 0 || at+n > int64(len(b)) {
		return 0, fmt.Errorf("%w: ends early (needs %d bytes at byte %d)", errDatum, n, at)
	}
	return int(at + n), nil
}

func skip(s avro.Schema, b []byte, at, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: nested deeper than %d", errDatum, maxDepth)
	}
	switch t := s.(type) {
	case *avro.NullSchema:
		return at, nil
	case *avro.PrimitiveSchema:
		return skipPrimitive(t.Type(), b, at)
	case *avro.FixedSchema:
		return need(b, int64(at), int64(t.Size()))
	case *avro.EnumSchema:
		i, at, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		if i < 0 || i >= int64(len(t.Symbols())) {
			return 0, fmt.Errorf("%w: enum index %d", errDatum, i)
		}
		return at, nil
	case *avro.UnionSchema:
		types := t.Types()
		i, at, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		if i < 0 || i >= int64(len(types)) {
			return 0, fmt.Errorf("%w: union index %d of %d", errDatum, i, len(types))
		}
		return skip(types[i], b, at, depth+1)
	case *avro.RecordSchema:
		var err error
		for _, f := range t.Fields() {
			if at, err = skip(f.Type(), b, at, depth+1); err != nil {
				return 0, fmt.Errorf("field %s: %w", f.Name(), err)
			}
		}
		return at, nil
	case *avro.RefSchema:
		return skip(t.Schema(), b, at, depth+1)
	case *avro.ArraySchema:
		return skipBlocks(b, at, depth, t.Items(), nil)
	case *avro.MapSchema:
		return skipBlocks(b, at, depth, t.Values(), avro.NewPrimitiveSchema(avro.String, nil))
	}
	return 0, fmt.Errorf("%w: unknown type %s", errDatum, s.Type())
}

func skipPrimitive(t avro.Type, b []byte, at int) (int, error) {
	switch t {
	case avro.Null:
		return at, nil
	case avro.Boolean:
		return need(b, int64(at), 1)
	case avro.Int, avro.Long:
		_, at, err := varint(b, at)
		return at, err
	case avro.Float:
		return need(b, int64(at), 4)
	case avro.Double:
		return need(b, int64(at), 8)
	case avro.String, avro.Bytes:
		n, at, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		return need(b, int64(at), n)
	}
	return 0, fmt.Errorf("%w: unknown type %s", errDatum, t)
}

// skipBlocks skips the blocks of an array (key nil) or map: a count, negative
// when a byte size follows, items, until a count of 0.
func skipBlocks(b []byte, at, depth int, items, key avro.Schema) (int, error) {
	for {
		n, next, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		at = next
		if n == 0 {
			return at, nil
		}
		if n < 0 {
			n = -n
			if _, at, err = varint(b, at); err != nil { // the block's byte size
				return 0, err
			}
		}
		if n > int64(len(b)-at)+1 { // items take a byte or more (null items: no one writes that many)
			return 0, fmt.Errorf("%w: block of %d items in %d bytes", errDatum, n, len(b)-at)
		}
		for range n {
			if key != nil {
				if at, err = skip(key, b, at, depth+1); err != nil {
					return 0, err
				}
			}
			if at, err = skip(items, b, at, depth+1); err != nil {
				return 0, err
			}
		}
	}
}
