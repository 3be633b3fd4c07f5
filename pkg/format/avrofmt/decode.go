package avrofmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/internal/container"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// maxBlockBytes bounds one block of an object read, compressed or not.
const maxBlockBytes = container.MaxBlockBytes

var _ format.ObjectDecoders = (*Format)(nil)

// NewObjectDecoder returns a decoder of the object obj (written by kferry or
// by Confluent's sink), streaming it block by block. Values (and keys of a
// record schema) come out in the Confluent wire format with the id the
// registry gives the file's schema, registered for obj's topic.
func (f *Format) NewObjectDecoder(r io.Reader, obj layout.Object) (format.Decoder, error) {
	return &decoder{f: f, r: r, obj: obj}, nil
}

type decoder struct {
	f      *Format
	r      io.Reader
	obj    layout.Object
	c      *container.Reader
	schema avro.Schema
	kind   string // "wire", "string", "bytes", "headers"
	id     int
	// registered: id is the target registry's id of the file's schema.
	registered bool
	raw        bool // top-level bytes: see writerSchema.rawBytes
	block      []byte
	left       int64
	index      int
}

func (d *decoder) open() error {
	c, err := container.NewReader(d.r, maxBlockBytes)
	if err != nil {
		return fmt.Errorf("%w: not an Avro container file: %s", format.ErrMalformed, container.CauseText(err))
	}
	text := string(c.Meta["avro.schema"])
	s, err := parse(text)
	if err != nil {
		return fmt.Errorf("%w: the file's schema does not parse: %s", format.ErrMalformed, container.CauseText(err))
	}
	d.c, d.schema = c, s
	switch d.obj.View {
	case layout.ViewHeaders:
		d.kind = "headers"
		if s.Type() != avro.Array {
			return fmt.Errorf("%w: a headers object's schema is %s, not an array of {key, value}", format.ErrMalformed, s.Type())
		}
		return nil
	case layout.ViewKeys:
		if k := plainKind(s); k != "" {
			d.kind = k
			return nil
		}
	}
	if d.f.reg == nil {
		return ErrNoRegistry
	}
	d.kind, d.raw = "wire", s.Type() == avro.Bytes
	return nil
}

// register registers the file's schema in the target registry, with the
// first datum: a file without records registers nothing (and cannot fail on
// a registry that would refuse its schema).
func (d *decoder) register() error {
	id, err := d.f.reg.Register(d.f.ctx, d.obj.Topic, d.obj.View, string(d.c.Meta["avro.schema"]))
	if err != nil {
		return fmt.Errorf("register the schema of %s: %w", d.obj.View, err)
	}
	d.id, d.registered = id, true
	return nil
}

// plainKind returns "string" or "bytes" for the schemas of StringConverter
// and ByteArrayConverter keys (optional or not), else "".
func plainKind(s avro.Schema) string {
	if u, ok := s.(*avro.UnionSchema); ok && u.Nullable() && len(u.Types()) == 2 {
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				s = t
			}
		}
	}
	switch s.Type() {
	case avro.String:
		return "string"
	case avro.Bytes:
		return "bytes"
	}
	return ""
}

// Next fills the view's field of rec from the next datum.
func (d *decoder) Next(rec *record.Record) error {
	if d.c == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	for d.left == 0 {
		if len(d.block) > 0 {
			return fmt.Errorf("%w: record %d: %d stray bytes at the end of a block", format.ErrMalformed, d.index, len(d.block))
		}
		count, data, err := d.c.Next()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.index+1, container.CauseText(err))
		}
		d.left, d.block = count, data
	}
	n, err := datumLen(d.schema, d.block)
	if err != nil {
		return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.index+1, container.CauseText(err))
	}
	datum := d.block[:n]
	d.block, d.left = d.block[n:], d.left-1
	d.index++
	return d.fill(rec, datum)
}

func (d *decoder) fill(rec *record.Record, datum []byte) error {
	switch d.kind {
	case "headers":
		return d.headers(rec, datum)
	case "string", "bytes":
		key, err := plainValue(d.schema, datum)
		if err != nil {
			return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.index, container.CauseText(err))
		}
		rec.Key = key
		return nil
	}
	if !d.registered {
		if err := d.register(); err != nil {
			return err
		}
	}
	if d.raw {
		_, w := binary.Varint(datum) // checked by datumLen
		datum = datum[w:]
	}
	out := AppendWire(make([]byte, 0, 5+len(datum)), d.id, datum)
	if d.obj.View == layout.ViewKeys {
		rec.Key = out
	} else {
		rec.Value = out
	}
	return nil
}

// plainValue reads a string or bytes datum, optional or not (nil for null).
func plainValue(s avro.Schema, datum []byte) ([]byte, error) {
	if u, ok := s.(*avro.UnionSchema); ok {
		i, w := binary.Varint(datum)
		if u.Types()[i].Type() == avro.Null { // i was checked by datumLen
			return nil, nil
		}
		datum = datum[w:]
	}
	n, w := binary.Varint(datum)
	return append(make([]byte, 0, n), datum[w:w+int(n)]...), nil
}

// headers reads an array of {key, value} records (value possibly optional).
func (d *decoder) headers(rec *record.Record, datum []byte) error {
	var v any
	if err := avro.Unmarshal(d.schema, datum, &v); err != nil {
		return fmt.Errorf("%w: record %d: headers: %s", format.ErrMalformed, d.index, container.CauseText(err))
	}
	items, _ := v.([]any)
	rec.Headers = nil
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: record %d: a header is not a {key, value} record", format.ErrMalformed, d.index)
		}
		// Anything but a string key and a string (or null) value would be lost
		// on the way to a Kafka header: refused, not dropped.
		key, ok := unwrap(m["key"]).(string)
		if !ok {
			return fmt.Errorf("%w: record %d: a header key is %T, not a string", format.ErrMalformed, d.index, unwrap(m["key"]))
		}
		h := record.Header{Key: key}
		switch val := unwrap(m["value"]).(type) {
		case string:
			h.Value = []byte(val)
		case nil:
		default:
			return fmt.Errorf("%w: record %d: header %q has a %T value, not a string (Confluent writes header values as strings)", format.ErrMalformed, d.index, key, val)
		}
		rec.Headers = append(rec.Headers, h)
	}
	return nil
}

// unwrap returns the value of a generic union ({"string": "x"}) or v.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, x := range m {
			return x
		}
	}
	return v
}
