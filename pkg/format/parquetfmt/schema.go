package parquetfmt

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// errSchema: an Avro schema with no Parquet form (as in parquet-avro).
var errSchema = errors.New("no Parquet form for this Avro schema")

type kind int

const (
	kLeaf kind = iota
	kRecord
	kList
	kMap
	kUnion
)

// node is one level of an Avro schema mapped to Parquet as parquet-avro's
// AvroSchemaConverter maps it (2-level lists unless the items are nullable):
// it knows the definition and repetition levels at which its values appear,
// so rows are written from Avro datums and datums rebuilt from rows without
// Go values in between.
type node struct {
	name string
	kind kind
	// nullIdx is the union index of null for ["null",T] (and unions of
	// several types with null), -1 when the node is never null.
	nullIdx int
	// valIdx is the union index of T for ["null",T], -1 otherwise.
	valIdx int
	// def is the definition level of the node's values when it is present
	// (its own optional or repeated level included); rep is, for lists and
	// maps, the repetition level of their repeated child.
	def, rep int
	// children: record fields; list: the element; map: key and value;
	// union: the members (each optional), branch their union indexes.
	children []*node
	branch   []int
	// leaf: the column index and Avro type of a leaf.
	col     int
	prim    avro.Type
	size    int            // fixed
	symbols []string       // enum
	symbol  map[string]int // enum, reading
	leaves  []int          // every column under the node, in order
	pq      parquet.Node
}

// maxDepth bounds nesting: a recursive Avro schema has no Parquet form.
const maxDepth = 64

// newPlan maps a record schema to its Parquet root and column plan as
// parquet-avro writes it: 2-level lists (write-old-list-structure), unless
// an array's items may be null, which makes every list of the file 3-level.
func newPlan(s avro.Schema) (*node, *parquet.Schema, error) {
	return newPlanLists(s, nullableItems(s, 0))
}

// newPlanLists is newPlan with the list form given: 3-level (list/element)
// or 2-level (repeated array).
func newPlanLists(s avro.Schema, threeLevel bool) (*node, *parquet.Schema, error) {
	rs, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, nil, fmt.Errorf("%w: Parquet objects hold records, and this schema is %s", errSchema, s.Type())
	}
	b := builder{threeLevel: threeLevel}
	root, err := b.build(rs, rs.Name(), 0, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	col := 0
	number(root, &col)
	return root, parquet.NewSchema(rs.Name(), root.pq), nil
}

// number assigns column indexes in leaf order and collects each node's leaves.
func number(n *node, col *int) []int {
	if n.kind == kLeaf {
		n.col = *col
		*col++
		n.leaves = []int{n.col}
		return n.leaves
	}
	for _, c := range n.children {
		n.leaves = append(n.leaves, number(c, col)...)
	}
	return n.leaves
}

// nullableItems reports whether an array of s has items that may be null.
func nullableItems(s avro.Schema, depth int) bool {
	if depth > maxDepth {
		return false
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch t := s.(type) {
	case *avro.ArraySchema:
		if u, ok := t.Items().(*avro.UnionSchema); ok {
			for _, b := range u.Types() {
				if b.Type() == avro.Null {
					return true
				}
			}
		}
		return nullableItems(t.Items(), depth+1)
	case *avro.MapSchema:
		return nullableItems(t.Values(), depth+1)
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			if nullableItems(b, depth+1) {
				return true
			}
		}
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			if nullableItems(f.Type(), depth+1) {
				return true
			}
		}
	}
	return false
}

// builder maps Avro schemas to nodes; threeLevel: every list is 3-level.
type builder struct{ threeLevel bool }

