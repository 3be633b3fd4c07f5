package parquetfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
)

// errDatum: a datum that does not match its schema (the avro format checked
// it, so this names a bug or corrupt bytes, never a silent loss).
var errDatum = errors.New("datum does not match its schema")

// rowWriter turns Avro datums of one schema into Parquet rows.
type rowWriter struct {
	root *node
	cols [][]parquet.Value // per column, the current row's values
	row  parquet.Row
}

func newRowWriter(root *node) *rowWriter {
	return &rowWriter{root: root, cols: make([][]parquet.Value, len(root.leaves))}
}

// row returns the row of datum b; its byte values point into b.
func (w *rowWriter) rowOf(b []byte) (parquet.Row, error) {
	for i := range w.cols {
		w.cols[i] = w.cols[i][:0]
	}
	at, err := w.put(w.root, b, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	if at != len(b) {
		return nil, fmt.Errorf("%w: %d bytes left after the record", errDatum, len(b)-at)
	}
	w.row = w.row[:0]
	for _, c := range w.cols {
		w.row = append(w.row, c...)
	}
	return w.row, nil
}

func (w *rowWriter) nulls(n *node, rep, def int) {
	for _, c := range n.leaves {
		w.cols[c] = append(w.cols[c], parquet.NullValue().Level(rep, def, c))
	}
}

// put writes the datum of n at b[at:] (its first values at repetition level
// rep; def is the level at which n's parent is present).
func (w *rowWriter) put(n *node, b []byte, at, rep, def int) (int, error) {
	if n.nullIdx >= 0 {
		i, next, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		at = next
		if int(i) == n.nullIdx {
			w.nulls(n, rep, def)
			return at, nil
		}
		if n.kind != kUnion && int(i) != n.valIdx {
			return 0, fmt.Errorf("%w: union index %d", errDatum, i)
		}
		if n.kind == kUnion {
			return w.putUnion(n, b, at, rep, int(i))
		}
	} else if n.kind == kUnion {
		i, next, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		return w.putUnion(n, b, next, rep, int(i))
	}
	switch n.kind {
	case kRecord:
		for _, c := range n.children {
			var err error
			if at, err = w.put(c, b, at, rep, n.def); err != nil {
				return 0, err
			}
		}
		return at, nil
	case kList, kMap:
		return w.putRepeated(n, b, at, rep)
	}
	v, next, err := leafValue(n, b, at)
	if err != nil {
		return 0, fmt.Errorf("field %q: %w", n.name, err)
	}
	w.cols[n.col] = append(w.cols[n.col], v.Level(rep, n.def, n.col))
	return next, nil
}

func (w *rowWriter) putUnion(n *node, b []byte, at, rep, idx int) (int, error) {
	chosen := -1
	for j, br := range n.branch {
		if br == idx {
			chosen = j
		}
	}
	if chosen < 0 {
		return 0, fmt.Errorf("%w: union index %d", errDatum, idx)
	}
	for j, m := range n.children {
		if j != chosen {
			w.nulls(m, rep, n.def)
			continue
		}
		var err error
		if at, err = w.put(m, b, at, rep, n.def); err != nil {
			return 0, err
		}
	}
	return at, nil
}

// putRepeated writes an array or map: Avro blocks of items (a negative count
// is followed by the block's size in bytes), ended by a zero count.
func (w *rowWriter) putRepeated(n *node, b []byte, at, rep int) (int, error) {
	first := true
	for {
		count, next, err := varint(b, at)
		if err != nil {
			return 0, err
		}
		at = next
		if count == 0 {
			break
		}
		if count < 0 {
			count = -count
			if _, at, err = varint(b, at); err != nil {
				return 0, err
			}
		}
		for range count {
			r := n.rep
			if first {
				r, first = rep, false
			}
			for _, c := range n.children {
				if at, err = w.put(c, b, at, r, n.def+1); err != nil {
					return 0, err
				}
			}
		}
	}
	if first {
		for _, c := range n.children {
			w.nulls(c, rep, n.def)
		}
	}
	return at, nil
}

// leafValue reads the primitive at b[at:]; byte values point into b.
func leafValue(n *node, b []byte, at int) (parquet.Value, int, error) {
	switch n.prim {
	case avro.Boolean:
		if at >= len(b) {
			return parquet.Value{}, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		return parquet.BooleanValue(b[at] != 0), at + 1, nil
	case avro.Int:
		v, next, err := varint(b, at)
		if err != nil || v < math.MinInt32 || v > math.MaxInt32 {
			return parquet.Value{}, 0, cmpErr(err, "int out of range")
		}
		return parquet.Int32Value(int32(v)), next, nil
	case avro.Long:
		v, next, err := varint(b, at)
		return parquet.Int64Value(v), next, err
	case avro.Float:
		if at+4 > len(b) {
			return parquet.Value{}, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		return parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(b[at:]))), at + 4, nil
	case avro.Double:
		if at+8 > len(b) {
			return parquet.Value{}, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		return parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(b[at:]))), at + 8, nil
	case avro.String, avro.Bytes:
		l, next, err := varint(b, at)
		if err != nil {
			return parquet.Value{}, 0, err
		}
		if l < 0 || int64(next)+l > int64(len(b)) {
			return parquet.Value{}, 0, fmt.Errorf("%w: length %d past the end", errDatum, l)
		}
		return parquet.ByteArrayValue(b[next : next+int(l)]), next + int(l), nil
	case avro.Enum:
		i, next, err := varint(b, at)
		if err != nil || i < 0 || i >= int64(len(n.symbols)) {
			return parquet.Value{}, 0, cmpErr(err, "enum index out of range")
		}
		return parquet.ByteArrayValue([]byte(n.symbols[i])), next, nil
	case avro.Fixed:
		if at+n.size > len(b) {
			return parquet.Value{}, 0, fmt.Errorf("%w: ends early", errDatum)
		}
		return parquet.FixedLenByteArrayValue(b[at : at+n.size]), at + n.size, nil
	}
	return parquet.Value{}, 0, fmt.Errorf("%w: type %s", errDatum, n.prim)
}

