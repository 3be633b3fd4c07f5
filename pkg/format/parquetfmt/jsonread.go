package parquetfmt

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/format/jsonfmt"
)

// datumJSON appends the JSON text of the Avro datum of s at b[at:]: records
// as objects in field order, unions as their branch's value. It is the
// inverse of jsonEncoder for the schemas checkJSONSchema accepts.
func datumJSON(dst []byte, s avro.Schema, b []byte, at int) ([]byte, int, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch t := s.(type) {
	case *avro.UnionSchema:
		i, next, err := varint(b, at)
		if err != nil || i < 0 || int(i) >= len(t.Types()) {
			return nil, 0, cmpErr(err, "union index out of range")
		}
		return datumJSON(dst, t.Types()[i], b, next)
	case *avro.RecordSchema:
		dst = append(dst, '{')
		for i, f := range t.Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(jsonfmt.AppendString(dst, []byte(f.Name())), ':')
			var err error
			if dst, at, err = datumJSON(dst, f.Type(), b, at); err != nil {
				return nil, 0, err
			}
		}
		return append(dst, '}'), at, nil
	case *avro.ArraySchema, *avro.MapSchema:
		return blocksJSON(dst, t, b, at)
	case *avro.EnumSchema:
		i, next, err := varint(b, at)
		if err != nil || i < 0 || int(i) >= len(t.Symbols()) {
			return nil, 0, cmpErr(err, "enum index out of range")
		}
		return jsonfmt.AppendString(dst, []byte(t.Symbols()[i])), next, nil
	}
	return primitiveJSON(dst, s.Type(), b, at)
}

func blocksJSON(dst []byte, s avro.Schema, b []byte, at int) ([]byte, int, error) {
	arr, isArray := s.(*avro.ArraySchema)
	open, end := byte('{'), byte('}')
	if isArray {
		open, end = '[', ']'
	}
	dst = append(dst, open)
	first := true
	for {
		n, next, err := varint(b, at)
		if err != nil {
			return nil, 0, err
		}
		at = next
		if n == 0 {
			return append(dst, end), at, nil
		}
		if n < 0 {
			n = -n
			if _, at, err = varint(b, at); err != nil {
				return nil, 0, err
			}
		}
		for range n {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if isArray {
				dst, at, err = datumJSON(dst, arr.Items(), b, at)
			} else {
				var l int64
				if l, at, err = varint(b, at); err == nil {
					if l < 0 || int64(at)+l > int64(len(b)) {
						return nil, 0, fmt.Errorf("%w: map key past the end", errDatum)
					}
					dst = append(jsonfmt.AppendString(dst, b[at:at+int(l)]), ':')
					dst, at, err = datumJSON(dst, mapValues(s), b, at+int(l))
				}
			}
			if err != nil {
				return nil, 0, err
			}
		}
	}
}

func primitiveJSON(dst []byte, typ avro.Type, b []byte, at int) ([]byte, int, error) {
	switch typ {
	case avro.Null:
		return append(dst, "null"...), at, nil
	case avro.Boolean:
		if at >= len(b) {
			return nil, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		return strconv.AppendBool(dst, b[at] != 0), at + 1, nil
	case avro.Int, avro.Long:
		v, next, err := varint(b, at)
		return strconv.AppendInt(dst, v, 10), next, err
	case avro.Float, avro.Double:
		var f float64
		n := 8
		if typ == avro.Float {
			n = 4
		}
		if at+n > len(b) {
			return nil, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		if n == 4 {
			f = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[at:])))
		} else {
			f = math.Float64frombits(binary.LittleEndian.Uint64(b[at:]))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, 0, fmt.Errorf("%w: %v has no JSON form", errDatum, f)
		}
		bits := 64
		if n == 4 {
			bits = 32
		}
		return appendFloat(dst, f, bits), at + n, nil
	case avro.String:
		l, next, err := varint(b, at)
		if err != nil || l < 0 || int64(next)+l > int64(len(b)) {
			return nil, 0, cmpErr(err, "string past the end")
		}
		return jsonfmt.AppendString(dst, b[next:next+int(l)]), next + int(l), nil
	}
	return nil, 0, fmt.Errorf("%w: %s values have no JSON form here", errDatum, typ)
}

// mapValues returns the values schema of a map schema.
func mapValues(s avro.Schema) avro.Schema {
	if m, ok := s.(*avro.MapSchema); ok {
		return m.Values()
	}
	return s
}

// appendFloat writes f as encoding/json does (ES6): plain digits for
// 1e-6 <= |f| < 1e21, so 1234567 stays 1234567; exponents otherwise.
func appendFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	dst = strconv.AppendFloat(dst, f, fmtc, -1, bits)
	if fmtc == 'e' { // e-09 -> e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
