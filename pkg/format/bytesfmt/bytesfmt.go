package bytesfmt

import (
	"bytes"
	"fmt"
	"io"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/linereader"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Format is the bytes format with the default "\n" separator (registered by init).
type Format struct{}

var _ format.Format = Format{}

func init() { format.Register(Format{}) }

// Separator ends every record, as Confluent's format.bytearray.separator default.
const Separator = '\n'

// Name returns "bytes".
func (Format) Name() string { return "bytes" }

// Ext returns ".bin", Confluent's format.bytearray.extension default.
func (Format) Ext() string { return ".bin" }

// NewEncoder returns an encoder for the values or keys view; Confluent allows no
// byte-array headers, so the headers view is an error.
func (Format) NewEncoder(w io.Writer, view layout.View) (format.Encoder, error) {
	if view == layout.ViewHeaders {
		return nil, fmt.Errorf("%w: headers cannot be written in the bytes format (Confluent allows json, avro, parquet)", format.ErrUnsupported)
	}
	return &encoder{w: w, view: view}, nil
}

// NewDecoder returns a decoder for the values or keys view.
func (Format) NewDecoder(r io.Reader, view layout.View) (format.Decoder, error) {
	if view == layout.ViewHeaders {
		return nil, fmt.Errorf("%w: headers objects are never in the bytes format", format.ErrMalformed)
	}
	return &decoder{lines: linereader.New(r, Separator), view: view}, nil
}

type encoder struct {
	w    io.Writer
	view layout.View
	buf  []byte
}

// Encode writes the value (or key) and the separator. Since the format has no
// escaping, a payload containing the separator would silently turn into two
// records on the way back: that is refused instead.
func (e *encoder) Encode(rec *record.Record) error {
	b, what := rec.Value, "value"
	if e.view == layout.ViewKeys {
		b, what = rec.Key, "key"
	}
	if b == nil {
		if what == "key" {
			return fmt.Errorf("%w: null key at offset %d; --store-keys cannot hold null keys (as in Confluent), drop --store-keys or use --format native", format.ErrUnsupported, rec.Offset)
		}
		return fmt.Errorf("%w: null value (tombstone) at offset %d; the bytes format cannot hold tombstones, use --format native", format.ErrUnsupported, rec.Offset)
	}
	if i := bytes.IndexByte(b, Separator); i >= 0 {
		return fmt.Errorf("%w: %s at offset %d contains the separator byte 0x%02x at position %d, so it would not read back as one record; use --format native", format.ErrUnsupported, what, rec.Offset, Separator, i)
	}
	e.buf = append(append(e.buf[:0], b...), Separator)
	_, err := e.w.Write(e.buf)
	return err
}

type decoder struct {
	lines *linereader.Reader
	view  layout.View
	slab  linereader.Slab
}

// Next fills rec.Value (or rec.Key) with the next record's bytes.
func (d *decoder) Next(rec *record.Record) error {
	b, err := d.lines.Next()
	if err != nil {
		return err
	}
	v := d.slab.Clone(b)
	if v == nil {
		v = []byte{}
	}
	if d.view == layout.ViewKeys {
		rec.Key = v
	} else {
		rec.Value = v
	}
	return nil
}