func cmpErr(err error, msg string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", errDatum, msg)
}

func varint(b []byte, at int) (int64, int, error) {
	if at >= len(b) {
		return 0, 0, fmt.Errorf("%w: ends early", errDatum)
	}
	v, w := binary.Varint(b[at:])
	if w <= 0 {
		return 0, 0, fmt.Errorf("%w: bad varint at byte %d", errDatum, at)
	}
	return v, at + w, nil
}

// rowReader rebuilds Avro datums from Parquet rows of a plan whose columns
// were matched to the file's (cols maps plan column to file column).
type rowReader struct {
	root  *node
	cols  [][]parquet.Value // per plan column, the row's values
	pos   []int
	toCol []int // plan column -> file column
	byCol [][]parquet.Value
}

var errRow = errors.New("row does not match the file's Avro schema")

func newRowReader(root *node, toCol []int, fileCols int) *rowReader {
	return &rowReader{root: root, cols: make([][]parquet.Value, len(root.leaves)), pos: make([]int, len(root.leaves)), toCol: toCol, byCol: make([][]parquet.Value, fileCols)}
}

// datum appends the Avro datum of row to dst.
func (r *rowReader) datum(dst []byte, row parquet.Row) ([]byte, error) {
	for i := range r.byCol {
		r.byCol[i] = nil
	}
	row.Range(func(c int, vs []parquet.Value) bool {
		if c < len(r.byCol) {
			r.byCol[c] = vs
		}
		return true
	})
	for i, fc := range r.toCol {
		r.cols[i], r.pos[i] = r.byCol[fc], 0
	}
	out, err := r.get(r.root, dst)
	if err != nil {
		return nil, err
	}
	for i, vs := range r.cols {
		if r.pos[i] != len(vs) {
			return nil, fmt.Errorf("%w: column %d has %d values, the schema reads %d", errRow, r.toCol[i], len(vs), r.pos[i])
		}
	}
	return out, nil
}

func (r *rowReader) peek(c int) (parquet.Value, error) {
	if r.pos[c] >= len(r.cols[c]) {
		return parquet.Value{}, fmt.Errorf("%w: column %d ends early", errRow, r.toCol[c])
	}
	return r.cols[c][r.pos[c]], nil
}

// skip consumes the one (null) value each column under n holds for an
// absent n.
func (r *rowReader) skip(n *node) error {
	for _, c := range n.leaves {
		if _, err := r.peek(c); err != nil {
			return err
		}
		r.pos[c]++
	}
	return nil
}

