package parquetfmt

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Codec is a Parquet compression codec and the extension Confluent's
// ParquetFormat gives its objects.
type Codec struct {
	Ext   string
	codec compress.Codec
}

// Codecs maps the --parquet-codec names to their codecs (parquet.codec).
var Codecs = map[string]Codec{
	"none":   {".parquet", &parquet.Uncompressed},
	"snappy": {".snappy.parquet", &parquet.Snappy},
	"gzip":   {".gz.parquet", &parquet.Gzip},
	"brotli": {".br.parquet", &parquet.Brotli},
	"zstd":   {".zstd.parquet", &parquet.Zstd},
	// lz4_raw is left out: parquet-go v0.32.0 misreads some of its own
	// lz4_raw pages (a small DELTA_LENGTH_BYTE_ARRAY page of keys).
}

// DefaultRowGroupBytes is the default row-group size: the uncompressed Avro
// bytes one object writer buffers before it writes them out.
const DefaultRowGroupBytes = 8 << 20

// Format is the parquet format. The registered instance has no registry:
// it writes and reads headers objects only and refuses the rest with
// avrofmt.ErrNoRegistry; commands bind one with New.
type Format struct {
	avro     *avrofmt.Format
	codec    Codec
	rowGroup int
	// json: values are plain JSON, written with this schema (nil: inferred
	// per object); see WithJSONValues.
	json *jsonSchema
	log  *slog.Logger
	seen *sync.Map // inferred schemas logged
}

// jsonSchema is the Avro schema JSON values are written with.
type jsonSchema struct {
	schema   avro.Schema
	text     string
	inferred bool
}

// WithJSONValues returns f for plain JSON values: written with the Avro
// record schema text (--value-schema FILE), or with one inferred from each
// object's first record when text is "" (log says which). Such objects
// import as JSON again.
func (f *Format) WithJSONValues(text string, log *slog.Logger) (*Format, error) {
	g := *f
	g.json, g.log, g.seen = &jsonSchema{inferred: true}, log, &sync.Map{}
	if text == "" {
		return &g, nil
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("the schema does not parse: %w", err)
	}
	if _, ok := s.(*avro.RecordSchema); !ok {
		return nil, fmt.Errorf("the schema is a %s, not a record (Parquet rows are records)", s.Type())
	}
	if err := checkJSONSchema(s, 0); err != nil {
		return nil, fmt.Errorf("JSON values cannot fill this schema: %w", err)
	}
	if _, _, err := newPlan(s); err != nil {
		return nil, err
	}
	g.json = &jsonSchema{schema: s, text: s.String()}
	return &g, nil
}

var (
	_ format.Format         = (*Format)(nil)
	_ format.ObjectDecoders = (*Format)(nil)
	_ format.ExtraExts      = (*Format)(nil)
)

func init() {
	a, _ := avrofmt.New(context.Background(), nil, "")
	format.Register(&Format{avro: a, codec: Codecs["snappy"], rowGroup: DefaultRowGroupBytes})
}

// New returns the parquet format writing with the codec named codec ("" =
// snappy, Confluent's default) and row groups of about rowGroupBytes (0 =
// DefaultRowGroupBytes), reading schemas through the avro format a.
func New(a *avrofmt.Format, codec string, rowGroupBytes int) (*Format, error) {
	c, ok := Codecs[cmp.Or(codec, "snappy")]
	if !ok {
		return nil, fmt.Errorf("parquet codec %q (known: %v)", codec, CodecNames())
	}
	if rowGroupBytes <= 0 {
		rowGroupBytes = DefaultRowGroupBytes
	}
	return &Format{avro: a, codec: c, rowGroup: rowGroupBytes}, nil
}

