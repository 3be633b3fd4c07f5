package parquetfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// NewObjectDecoder returns a decoder of the object obj: kferry's or one
// written by Confluent's ParquetFormat (parquet-avro).
func (f *Format) NewObjectDecoder(r io.Reader, obj layout.Object) (format.Decoder, error) {
	return &decoder{f: f, r: r, obj: obj}, nil
}

type decoder struct {
	f      *Format
	r      io.Reader
	obj    layout.Object
	spool  *os.File
	sink   *avrofmt.Sink
	rows   *rowReader
	groups []parquet.RowGroup
	cur    parquet.Rows
	buf    []parquet.Row
	n, i   int
	datum  []byte
	index  int
	// jsonValues: the file holds JSON values (kferry.value.encoding=json),
	// read back as JSON text with schema.
	jsonValues bool
	schema     avro.Schema
}

var _ format.Closer = (*decoder)(nil)

// open spools the object to a temporary file (Parquet's footer is at the
// end), reads its Avro schema and matches its columns to the schema's.
func (d *decoder) open() error {
	sp, err := os.CreateTemp("", "kferry-parquet-*")
	if err != nil {
		return fmt.Errorf("parquet spool file: %w", err)
	}
	// Unlinked at once where the system allows it (the file then goes away
	// with its descriptor, even on a crash); Close removes it elsewhere.
	_ = os.Remove(sp.Name())
	d.spool = sp
	size, err := io.Copy(sp, d.r)
	if err != nil {
		return fmt.Errorf("parquet spool file: %w", err)
	}
	pf, err := parquet.OpenFile(sp, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("%w: not a Parquet file: %w", format.ErrMalformed, err)
	}
	text, ok := pf.Lookup("parquet.avro.schema")
	if !ok {
		return fmt.Errorf("%w: no parquet.avro.schema in the file's metadata; kferry reads Parquet files written from Avro records (Confluent's ParquetFormat, kferry)", format.ErrMalformed)
	}
	s, err := avrofmt.ParseSchema(text)
	if err != nil {
		return fmt.Errorf("%w: the file's Avro schema does not parse: %w", format.ErrMalformed, err)
	}
	inner := []byte(text)
	if name, fieldName := envelope(d.obj.View); name != "" {
		if inner, err = unwrapEnvelope(s, text, fieldName); err != nil {
			return err
		}
	}
	root, toCol, err := planFile(s, pf.Schema())
	if err != nil {
		return err
	}
	d.rows = newRowReader(root, toCol, len(pf.Schema().Columns()))
	d.groups = pf.RowGroups()
	d.buf = make([]parquet.Row, 64)
	if enc, _ := pf.Lookup(metaValueEncoding); enc == "json" && d.obj.View == layout.ViewValues {
		d.jsonValues, d.schema = true, s
		if err := checkJSONSchema(s, 0); err != nil {
			return fmt.Errorf("%w: a file of JSON values whose schema JSON cannot fill: %w", format.ErrMalformed, err)
		}
		return nil
	}
	if d.sink, err = d.f.avro.NewSink(d.obj, string(inner)); err != nil {
		if errors.Is(err, avrofmt.ErrNoRegistry) {
			return errNoRegistry
		}
		return err
	}
	return nil
}

