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
	f     *Format
	r     io.Reader
	obj   layout.Object
	c     *container.Reader
	sink  *Sink
	block []byte
	left  int64
}

func (d *decoder) open() error {
	c, err := container.NewReader(d.r, maxBlockBytes)
	if err != nil {
		return fmt.Errorf("%w: not an Avro container file: %s", format.ErrMalformed, container.CauseText(err))
	}
	sink, err := d.f.NewSink(d.obj, string(c.Meta["avro.schema"]))
	if err != nil {
		return err
	}
	d.c, d.sink = c, sink
	return nil
}

// Sink turns the Avro datums of one object's view back into records: values
// (and keys of a registered schema) in the Confluent wire format with the id
// the target registry gives the object's schema, plain keys as their bytes,
// headers as headers. The avro and parquet formats share it.
type Sink struct {
	f      *Format
	obj    layout.Object
	text   string
	schema avro.Schema
	kind   string // "wire", "string", "bytes", "headers"
	id     int
	// registered: id is the target registry's id of the schema.
	registered bool
	raw        bool // top-level bytes: see writerSchema.rawBytes
	index      int
}

// NewSink returns the sink of obj's datums of the schema text (JSON). A
// schema that does not parse, or does not suit the view, is ErrMalformed.
func (f *Format) NewSink(obj layout.Object, text string) (*Sink, error) {
	s, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: the file's schema does not parse: %s", format.ErrMalformed, container.CauseText(err))
	}
	k := &Sink{f: f, obj: obj, text: text, schema: s}
	switch obj.View {
	case layout.ViewHeaders:
		k.kind = "headers"
		if s.Type() != avro.Array {
			return nil, fmt.Errorf("%w: a headers object's schema is %s, not an array of {key, value}", format.ErrMalformed, s.Type())
		}
		return k, nil
	case layout.ViewKeys:
		if kind := plainKind(s); kind != "" {
			k.kind = kind
			return k, nil
		}
	}
	if f.reg == nil {
		return nil, ErrNoRegistry
	}
	k.kind, k.raw = "wire", s.Type() == avro.Bytes
	return k, nil
}

// Schema returns the parsed schema of the sink's datums.
func (k *Sink) Schema() avro.Schema { return k.schema }

// Index returns how many datums the sink was given.
func (k *Sink) Index() int { return k.index }

// register registers the file's schema in the target registry, with the
// first datum: a file without records registers nothing (and cannot fail on
// a registry that would refuse its schema).
func (k *Sink) register() error {
	id, err := k.f.reg.Register(k.f.ctx, k.obj.Topic, k.obj.View, k.text)
	if err != nil {
		return fmt.Errorf("register the schema of %s: %w", k.obj.View, err)
	}
	k.id, k.registered = id, true
	return nil
}

// plainKind returns "string" or "bytes" for the schemas of StringConverter
// and ByteArrayConverter keys (["null","string"], ["null","bytes"]: optional,
// as the connector and kferry write them), else "". A bare "string" or
// "bytes" key schema is a registry schema (AvroConverter keys): such keys
// import in the wire format again.
func plainKind(s avro.Schema) string {
	u, ok := s.(*avro.UnionSchema)
	if !ok || !u.Nullable() || len(u.Types()) != 2 {
		return ""
	}
	for _, t := range u.Types() {
		if t.Type() != avro.Null {
			s = t
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
			return fmt.Errorf("%w: record %d: %d stray bytes at the end of a block", format.ErrMalformed, d.sink.index, len(d.block))
		}
		count, data, err := d.c.Next()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.sink.index+1, container.CauseText(err))
		}
		d.left, d.block = count, data
	}
	n, err := datumLen(d.sink.schema, d.block)
	if err != nil {
		return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.sink.index+1, container.CauseText(err))
	}
	datum := d.block[:n]
	d.block, d.left = d.block[n:], d.left-1
	return d.sink.Fill(rec, datum)
}

// Fill sets the view's field of rec from datum, a checked datum of the
// sink's schema. rec keeps no reference to datum.
func (k *Sink) Fill(rec *record.Record, datum []byte) error {
	k.index++
	switch k.kind {
	case "headers":
		return k.headers(rec, datum)
	case "string", "bytes":
		key, err := plainValue(k.schema, datum)
		if err != nil {
			return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, k.index, container.CauseText(err))
		}
		rec.Key = key
		return nil
	}
	if !k.registered {
		if err := k.register(); err != nil {
			return err
		}
	}
	if k.raw {
		_, w := binary.Varint(datum) // checked by datumLen
		datum = datum[w:]
	}
	out := AppendWire(make([]byte, 0, 5+len(datum)), k.id, datum)
	if k.obj.View == layout.ViewKeys {
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
func (k *Sink) headers(rec *record.Record, datum []byte) error {
	var v any
	if err := avro.Unmarshal(k.schema, datum, &v); err != nil {
		return fmt.Errorf("%w: record %d: headers: %s", format.ErrMalformed, k.index, container.CauseText(err))
	}
	items, _ := v.([]any)
	rec.Headers = nil
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: record %d: a header is not a {key, value} record", format.ErrMalformed, k.index)
		}
		// Anything but a string key and a string (or null) value would be lost
		// on the way to a Kafka header: refused, not dropped.
		key, ok := unwrap(m["key"]).(string)
		if !ok {
			return fmt.Errorf("%w: record %d: a header key is %T, not a string", format.ErrMalformed, k.index, unwrap(m["key"]))
		}
		h := record.Header{Key: key}
		switch val := unwrap(m["value"]).(type) {
		case string:
			h.Value = []byte(val)
		case nil:
		default:
			return fmt.Errorf("%w: record %d: header %q has a %T value, not a string (Confluent writes header values as strings)", format.ErrMalformed, k.index, key, val)
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