// present reports whether n has a value at the current position.
func (r *rowReader) present(n *node) (bool, error) {
	v, err := r.peek(n.leaves[0])
	if err != nil {
		return false, err
	}
	return v.DefinitionLevel() >= n.def, nil
}

func (r *rowReader) get(n *node, out []byte) ([]byte, error) {
	if n.nullIdx >= 0 {
		ok, err := r.present(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			return binary.AppendVarint(out, int64(n.nullIdx)), r.skip(n)
		}
		if n.kind != kUnion {
			out = binary.AppendVarint(out, int64(n.valIdx))
		}
	}
	switch n.kind {
	case kUnion:
		return r.getUnion(n, out)
	case kRecord:
		for _, c := range n.children {
			var err error
			if out, err = r.get(c, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case kList, kMap:
		return r.getRepeated(n, out)
	}
	v, err := r.peek(n.col)
	if err != nil {
		return nil, err
	}
	r.pos[n.col]++
	if v.IsNull() {
		return nil, fmt.Errorf("%w: field %q is null, its schema does not allow null", errRow, n.name)
	}
	return appendLeaf(n, out, v)
}

func (r *rowReader) getUnion(n *node, out []byte) ([]byte, error) {
	chosen := -1
	for j, m := range n.children {
		ok, err := r.present(m)
		if err != nil {
			return nil, err
		}
		if ok && chosen < 0 {
			chosen = j
		}
	}
	if chosen < 0 {
		return nil, fmt.Errorf("%w: union %q has no member set", errRow, n.name)
	}
	out = binary.AppendVarint(out, int64(n.branch[chosen]))
	for j, m := range n.children {
		var err error
		if j != chosen {
			err = r.skip(m)
		} else {
			out, err = r.get(m, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// getRepeated writes an array or map as one block: its count, its items, 0
// (as Java's and hamba's encoders write them).
func (r *rowReader) getRepeated(n *node, out []byte) ([]byte, error) {
	first := n.children[0].leaves[0]
	v, err := r.peek(first)
	if err != nil {
		return nil, err
	}
	if v.DefinitionLevel() < n.def+1 {
		for _, c := range n.children {
			if err := r.skip(c); err != nil {
				return nil, err
			}
		}
		return binary.AppendVarint(out, 0), nil
	}
	count := 1
	vs := r.cols[first]
	for i := r.pos[first] + 1; i < len(vs); i++ {
		rl := vs[i].RepetitionLevel()
		if rl < n.rep {
			break
		}
		if rl == n.rep {
			count++
		}
	}
	out = binary.AppendVarint(out, int64(count))
	for range count {
		for _, c := range n.children {
			if out, err = r.get(c, out); err != nil {
				return nil, err
			}
		}
	}
	return binary.AppendVarint(out, 0), nil
}

func appendLeaf(n *node, out []byte, v parquet.Value) ([]byte, error) {
	switch n.prim {
	case avro.Boolean:
		if v.Boolean() {
			return append(out, 1), nil
		}
		return append(out, 0), nil
	case avro.Int:
		return binary.AppendVarint(out, int64(v.Int32())), nil
	case avro.Long:
		return binary.AppendVarint(out, v.Int64()), nil
	case avro.Float:
		return binary.LittleEndian.AppendUint32(out, math.Float32bits(v.Float())), nil
	case avro.Double:
		return binary.LittleEndian.AppendUint64(out, math.Float64bits(v.Double())), nil
	case avro.String, avro.Bytes:
		b := v.ByteArray()
		return append(binary.AppendVarint(out, int64(len(b))), b...), nil
	case avro.Enum:
		i, ok := n.symbol[string(v.ByteArray())]
		if !ok {
			return nil, fmt.Errorf("%w: field %q: %q is not a symbol of its enum", errRow, n.name, v.ByteArray())
		}
		return binary.AppendVarint(out, int64(i)), nil
	case avro.Fixed:
		b := v.ByteArray()
		if len(b) != n.size {
			return nil, fmt.Errorf("%w: field %q holds %d bytes, its fixed type %d", errRow, n.name, len(b), n.size)
		}
		return append(out, b...), nil
	}
	return nil, fmt.Errorf("%w: type %s", errRow, n.prim)
}