// CodecNames lists the --parquet-codec names, sorted.
func CodecNames() []string {
	names := make([]string, 0, len(Codecs))
	for n := range Codecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Name returns "parquet".
func (*Format) Name() string { return "parquet" }

// Ext returns the extension of the format's codec (".snappy.parquet").
func (f *Format) Ext() string { return f.codec.Ext }

// Exts returns the extensions of every codec: a bucket may hold any.
func (*Format) Exts() []string {
	exts := make([]string, 0, len(Codecs))
	for _, c := range Codecs {
		exts = append(exts, c.Ext)
	}
	sort.Strings(exts)
	return exts
}

// NewDecoder is NewObjectDecoder without a topic (headers and plain keys only).
func (f *Format) NewDecoder(r io.Reader, view layout.View) (format.Decoder, error) {
	return f.NewObjectDecoder(r, layout.Object{View: view})
}

// envelope is the record Confluent wraps keys and headers in, "" for values.
func envelope(view layout.View) (name, field string) {
	switch view {
	case layout.ViewKeys:
		return "RecordKey", "key"
	case layout.ViewHeaders:
		return "RecordHeaders", "headers"
	}
	return "", ""
}

// fileSchema returns the Avro record schema a file of view holds datums of
// schema js in: js itself for values, the envelope for keys and headers.
func fileSchema(view layout.View, js []byte) ([]byte, error) {
	name, fieldName := envelope(view)
	if name == "" {
		return js, nil
	}
	return json.Marshal(map[string]any{"type": "record", "name": name, "fields": []any{map[string]any{"name": fieldName, "type": json.RawMessage(js)}}})
}

// plan is the Parquet form of one writer schema.
type plan struct {
	root   *node
	schema *parquet.Schema
	json   []byte // parquet.avro.schema
}

// NewEncoder returns an encoder of view. Values must be Avro records in the
// Confluent wire format; keys and headers are written as avro writes them,
// inside their envelope.
func (f *Format) NewEncoder(w io.Writer, view layout.View) (format.Encoder, error) {
	if f.json != nil && view == layout.ViewValues {
		return &encoder{f: f, w: w, view: view, plans: map[planKey]*plan{}}, nil
	}
	d, err := f.avro.NewDatums(view)
	if err != nil {
		if errors.Is(err, avrofmt.ErrNoRegistry) {
			return nil, errNoRegistry
		}
		return nil, err
	}
	return &encoder{f: f, w: w, view: view, datums: d, plans: map[planKey]*plan{}}, nil
}

var errNoRegistry = fmt.Errorf("parquet objects hold Avro records: %w", avrofmt.ErrNoRegistry)

type encoder struct {
	f        *Format
	w        io.Writer
	view     layout.View
	datums   *avrofmt.Datums
	plans    map[planKey]*plan
	cur      *avrofmt.Datum
	pw       *parquet.Writer //nolint:staticcheck // SA1019: GenericWriter panics on parquet-avro's 2-level lists (repeated int64 array); rows go in as parquet.Row
	rows     *rowWriter
	buffered int
	groups   int // row groups written
	// pending rows, their values and bytes (see write)
	pending      []parquet.Row
	vals         []parquet.Value
	arena        []byte
	firstPending int64
	// JSON values: the object's schema, and the last record's datum (Fits
	// computes what Encode writes).
	jcur    *jsonSchema
	jrec    *record.Record
	jschema *jsonSchema
	jdatum  []byte
}

var _ format.Fitter = (*encoder)(nil)

type planKey struct {
	kind string
	id   int
}

// planOf returns the Parquet plan of d's schema (cached; an error for a
// schema with no Parquet form, as a value that is not a record).
func (e *encoder) planOf(rec *record.Record, d avrofmt.Datum) (*plan, error) {
	k := planKey{d.Kind, d.ID}
	if p, ok := e.plans[k]; ok {
		return p, nil
	}
	js, err := fileSchema(e.view, d.JSON)
	if err != nil {
		return nil, err
	}
	s := d.Schema
	if e.view != layout.ViewValues {
		if s, err = avrofmt.ParseSchema(string(js)); err != nil {
			return nil, fmt.Errorf("%s at offset %d: envelope schema: %w", e.view, rec.Offset, err)
		}
	}
	root, schema, err := newPlan(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s at offset %d (schema id %d): %w; use --format avro or native", format.ErrUnsupported, e.view, rec.Offset, d.ID, err)
	}
	p := &plan{root: root, schema: schema, json: js}
	e.plans[k] = p
	return p, nil
}

// Fits reports whether rec has the writer schema of the object's records.
func (e *encoder) Fits(rec *record.Record) (bool, error) {
	if e.datums == nil {
		js, _, err := e.jsonDatum(rec)
		return e.jcur == nil || js == e.jcur, err
	}
	d, err := e.datums.Schema(rec)
	if err != nil {
		return false, err
	}
	if _, err := e.planOf(rec, d); err != nil {
		return false, err
	}
	return e.cur == nil || e.cur.Same(d), nil
}

// Encode writes rec's view as one row.
func (e *encoder) Encode(rec *record.Record) error {
	if e.datums == nil {
		return e.encodeJSON(rec)
	}
	d, err := e.datums.Of(rec)
	if err != nil {
		return err
	}
	if e.cur != nil && !e.cur.Same(d) {
		return fmt.Errorf("%w: record at offset %d has another schema than the object's first record", format.ErrUnsupported, rec.Offset)
	}
	p, err := e.planOf(rec, d)
	if err != nil {
		return err
	}
	if e.pw == nil {
		e.open(p)
		id := d
		id.Bytes = nil
		e.cur = &id
	}
	return e.write(rec, d.Bytes)
}

// open starts the file of plan p; extra are more metadata pairs.
func (e *encoder) open(p *plan, extra ...string) {
	opts := []parquet.WriterOption{
		parquet.Compression(e.f.codec.codec),
		parquet.KeyValueMetadata("parquet.avro.schema", string(p.json)),
		parquet.KeyValueMetadata("writer.model.name", "avro"),
		parquet.CreatedBy("kferry", "", ""),
		// Version 1 data pages and PLAIN encoding, as parquet-java's
		// PARQUET_1_0 writer (Confluent's) without its dictionaries: every
		// reader takes them (DuckDB refuses parquet-go's default
		// DELTA_LENGTH_BYTE_ARRAY for decimals).
		parquet.DataPageVersion(1),
		// Page statistics hold whole values: a column of big strings would
		// carry each page's min and max in its header again (parquet-java
		// drops statistics over 4 KiB).
		parquet.DataPageStatistics(false),
		parquet.DefaultEncoding(&parquet.Plain),
		parquet.PageBufferSize(64 << 10),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		opts = append(opts, parquet.KeyValueMetadata(extra[i], extra[i+1]))
	}
	e.pw = parquet.NewWriter(e.w, append([]parquet.WriterOption{p.schema}, opts...)...)
	e.rows = newRowWriter(p.root)
}

// write adds the datum of rec's view as one row. Rows go to the Parquet
// writer in batches (one call per row costs more than the row), their bytes
// kept in an arena until then. A row group ends once its records reach the
// row-group size, doubled every 2,000 row groups: a file holds at most
// 32,767, which an unbounded object of small row groups would otherwise reach.
func (e *encoder) write(rec *record.Record, datum []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s at offset %d: the Parquet writer failed: %v", e.view, rec.Offset, r)
		}
	}()
	at := len(e.arena)
	e.arena = append(e.arena, datum...) // a grown arena leaves earlier rows' bytes where they were
	row, err := e.rows.rowOf(e.arena[at:])
	if err != nil {
		return fmt.Errorf("%s at offset %d: %w", e.view, rec.Offset, err)
	}
	vat := len(e.vals)
	e.vals = append(e.vals, row...)
	e.pending = append(e.pending, e.vals[vat:len(e.vals):len(e.vals)])
	if len(e.pending) == 1 {
		e.firstPending = rec.Offset
	}
	e.buffered += len(datum)
	if e.buffered >= e.f.rowGroup<<min(e.groups/2000, 30) {
		e.buffered = 0
		e.groups++
		if err := e.flushRows(); err != nil {
			return err
		}
		return e.pw.Flush()
	}
	if len(e.pending) >= rowBatch {
		return e.flushRows()
	}
	return nil
}

// rowBatch is how many rows go to the Parquet writer at once.
const rowBatch = 256

// flushRows hands the pending rows to the Parquet writer, which copies them.
func (e *encoder) flushRows() error {
	if len(e.pending) == 0 {
		return nil
	}
	if _, err := e.pw.WriteRows(e.pending); err != nil {
		return fmt.Errorf("%s at offsets from %d: parquet: %w", e.view, e.firstPending, err)
	}
	clear(e.pending)
	e.pending, e.vals, e.arena = e.pending[:0], e.vals[:0], e.arena[:0]
	return nil
}

// Close writes the last row group and the footer.
func (e *encoder) Close() (err error) {
	if e.pw == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: the Parquet writer failed: %v", e.view, r)
		}
	}()
	if err := e.flushRows(); err != nil {
		return err
	}
	return e.pw.Close()
}