// unwrapEnvelope returns the JSON of the envelope's one field's type.
func unwrapEnvelope(s avro.Schema, text, fieldName string) ([]byte, error) {
	rs, ok := s.(*avro.RecordSchema)
	if !ok || len(rs.Fields()) != 1 || rs.Fields()[0].Name() != fieldName {
		return nil, fmt.Errorf("%w: the file's schema is not the envelope {%s} of a %s object", format.ErrMalformed, fieldName, fieldName)
	}
	var env struct {
		Fields []struct {
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(text), &env); err != nil || len(env.Fields) != 1 {
		return nil, fmt.Errorf("%w: the file's envelope schema is not JSON", format.ErrMalformed)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, env.Fields[0].Type); err != nil {
		return nil, fmt.Errorf("%w: the file's envelope schema: %w", format.ErrMalformed, err)
	}
	return out.Bytes(), nil
}

// planFile returns the plan of the file's Avro schema s in the list form
// the file has (parquet-avro writes 2-level or 3-level lists), its columns
// matched to the file's.
func planFile(s avro.Schema, file *parquet.Schema) (*node, []int, error) {
	three := nullableItems(s, 0)
	var firstErr error
	for _, threeLevel := range []bool{three, !three} {
		root, planSchema, err := newPlanLists(s, threeLevel)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", format.ErrMalformed, err)
		}
		toCol, err := matchColumns(planSchema, file)
		if err == nil {
			return root, toCol, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, nil, firstErr
}

// matchColumns maps the plan's columns to the file's by path, checking that
// each has the physical type and levels the Avro schema gives it, and that
// the file has no column the schema lacks (it would be dropped).
func matchColumns(want, got *parquet.Schema) ([]int, error) {
	if w, g := len(want.Columns()), len(got.Columns()); w != g {
		return nil, fmt.Errorf("%w: the file has %d columns, its Avro schema %d (a file of another schema?)", format.ErrMalformed, g, w)
	}
	var toCol []int
	for _, path := range want.Columns() {
		w, _ := want.Lookup(path...)
		g, ok := got.Lookup(path...)
		if !ok {
			return nil, fmt.Errorf("%w: column %v of the file's Avro schema is not in the file (another Avro-to-Parquet mapping?)", format.ErrMalformed, path)
		}
		if w.MaxDefinitionLevel != g.MaxDefinitionLevel || w.MaxRepetitionLevel != g.MaxRepetitionLevel {
			return nil, fmt.Errorf("%w: column %v has levels def %d/rep %d, the file's Avro schema gives %d/%d", format.ErrMalformed, path, g.MaxDefinitionLevel, g.MaxRepetitionLevel, w.MaxDefinitionLevel, w.MaxRepetitionLevel)
		}
		wt, gt := w.Node.Type(), g.Node.Type()
		if wt.Kind() != gt.Kind() || wt.Length() != gt.Length() {
			return nil, fmt.Errorf("%w: column %v is %s, the file's Avro schema gives %s", format.ErrMalformed, path, gt, wt)
		}
		toCol = append(toCol, g.ColumnIndex)
	}
	return toCol, nil
}

// Next fills the view's field of rec from the next row. A panic of the
// Parquet library on a malformed file is an error naming the row.
func (d *decoder) Next(rec *record.Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: row %d: the Parquet reader failed on this file: %v", format.ErrMalformed, d.index+1, r)
		}
	}()
	if d.spool == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	for d.i == d.n {
		if err := d.fill(); err != nil {
			return err
		}
	}
	row := d.buf[d.i]
	d.i++
	d.index++
	if d.datum, err = d.rows.datum(d.datum[:0], row); err != nil {
		return fmt.Errorf("%w: row %d: %w", format.ErrMalformed, d.index, err)
	}
	if d.jsonValues {
		v, n, err := datumJSON(nil, d.schema, d.datum, 0)
		if err != nil || n != len(d.datum) {
			return fmt.Errorf("%w: row %d: %w", format.ErrMalformed, d.index, cmpErr(err, "bytes left after the value"))
		}
		rec.Value = v
		return nil
	}
	return d.sink.Fill(rec, d.datum)
}

// fill reads the next rows, moving on to the next row group at the end of one.
func (d *decoder) fill() error {
	d.i, d.n = 0, 0
	for d.cur == nil {
		if len(d.groups) == 0 {
			return io.EOF
		}
		g := d.groups[0]
		d.groups = d.groups[1:]
		if g.NumRows() > 0 { // pyarrow writes an empty row group for no rows
			d.cur = g.Rows()
		}
	}
	n, err := d.cur.ReadRows(d.buf)
	d.n = n
	if errors.Is(err, io.EOF) {
		_ = d.cur.Close()
		d.cur = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: row %d: %w", format.ErrMalformed, d.index+1, err)
	}
	return nil
}

// Close releases the spool file (and removes it where open's unlink could
// not).
func (d *decoder) Close() error {
	if d.cur != nil {
		_ = d.cur.Close()
	}
	if d.spool == nil {
		return nil
	}
	err := d.spool.Close()
	if rerr := os.Remove(d.spool.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