// build maps s, present at definition level def and repetition level rep.
func (b builder) build(s avro.Schema, name string, def, rep, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: field %q nests deeper than %d levels (a recursive schema?)", errSchema, name, maxDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	n := &node{name: name, def: def, rep: rep, nullIdx: -1, valIdx: -1}
	switch t := s.(type) {
	case *avro.UnionSchema:
		return b.buildUnion(t, name, def, rep, depth)
	case *avro.RecordSchema:
		n.kind = kRecord
		fields := make([]parquet.Field, 0, len(t.Fields()))
		for _, f := range t.Fields() {
			c, err := b.build(f.Type(), f.Name(), def, rep, depth+1)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
			fields = append(fields, field{c.pq, f.Name()})
		}
		if len(fields) == 0 {
			return nil, fmt.Errorf("%w: record %q has no fields (Parquet groups need one)", errSchema, t.FullName())
		}
		n.pq = &group{fields: fields, typ: groupType}
	case *avro.ArraySchema:
		n.kind = kList
		n.rep = rep + 1
		items := t.Items()
		if b.threeLevel {
			// parquet-avro's 3-level list { repeated group list { element } }.
			e, err := b.build(items, "element", def+1, rep+1, depth+1)
			if err != nil {
				return nil, err
			}
			n.children = []*node{e}
			n.pq = &group{fields: []parquet.Field{field{parquet.Repeated(&group{fields: []parquet.Field{field{e.pq, "element"}}, typ: groupType}), "list"}}, typ: listType}
			break
		}
		e, err := b.build(items, "array", def+1, rep+1, depth+1)
		if err != nil {
			return nil, err
		}
		n.children = []*node{e}
		n.pq = &group{fields: []parquet.Field{field{parquet.Repeated(e.pq), "array"}}, typ: listType}
	case *avro.MapSchema:
		n.kind = kMap
		n.rep = rep + 1
		k := &node{name: "key", kind: kLeaf, prim: avro.String, def: def + 1, rep: rep + 1, nullIdx: -1, valIdx: -1, pq: parquet.String()}
		v, err := b.build(t.Values(), "value", def+1, rep+1, depth+1)
		if err != nil {
			return nil, err
		}
		n.children = []*node{k, v}
		kv := &group{fields: []parquet.Field{field{k.pq, "key"}, field{v.pq, "value"}}, typ: groupType}
		n.pq = &group{fields: []parquet.Field{field{parquet.Repeated(kv), "key_value"}}, typ: mapType}
	default:
		if err := leaf(n, s); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// buildUnion maps ["null",T] to an optional T and other unions (["T"] too)
// to a group of optional members member0..n (null not counted), optional if
// null is one.
func (b builder) buildUnion(u *avro.UnionSchema, name string, def, rep, depth int) (*node, error) {
	types := u.Types()
	nullIdx := -1
	var others []int
	for i, t := range types {
		if t.Type() == avro.Null {
			nullIdx = i
		} else {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return nil, fmt.Errorf("%w: field %q is always null", errSchema, name)
	}
	if nullIdx >= 0 {
		def++
	}
	if len(others) == 1 && nullIdx >= 0 {
		n, err := b.build(types[others[0]], name, def, rep, depth+1)
		if err != nil {
			return nil, err
		}
		n.nullIdx, n.valIdx = nullIdx, others[0]
		n.pq = parquet.Optional(n.pq)
		return n, nil
	}
	n := &node{name: name, kind: kUnion, def: def, rep: rep, nullIdx: nullIdx, valIdx: -1}
	fields := make([]parquet.Field, 0, len(others))
	for j, i := range others {
		m, err := b.build(types[i], "member"+strconv.Itoa(j), def+1, rep, depth+1)
		if err != nil {
			return nil, err
		}
		m.pq = parquet.Optional(m.pq)
		n.children = append(n.children, m)
		n.branch = append(n.branch, i)
		fields = append(fields, field{m.pq, m.name})
	}
	n.pq = &group{fields: fields, typ: groupType}
	if nullIdx >= 0 {
		n.pq = parquet.Optional(n.pq)
	}
	return n, nil
}

// leaf maps a primitive, enum or fixed schema and its logical type.
func leaf(n *node, s avro.Schema) error {
	n.kind, n.prim = kLeaf, s.Type()
	var lt avro.LogicalType
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		lt = l.Logical().Type()
	}
	switch s.Type() {
	case avro.Boolean:
		n.pq = parquet.Leaf(parquet.BooleanType)
	case avro.Int:
		switch lt {
		case avro.Date:
			n.pq = parquet.Date()
		case avro.TimeMillis:
			n.pq = parquet.Time(parquet.Millisecond)
		default:
			n.pq = parquet.Leaf(parquet.Int32Type)
		}
	case avro.Long:
		switch lt {
		case avro.TimeMicros:
			n.pq = parquet.Time(parquet.Microsecond)
		case avro.TimestampMillis:
			n.pq = parquet.Timestamp(parquet.Millisecond)
		case avro.TimestampMicros:
			n.pq = parquet.Timestamp(parquet.Microsecond)
		case avro.LocalTimestampMillis:
			n.pq = parquet.TimestampAdjusted(parquet.Millisecond, false)
		case avro.LocalTimestampMicros:
			n.pq = parquet.TimestampAdjusted(parquet.Microsecond, false)
		default:
			n.pq = parquet.Leaf(parquet.Int64Type)
		}
	case avro.Float:
		n.pq = parquet.Leaf(parquet.FloatType)
	case avro.Double:
		n.pq = parquet.Leaf(parquet.DoubleType)
	case avro.String:
		n.pq = parquet.String()
	case avro.Bytes:
		n.pq = parquet.Leaf(parquet.ByteArrayType)
		if d, ok := decimal(s); ok {
			n.pq = parquet.Decimal(d.Scale(), d.Precision(), parquet.ByteArrayType)
		}
	case avro.Enum:
		e, ok := s.(*avro.EnumSchema)
		if !ok {
			return fmt.Errorf("%w: field %q: enum schema of type %T", errSchema, n.name, s)
		}
		n.symbols = e.Symbols()
		n.symbol = make(map[string]int, len(n.symbols))
		for i, sym := range n.symbols {
			n.symbol[sym] = i
		}
		n.pq = parquet.Enum()
	case avro.Fixed:
		fx, ok := s.(*avro.FixedSchema)
		if !ok {
			return fmt.Errorf("%w: field %q: fixed schema of type %T", errSchema, n.name, s)
		}
		n.size = fx.Size()
		typ := parquet.FixedLenByteArrayType(n.size)
		n.pq = parquet.Leaf(typ)
		if d, ok := decimal(s); ok {
			n.pq = parquet.Decimal(d.Scale(), d.Precision(), typ)
		}
	default:
		return fmt.Errorf("%w: field %q has type %s", errSchema, n.name, s.Type())
	}
	return nil
}

func decimal(s avro.Schema) (*avro.DecimalLogicalSchema, bool) {
	l, ok := s.(avro.LogicalTypeSchema)
	if !ok || l.Logical() == nil {
		return nil, false
	}
	d, ok := l.Logical().(*avro.DecimalLogicalSchema)
	return d, ok && d.Precision() > 0
}

// group is a Parquet group whose fields keep the Avro order (parquet.Group
// sorts them by name); typ carries the LIST or MAP annotation.
type group struct {
	fields []parquet.Field
	typ    parquet.Type
}

var (
	groupType = parquet.Group{}.Type()
	listType  = parquet.List(parquet.String()).Type()
	mapType   = parquet.Map(parquet.String(), parquet.String()).Type()
)

func (g *group) ID() int                     { return 0 }
func (g *group) String() string              { return "group" }
func (g *group) Type() parquet.Type          { return g.typ }
func (g *group) Optional() bool              { return false }
func (g *group) Repeated() bool              { return false }
func (g *group) Required() bool              { return true }
func (g *group) Leaf() bool                  { return false }
func (g *group) Fields() []parquet.Field     { return g.fields }
func (g *group) Encoding() encoding.Encoding { return nil }
func (g *group) Compression() compress.Codec { return nil }
func (g *group) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }

// field names a node in its group.
type field struct {
	parquet.Node
	name string
}

func (f field) Name() string                      { return f.name }
func (f field) Value(reflect.Value) reflect.Value { return reflect.Value{} }
