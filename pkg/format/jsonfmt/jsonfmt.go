package jsonfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/linereader"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Format is the json format; register it with format.Register (done by init).
type Format struct{}

var _ format.Format = Format{}

func init() { format.Register(Format{}) }

// Name returns "json".
func (Format) Name() string { return "json" }

// Ext returns ".json".
func (Format) Ext() string { return ".json" }

// NewEncoder returns an encoder for the values, keys or headers view.
func (Format) NewEncoder(w io.Writer, view layout.View) (format.Encoder, error) {
	return &encoder{w: w, view: view}, nil
}

// NewDecoder returns a decoder for the values, keys or headers view.
func (Format) NewDecoder(r io.Reader, view layout.View) (format.Decoder, error) {
	return &decoder{lines: linereader.New(r, '\n'), view: view}, nil
}

type encoder struct {
	w    io.Writer
	view layout.View
	buf  bytes.Buffer
	scr  []byte
}

// Encode writes one line: the compacted value, the key as a JSON string, or the
// {"headers":[...]} envelope.
func (e *encoder) Encode(rec *record.Record) error {
	e.buf.Reset()
	switch e.view {
	case layout.ViewValues:
		if rec.Value == nil {
			return fmt.Errorf("%w: null value (tombstone) at offset %d; JSON objects cannot hold tombstones, use --format native", format.ErrUnsupported, rec.Offset)
		}
		var err error
		if e.scr, err = appendCompact(e.scr[:0], rec.Value); err != nil {
			return fmt.Errorf("%w: value at offset %d is not JSON (%w); use --format bytes or --format native", format.ErrUnsupported, rec.Offset, err)
		}
		e.buf.Write(e.scr)
	case layout.ViewKeys:
		if rec.Key == nil {
			return fmt.Errorf("%w: null key at offset %d; --store-keys cannot hold null keys (as in Confluent), drop --store-keys or use --format native", format.ErrUnsupported, rec.Offset)
		}
		if !utf8.Valid(rec.Key) {
			return fmt.Errorf("%w: key at offset %d is not UTF-8 text; use --keys-format bytes or --format native", format.ErrUnsupported, rec.Offset)
		}
		e.scr = AppendString(e.scr[:0], rec.Key)
		e.buf.Write(e.scr)
	case layout.ViewHeaders:
		e.scr = append(e.scr[:0], `{"headers":[`...)
		for i, h := range rec.Headers {
			if i > 0 {
				e.scr = append(e.scr, ',')
			}
			if !utf8.ValidString(h.Key) {
				return fmt.Errorf("%w: header key %q at offset %d is not UTF-8 text; Confluent header objects hold strings only, use --format native", format.ErrUnsupported, h.Key, rec.Offset)
			}
			e.scr = append(e.scr, `{"key":`...)
			e.scr = AppendString(e.scr, []byte(h.Key))
			e.scr = append(e.scr, `,"value":`...)
			switch {
			case h.Value == nil:
				e.scr = append(e.scr, "null"...)
			case !utf8.Valid(h.Value):
				return fmt.Errorf("%w: header %q at offset %d is not UTF-8 text; Confluent header objects hold strings only, use --format native", format.ErrUnsupported, h.Key, rec.Offset)
			default:
				e.scr = AppendString(e.scr, h.Value)
			}
			e.scr = append(e.scr, '}')
		}
		e.scr = append(e.scr, "]}"...)
		e.buf.Write(e.scr)
	default:
		return fmt.Errorf("jsonfmt: unknown view %v", e.view)
	}
	e.buf.WriteByte('\n')
	_, err := e.w.Write(e.buf.Bytes())
	return err
}

type decoder struct {
	lines *linereader.Reader
	view  layout.View
	slab  linereader.Slab
}

type headerLine struct {
	Headers []struct {
		Key   string  `json:"key"`
		Value *string `json:"value"`
	} `json:"headers"`
}

// Next reads one line and fills the view's field of rec.
func (d *decoder) Next(rec *record.Record) error {
	line, err := d.lines.Next()
	if err != nil {
		return err
	}
	n := d.lines.Line()
	switch d.view {
	case layout.ViewValues:
		// Compacting never lengthens a value, so a slab slice of the line's
		// size holds it without reallocating.
		v, err := appendCompact(d.slab.Alloc(len(line))[:0], line)
		if err != nil {
			return fmt.Errorf("%w: line %d: invalid JSON: %w", format.ErrMalformed, n, err)
		}
		rec.Value = v[:len(v):len(v)]
	case layout.ViewKeys:
		key, err := decodeKey(line)
		if err != nil {
			return fmt.Errorf("%w: line %d: invalid JSON key: %w", format.ErrMalformed, n, err)
		}
		rec.Key = key
	case layout.ViewHeaders:
		if hs, ok := d.headersFast(line); ok {
			rec.Headers = hs
			break
		}
		var hl headerLine
		if err := json.Unmarshal(line, &hl); err != nil {
			return fmt.Errorf("%w: line %d: invalid headers line: %w", format.ErrMalformed, n, err)
		}
		rec.Headers = rec.Headers[:0:0]
		for _, h := range hl.Headers {
			var v []byte
			if h.Value != nil {
				v = []byte(*h.Value)
			}
			rec.Headers = append(rec.Headers, record.Header{Key: h.Key, Value: v})
		}
	default:
		return fmt.Errorf("jsonfmt: unknown view %v", d.view)
	}
	return nil
}

// decodeKey turns a key line back into key bytes: a JSON string is the key's text
// (StringConverter keys), null is a null key, anything else is kept as compact JSON
// (JsonConverter keys).
func decodeKey(line []byte) ([]byte, error) {
	line = bytes.TrimSpace(line)
	if len(line) > 0 && line[0] == '"' {
		var s string
		if err := json.Unmarshal(line, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	if bytes.Equal(line, []byte("null")) {
		return nil, nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, line); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// AppendString appends s as a JSON string the way Jackson writes it: no HTML
// escaping, the short escapes for \b \t \n \f \r, \u00XX (upper-case hex) for the
// other control characters. s must be valid UTF-8.
func AppendString(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
