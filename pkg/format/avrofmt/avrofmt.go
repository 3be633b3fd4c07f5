package avrofmt

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // the sync marker only needs to look random, as Java's (MD5 of a UUID)
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/internal/container"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// ErrNoRegistry is returned by the avro format when no Schema Registry was
// configured.
var ErrNoRegistry = errors.New("avro objects need --schema-registry URL (export: the source's registry, import: the target's)")

// ErrUnknownID is the error of a Registry (wrapped) that does not know a
// schema id.
var ErrUnknownID = errors.New("schema id not found in the Schema Registry")

// Schema is a registry schema: its text and type ("" or "AVRO", "PROTOBUF",
// "JSON").
type Schema struct {
	Text string
	Type string
	// References are the schemas this one names (Confluent's schema
	// references): resolved by subject and version.
	References []Reference
}

// Reference is a schema reference: the name the schema uses for it, and the
// subject and version that hold it.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	// ID is the referenced schema's id in its registry, kept by backups so
	// that the schemas they store resolve their references.
	ID int `json:"id,omitempty"`
}

// Registry is the Schema Registry the format reads schemas from (export) and
// registers them in (import). Implementations cache and retry.
type Registry interface {
	// SchemaByID returns the schema the registry knows by id.
	SchemaByID(ctx context.Context, id int) (Schema, error)
	// Register registers an Avro schema for the keys or values of topic (as
	// named in the bucket; the implementation applies renames and the subject
	// naming strategy) and returns its id.
	Register(ctx context.Context, topic string, view layout.View, schema string) (int, error)
}

// Format is the avro format: Confluent's AvroFormat objects (.avro object
// container files, one writer schema each). The registered instance has no
// registry and refuses to encode or decode; commands bind one with New and
// hand it down with format.WithFormats.
type Format struct {
	ctx   context.Context
	reg   Registry
	codec string
}

var _ format.Format = (*Format)(nil)

func init() { format.Register(&Format{codec: container.CodecNull}) }

// Codecs maps the --avro-codec names to the avro.codec header values.
var Codecs = map[string]string{"null": container.CodecNull, "deflate": container.CodecDeflate, "snappy": container.CodecSnappy, "zstd": container.CodecZstandard}

// New returns the avro format bound to a registry; ctx bounds its registry
// calls, codec is a key of Codecs ("" = null, Confluent's default).
func New(ctx context.Context, reg Registry, codec string) (*Format, error) {
	if codec == "" {
		codec = "null"
	}
	c, ok := Codecs[codec]
	if !ok {
		return nil, fmt.Errorf("avro codec %q (known: null, deflate, snappy, zstd)", codec)
	}
	return &Format{ctx: ctx, reg: reg, codec: c}, nil
}

// Name returns "avro".
func (*Format) Name() string { return "avro" }

// Ext returns ".avro".
func (*Format) Ext() string { return ".avro" }

// blockBytes ends a block, as Java's DataFileWriter (4000 × 16 bytes).
const blockBytes = 64000

// NewEncoder returns an encoder of the values (Confluent wire format Avro),
// keys (wire format Avro, else strings or bytes) or headers view.
func (f *Format) NewEncoder(w io.Writer, view layout.View) (format.Encoder, error) {
	if f.reg == nil && w != nil && view != layout.ViewHeaders {
		return nil, ErrNoRegistry
	}
	return &encoder{f: f, w: w, view: view, parsed: map[int]*writerSchema{}}, nil
}

// NewDecoder is NewObjectDecoder without a topic: only objects whose schema
// needs no registration (string or bytes keys, headers) can be read this way.
func (f *Format) NewDecoder(r io.Reader, view layout.View) (format.Decoder, error) {
	return f.NewObjectDecoder(r, layout.Object{View: view})
}

// writerSchema is an object's schema: its identity (registry id, or the kind
// of a plain key), its JSON for the header and its parsed form.
type writerSchema struct {
	id     int    // registry id, or -1
	kind   string // "wire", "string", "bytes", "headers"
	json   []byte
	schema avro.Schema
	// rawBytes: a top-level "bytes" schema, whose payload Confluent's
	// serializer writes without a length prefix.
	rawBytes bool
}

func (s *writerSchema) same(o *writerSchema) bool { return s.kind == o.kind && s.id == o.id }

// Fixed schemas of keys that are not in the wire format (StringConverter,
// ByteArrayConverter: optional) and of headers (AVRO-PARQUET.md §4).
const (
	stringKeySchema = `["null","string"]`
	bytesKeySchema  = `["null","bytes"]`
	headersSchema   = `{"type":"array","items":{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"string"},{"name":"value","type":"string"}]}}`
)

var fixedSchemas = sync.OnceValue(func() map[string]*writerSchema {
	m := map[string]*writerSchema{}
	for kind, js := range map[string]string{"string": stringKeySchema, "bytes": bytesKeySchema, "headers": headersSchema} {
		m[kind] = &writerSchema{id: -1, kind: kind, json: []byte(js), schema: avro.MustParse(js)}
	}
	return m
})

