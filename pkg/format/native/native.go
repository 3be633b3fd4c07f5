package native

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
)

// Version is the format version kferry writes; readers accept any minor version
// of the same major.
const Version = "1.0"

// Metadata keys of the container file.
const (
	MetaFormat    = "kferry.format"
	MetaVersion   = "kferry.format.version"
	MetaTopic     = "kferry.topic"
	MetaPartition = "kferry.partition"
)

// Schema is the version 1 record schema.
const Schema = `{"type":"record","name":"Record","namespace":"io.kferry.native.v1","fields":[
 {"name":"offset","type":"long"},
 {"name":"timestamp","type":"long"},
 {"name":"timestamp_type","type":"int"},
 {"name":"key","type":["null","bytes"]},
 {"name":"value","type":["null","bytes"]},
 {"name":"headers","type":{"type":"array","items":{"type":"record","name":"Header","fields":[
  {"name":"key","type":"string"},
  {"name":"value","type":["null","bytes"]}]}}}]}`

// ErrVersion is returned for an object of a major version this reader does not know.
var ErrVersion = errors.New("unsupported native format version")

var schema = avro.MustParse(Schema)

// schemaText is the schema as kferry's writers put it in the file header.
var schemaText = schema.String()

// sameSchema reports whether the Avro schema text is the native schema
// written another way (whitespace, attribute order, another writer).
func sameSchema(text string) bool {
	ws, err := avro.Parse(text)
	return err == nil && ws.Fingerprint() == schema.Fingerprint()
}

// MaxRecordBytes bounds one key, value or header value on read: far above
// Kafka's 1 MiB default, for brokers configured above it.
const MaxRecordBytes = 64 << 20

type wireHeader struct {
	Key   string  `avro:"key"`
	Value *[]byte `avro:"value"`
}

type wireRecord struct {
	Offset        int64        `avro:"offset"`
	Timestamp     int64        `avro:"timestamp"`
	TimestampType int32        `avro:"timestamp_type"`
	Key           *[]byte      `avro:"key"`
	Value         *[]byte      `avro:"value"`
	Headers       []wireHeader `avro:"headers"`
}

// Format is the native format (registered by init) with zstandard blocks.
type Format struct {
	// Codec is the Avro block codec; "" means zstandard.
	Codec ocf.CodecName
}

var _ format.Format = Format{}

func init() { format.Register(Format{}) }

// Name returns "native".
func (Format) Name() string { return "native" }

// Ext returns ".kfr".
func (Format) Ext() string { return ".kfr" }

// KeepsOffsets returns true: every record carries its offset.
func (Format) KeepsOffsets() bool { return true }

var _ format.OffsetKeeper = Format{}

// NewEncoder returns an encoder of whole records; native objects have no
// keys or headers sidecars, so only the values view exists.
func (f Format) NewEncoder(w io.Writer, view layout.View) (format.Encoder, error) {
	if view != layout.ViewValues {
		return nil, fmt.Errorf("%w: the native format keeps keys and headers in its records; no %s objects", format.ErrUnsupported, view)
	}
	if w == nil {
		return &encoder{}, nil // a probe by callers checking the view
	}
	return &encoder{w: w, codec: f.codec()}, nil
}

func (f Format) codec() ocf.CodecName {
	if f.Codec == "" {
		return ocf.ZStandard
	}
	return f.Codec
}

// NewDecoder returns a decoder of whole records.
func (Format) NewDecoder(r io.Reader, view layout.View) (format.Decoder, error) {
	if view != layout.ViewValues {
		return nil, fmt.Errorf("%w: native objects have no %s view", format.ErrMalformed, view)
	}
	return &decoder{r: r}, nil
}

type encoder struct {
	w     io.Writer
	codec ocf.CodecName
	c     *containerWriter
	wire  wireRecord
}

// Encode appends rec. The container header is written with the first record, so
// it can name the record's topic and partition.
func (e *encoder) Encode(rec *record.Record) error {
	if e.c == nil {
		c, err := newContainerWriter(e.w, e.codec, map[string][]byte{
			MetaFormat:    []byte("native"),
			MetaVersion:   []byte(Version),
			MetaTopic:     []byte(rec.Topic),
			MetaPartition: []byte(strconv.Itoa(int(rec.Partition))),
		})
		if err != nil {
			return fmt.Errorf("native: %w", err)
		}
		e.c = c
	}
	w := &e.wire
	w.Offset, w.TimestampType = rec.Offset, int32(rec.TimestampType)
	w.Timestamp = 0
	if !rec.Timestamp.IsZero() {
		w.Timestamp = rec.Timestamp.UnixMilli()
	}
	w.Key, w.Value = nullable(rec.Key), nullable(rec.Value)
	w.Headers = w.Headers[:0]
	for i := range rec.Headers {
		w.Headers = append(w.Headers, wireHeader{Key: rec.Headers[i].Key, Value: nullable(rec.Headers[i].Value)})
	}
	return e.c.encode(w)
}

// Close writes the last block. The caller closes the underlying writer after it.
func (e *encoder) Close() error {
	if e.c == nil {
		return nil
	}
	return e.c.flush()
}

func nullable(b []byte) *[]byte {
	if b == nil {
		return nil
	}
	return &b
}

type decoder struct {
	r     io.Reader
	c     *containerReader
	block blockReader
	left  int64 // records left in the current block
	index int
}

func (d *decoder) open() error {
	c, err := newContainerReader(d.r)
	if err != nil {
		return fmt.Errorf("%w: not an Avro container file: %s", format.ErrMalformed, causeText(err))
	}
	if string(c.Meta[MetaFormat]) != "native" {
		return fmt.Errorf("%w: Avro file without %s=native metadata; not a kferry native object", format.ErrMalformed, MetaFormat)
	}
	v := string(c.Meta[MetaVersion])
	if major, _, _ := strings.Cut(v, "."); major != "1" {
		return fmt.Errorf("%w %q (this kferry reads 1.x); upgrade kferry", ErrVersion, v)
	}
	// Parsing the schema cost a restore of thousands of small objects more
	// CPU than their records: only a text other than kferry's is parsed.
	if text := string(c.Meta["avro.schema"]); text != schemaText && !sameSchema(text) {
		return fmt.Errorf("%w: the file's schema is not the native version 1 schema", format.ErrMalformed)
	}
	d.c = c
	return nil
}

// Next fills every field of rec: offset, timestamp, key, value, headers.
func (d *decoder) Next(rec *record.Record) error {
	if d.c == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	for d.left == 0 {
		if d.block.left() > 0 {
			return fmt.Errorf("%w: record %d: %d stray bytes at the end of a block", format.ErrMalformed, d.index, d.block.left())
		}
		count, data, err := d.c.Next()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.index+1, causeText(err))
		}
		d.left = count
		d.block.reset(data)
	}
	if err := d.block.record(rec); err != nil {
		return fmt.Errorf("%w: record %d: %s", format.ErrMalformed, d.index+1, causeText(err))
	}
	d.left--
	d.index++
	return nil
}
