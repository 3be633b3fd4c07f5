package parquetfmt

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/record"
)

// maxInferredColumns bounds the columns of an inferred schema: each costs
// a page buffer per open object.
const maxInferredColumns = 1000

// jsonDatum returns the schema and datum of rec's JSON value: under the
// given schema, else under the object's schema if it fits exactly, else
// under one inferred from rec (a new object's).
func (e *encoder) jsonDatum(rec *record.Record) (*jsonSchema, []byte, error) {
	if rec == e.jrec {
		return e.jschema, e.jdatum, nil
	}
	if rec.Value == nil {
		return nil, nil, fmt.Errorf("%w: null value (tombstone) at offset %d; Parquet objects cannot hold tombstones, use --format native", format.ErrUnsupported, rec.Offset)
	}
	v, err := parseJSON(rec.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: value at offset %d is not JSON (%w); use --format bytes or native", format.ErrUnsupported, rec.Offset, err)
	}
	js, datum := e.f.json, e.jdatum[:0]
	switch {
	case !js.inferred:
		if datum, err = (jsonEncoder{allowMissing: true}).encode(datum, js.schema, v, 0); err != nil {
			return nil, nil, fmt.Errorf("%w: value at offset %d does not fit --value-schema: %w", format.ErrUnsupported, rec.Offset, err)
		}
	default:
		if e.jcur != nil {
			if d, err := (jsonEncoder{}).encode(datum, e.jcur.schema, v, 0); err == nil {
				js, datum = e.jcur, d
				break
			}
		}
		text, err := inferSchema(v)
		if err == nil {
			js = &jsonSchema{text: text, inferred: true}
			if js.schema, err = avro.ParseWithCache(text, "", &avro.SchemaCache{}); err == nil {
				datum, err = (jsonEncoder{}).encode(datum, js.schema, v, 0)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: value at offset %d: no Parquet schema can be inferred from it (%w); give one with --value-schema FILE, or use --format json", format.ErrUnsupported, rec.Offset, err)
		}
	}
	e.jrec, e.jschema, e.jdatum = rec, js, datum
	return js, datum, nil
}

// encodeJSON writes rec's JSON value as one row.
func (e *encoder) encodeJSON(rec *record.Record) error {
	js, datum, err := e.jsonDatum(rec)
	if err != nil {
		return err
	}
	e.jrec = nil // the next record is parsed anew, even at the same address
	if e.jcur != nil && js != e.jcur {
		return fmt.Errorf("%w: value at offset %d does not fit the object's inferred schema", format.ErrUnsupported, rec.Offset)
	}
	if e.pw == nil {
		root, schema, err := newPlan(js.schema)
		if err != nil {
			return fmt.Errorf("%w: value at offset %d: %w", format.ErrUnsupported, rec.Offset, err)
		}
		how := "given"
		if js.inferred {
			how = "inferred"
			if n := len(root.leaves); n > maxInferredColumns {
				return fmt.Errorf("%w: value at offset %d: %d columns inferred, more than %d (an object used as a map?); give --value-schema FILE with a map type, or use --format json", format.ErrUnsupported, rec.Offset, n, maxInferredColumns)
			}
			if _, seen := e.f.seen.LoadOrStore(js.text, true); !seen && e.f.log != nil {
				e.f.log.Info("parquet: schema inferred from a JSON value (logged once per schema); a record that does not fit it starts a new object",
					"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "schema", js.text)
			}
		}
		e.open(&plan{root: root, schema: schema, json: []byte(js.text)}, metaValueEncoding, "json", metaInferred, how)
		e.jcur = js
	}
	return e.write(rec, datum)
}