// ParseSchema parses a schema as the avro format does (see parse): the
// parquet format reads the Avro schemas of its files with it.
func ParseSchema(text string) (avro.Schema, error) { return parse(text) }

// parse parses a schema without hamba/avro's global cache, where two versions
// of one named record would meet. A schema whose only fault is a default that
// does not match its type ("type": "string", "default": null) parses without
// its defaults: Confluent's registry accepts such schemas (it does not
// validate defaults unless configured to) and its converter ignores them, and
// defaults play no part in reading or checking datums.
func parse(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err == nil {
		return s, nil
	}
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return nil, err
	}
	stripped, jerr := json.Marshal(withoutDefaults(v))
	if jerr != nil {
		return nil, err
	}
	if s, serr := avro.ParseWithCache(string(stripped), "", &avro.SchemaCache{}); serr == nil {
		return s, nil
	}
	return nil, err
}

// withoutDefaults returns v (decoded schema JSON) without its "default" keys.
func withoutDefaults(v any) any {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "default")
		for k, x := range t {
			t[k] = withoutDefaults(x)
		}
	case []any:
		for i, x := range t {
			t[i] = withoutDefaults(x)
		}
	}
	return v
}

// identify finds the schema rec's view is written with.
func (e *encoder) identify(rec *record.Record) (*writerSchema, []byte, error) {
	switch e.view {
	case layout.ViewHeaders:
		return fixedSchemas()["headers"], nil, nil
	case layout.ViewKeys:
		if rec.Key == nil {
			return nil, nil, fmt.Errorf("%w: null key at offset %d; --store-keys cannot hold null keys (as in Confluent), drop --store-keys or use --format native", format.ErrUnsupported, rec.Offset)
		}
		if headerID(rec, HeaderKeySchemaID) {
			return nil, nil, fmt.Errorf("%w: key at offset %d: %w; use --format native", format.ErrUnsupported, rec.Offset, ErrHeaderID)
		}
		// A key in the wire format is an Avro key (AvroConverter); other
		// keys are StringConverter text, or bytes. A key that only starts
		// like the wire format (a big-endian long: byte 0, then an id the
		// registry does not know or a schema its payload does not fit) is a
		// plain key: written as such, it comes back as it was.
		if w, err := ParseWire(rec.Key); err == nil && e.f.reg != nil {
			ws, payload, err := e.registered(rec, "key", w)
			if err == nil && checkDatum(ws.schema, ws.rawBytes, payload) == nil {
				return ws, payload, nil
			}
			if err != nil && !errors.Is(err, ErrUnknownID) {
				return nil, nil, err
			}
		}
		if utf8.Valid(rec.Key) {
			return fixedSchemas()["string"], rec.Key, nil
		}
		return fixedSchemas()["bytes"], rec.Key, nil
	}
	if rec.Value == nil {
		return nil, nil, fmt.Errorf("%w: null value (tombstone) at offset %d; Avro objects cannot hold tombstones, use --format native", format.ErrUnsupported, rec.Offset)
	}
	if headerID(rec, HeaderValueSchemaID) {
		return nil, nil, fmt.Errorf("%w: value at offset %d: %w; use --format native", format.ErrUnsupported, rec.Offset, ErrHeaderID)
	}
	w, err := ParseWire(rec.Value)
	if errors.Is(err, ErrGUID) {
		return nil, nil, fmt.Errorf("%w: value at offset %d: %w; produce with schema ids (magic byte 0) or use --format native", format.ErrUnsupported, rec.Offset, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: value at offset %d: %w (magic byte 0 and a 4-byte schema id); --format avro takes records written by a Schema Registry serializer, use --format json, bytes or native for others", format.ErrUnsupported, rec.Offset, err)
	}
	return e.registered(rec, "value", w)
}

// registered resolves the schema of a wire-format key or value.
func (e *encoder) registered(rec *record.Record, what string, w Wire) (*writerSchema, []byte, error) {
	if ws, ok := e.parsed[w.ID]; ok {
		if ws == nil { // unknown: asked once, not per record
			return nil, nil, fmt.Errorf("%s at offset %d: schema id %d: %w", what, rec.Offset, w.ID, ErrUnknownID)
		}
		return ws, w.Payload, nil
	}
	s, err := e.f.reg.SchemaByID(e.f.ctx, w.ID)
	if err != nil {
		if errors.Is(err, ErrUnknownID) {
			e.parsed[w.ID] = nil
		}
		return nil, nil, fmt.Errorf("%s at offset %d: schema id %d: %w", what, rec.Offset, w.ID, err)
	}
	if s.Type != "" && s.Type != "AVRO" {
		return nil, nil, fmt.Errorf("%w: %s at offset %d: schema id %d is %s; --format avro writes Avro records only, use --format bytes or native", format.ErrUnsupported, what, rec.Offset, w.ID, s.Type)
	}
	if len(s.References) > 0 {
		return nil, nil, fmt.Errorf("%w: %s at offset %d: schema id %d has schema references, which the avro and parquet formats do not resolve yet; use --format native (import and restore translate such ids)", format.ErrUnsupported, what, rec.Offset, w.ID)
	}
	sch, err := parse(s.Text)
	if err != nil {
		return nil, nil, fmt.Errorf("%s at offset %d: schema id %d does not parse: %w", what, rec.Offset, w.ID, err)
	}
	var js bytes.Buffer
	if err := json.Compact(&js, []byte(s.Text)); err != nil {
		js.Reset()
		js.WriteString(sch.String()) // a bare primitive name ("string") is not JSON
	}
	ws := &writerSchema{id: w.ID, kind: "wire", json: js.Bytes(), schema: sch, rawBytes: sch.Type() == avro.Bytes}
	e.parsed[w.ID] = ws
	return ws, w.Payload, nil
}

type encoder struct {
	f      *Format
	w      io.Writer
	view   layout.View
	parsed map[int]*writerSchema
	cur    *writerSchema
	cw     *container.Writer
	datum  []byte
}

var _ format.Fitter = (*encoder)(nil)

// Fits reports whether rec has the schema of the object's records so far.
func (e *encoder) Fits(rec *record.Record) (bool, error) {
	ws, _, err := e.identify(rec)
	if err != nil {
		return false, err
	}
	return e.cur == nil || e.cur.same(ws), nil
}

// Encode appends rec's view. The header is written with the first record,
// whose schema is the object's.
func (e *encoder) Encode(rec *record.Record) error {
	ws, payload, err := e.identify(rec)
	if err != nil {
		return err
	}
	if e.cur != nil && !e.cur.same(ws) {
		return fmt.Errorf("%w: record at offset %d has another schema than the object's first record", format.ErrUnsupported, rec.Offset)
	}
	datum, err := e.encodeDatum(ws, rec, payload)
	if err != nil {
		return err
	}
	if e.cw == nil {
		if e.cw, err = container.NewWriter(e.w, ws.json, e.f.codec, syncMarker(rec, e.view), container.Options{BlockBytes: blockBytes}); err != nil {
			return err
		}
		e.cur = ws
	}
	return e.cw.Append(datum)
}

// encodeDatum returns the Avro binary datum of rec's view, checked against ws.
func (e *encoder) encodeDatum(ws *writerSchema, rec *record.Record, payload []byte) ([]byte, error) {
	d := e.datum[:0]
	switch ws.kind {
	case "headers":
		var err error
		if d, err = appendHeaders(d, rec); err != nil {
			return nil, err
		}
	case "string", "bytes":
		d = binary.AppendVarint(d, 1) // the non-null branch
		d = append(binary.AppendVarint(d, int64(len(payload))), payload...)
	default:
		if err := checkDatum(ws.schema, ws.rawBytes, payload); err != nil {
			return nil, fmt.Errorf("%s at offset %d is not an Avro datum of schema id %d: %w", e.view, rec.Offset, ws.id, err)
		}
		if ws.rawBytes {
			d = binary.AppendVarint(d, int64(len(payload)))
		}
		d = append(d, payload...)
	}
	e.datum = d
	return d, nil
}

// appendHeaders writes rec's headers as an array of {key, value} strings, as
// Confluent's sink (values as strings: null and non-text values cannot be).
func appendHeaders(d []byte, rec *record.Record) ([]byte, error) {
	if n := len(rec.Headers); n > 0 {
		d = binary.AppendVarint(d, int64(n))
	}
	for _, h := range rec.Headers {
		if h.Value == nil || !utf8.Valid(h.Value) || !utf8.ValidString(h.Key) {
			return nil, fmt.Errorf("%w: header %q at offset %d is null or not UTF-8 text; Confluent's Avro header objects hold strings only, use --format native", format.ErrUnsupported, h.Key, rec.Offset)
		}
		d = append(binary.AppendVarint(d, int64(len(h.Key))), h.Key...)
		d = append(binary.AppendVarint(d, int64(len(h.Value))), h.Value...)
	}
	return binary.AppendVarint(d, 0), nil
}

// syncMarker derives the object's sync marker from where it starts: Java's is
// random, kferry's makes a rerun write the same bytes.
func syncMarker(rec *record.Record, view layout.View) [16]byte {
	return md5.Sum([]byte("kferry/avro/" + rec.Topic + "/" + strconv.Itoa(int(rec.Partition)) + "/" + strconv.FormatInt(rec.Offset, 10) + "/" + view.String())) //nolint:gosec // see the import
}

// Close writes the last block.
func (e *encoder) Close() error {
	if e.cw == nil {
		return nil
	}
	return e.cw.Flush()
}
