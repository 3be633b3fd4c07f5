package avrofmt

import (
	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Datum is one record's view as an Avro binary datum of its writer schema:
// the form in which other container formats (parquet) take Avro data.
type Datum struct {
	// Schema is the parsed writer schema; JSON is its text (compacted), as an
	// object's metadata carries it.
	Schema avro.Schema
	JSON   []byte
	// ID is the registry id of a wire-format key or value, -1 for plain keys
	// and headers.
	ID int
	// Kind is "wire" (a registry schema), "string" or "bytes" (plain keys,
	// written as optional strings or bytes) or "headers".
	Kind string
	// Bytes is the datum; it is valid until the next call of Datums.Of.
	Bytes []byte
}

// Same reports whether d and o have the same writer schema.
func (d Datum) Same(o Datum) bool { return d.Kind == o.Kind && d.ID == o.ID }

// Datums reads one view of records as Avro datums, resolving schemas through
// the format's registry (cached per id). One per object writer: it is not
// safe for concurrent use.
type Datums struct{ e *encoder }

// NewDatums returns the reader of view's datums. Values need a registry;
// without one, every key is a plain key (string or bytes).
func (f *Format) NewDatums(view layout.View) (*Datums, error) {
	if f.reg == nil && view == layout.ViewValues {
		return nil, ErrNoRegistry
	}
	return &Datums{e: &encoder{f: f, view: view, parsed: map[int]*writerSchema{}}}, nil
}

// Schema returns the writer schema of rec's view (Bytes nil), or an error
// wrapping format.ErrUnsupported for a record the view cannot hold as Avro.
func (d *Datums) Schema(rec *record.Record) (Datum, error) {
	ws, _, err := d.e.identify(rec)
	if err != nil {
		return Datum{}, err
	}
	return Datum{Schema: ws.schema, JSON: ws.json, ID: ws.id, Kind: ws.kind}, nil
}

// Of returns rec's view as a datum, checked against its schema.
func (d *Datums) Of(rec *record.Record) (Datum, error) {
	ws, payload, err := d.e.identify(rec)
	if err != nil {
		return Datum{}, err
	}
	b, err := d.e.encodeDatum(ws, rec, payload)
	if err != nil {
		return Datum{}, err
	}
	return Datum{Schema: ws.schema, JSON: ws.json, ID: ws.id, Kind: ws.kind, Bytes: b}, nil
}
