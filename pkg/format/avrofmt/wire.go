package avrofmt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/kferry/kferry/pkg/record"
)

// Errors of the Confluent wire format (see ParseWire).
var (
	// ErrNotWire: the bytes do not start with magic byte 0 and a schema id.
	ErrNotWire = errors.New("not in the Confluent wire format")
	// ErrGUID: magic byte 1 and a 16-byte schema GUID (Confluent 8.0+).
	ErrGUID = errors.New("schema GUID (wire format magic byte 1) is not supported")
	// ErrHeaderID: the schema id is in a __key_schema_id/__value_schema_id
	// header (Confluent 8.0+ HeaderSchemaIdSerializer).
	ErrHeaderID = errors.New("schema id in a record header is not supported")
)

// Header names of Confluent 8.0's HeaderSchemaIdSerializer.
const (
	HeaderKeySchemaID   = "__key_schema_id"
	HeaderValueSchemaID = "__value_schema_id"
)

// Wire is a payload in the Confluent wire format: magic byte 0, the big-endian
// 32-bit schema id, then the serialized datum (for Protobuf, message indexes
// first; see MessageIndexes).
type Wire struct {
	ID      int
	Payload []byte
}

// ParseWire splits b into schema id and payload. It recognises the newer GUID
// variant (magic byte 1) and reports it as ErrGUID.
func ParseWire(b []byte) (Wire, error) {
	if len(b) > 0 && b[0] == 1 {
		return Wire{}, ErrGUID
	}
	if len(b) < 5 || b[0] != 0 {
		return Wire{}, ErrNotWire
	}
	return Wire{ID: int(binary.BigEndian.Uint32(b[1:5])), Payload: b[5:]}, nil
}

// AppendWire appends magic byte 0, id and payload to dst.
func AppendWire(dst []byte, id int, payload []byte) []byte {
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id)) //nolint:gosec // registry ids are int32 on the wire
	return append(dst, payload...)
}

// MessageIndexes reads the message indexes that start a Protobuf payload:
// a zig-zag varint count, then as many zig-zag varint indexes; a lone 0 byte
// stands for [0], the first message of the schema.
func MessageIndexes(payload []byte) ([]int, []byte, error) {
	n, w := binary.Varint(payload)
	if w <= 0 || n < 0 || n > int64(len(payload)) {
		return nil, nil, fmt.Errorf("%w: bad Protobuf message indexes", ErrNotWire)
	}
	payload = payload[w:]
	if n == 0 {
		return []int{0}, payload, nil
	}
	idx := make([]int, 0, n)
	for range n {
		v, w := binary.Varint(payload)
		if w <= 0 {
			return nil, nil, fmt.Errorf("%w: bad Protobuf message indexes", ErrNotWire)
		}
		idx = append(idx, int(v))
		payload = payload[w:]
	}
	return idx, payload, nil
}

// headerID reports whether rec carries its schema id in the header name.
func headerID(rec *record.Record, name string) bool {
	for _, h := range rec.Headers {
		if h.Key == name {
			return true
		}
	}
	return false
}

// Checker checks that payloads of the wire format are Avro datums of one
// schema: a check before bytes that merely start with byte 0 (a big-endian
// long key) are taken for a schema id and rewritten.
type Checker struct {
	schema   avro.Schema
	rawBytes bool
}

// NewCheckerWith is NewChecker for a schema with references: refs are the
// texts of the schemas it references, those they reference first.
func NewCheckerWith(refs []string, text string) (*Checker, error) {
	if len(refs) == 0 {
		return NewChecker(text)
	}
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if _, err := avro.ParseWithCache(r, "", cache); err != nil {
			return nil, fmt.Errorf("a referenced schema: %w", err)
		}
	}
	s, err := avro.ParseWithCache(text, "", cache)
	if err != nil {
		return nil, err
	}
	return &Checker{schema: s, rawBytes: s.Type() == avro.Bytes}, nil
}

// NewChecker parses an Avro schema's text.
func NewChecker(text string) (*Checker, error) {
	s, err := parse(text)
	if err != nil {
		return nil, err
	}
	return &Checker{schema: s, rawBytes: s.Type() == avro.Bytes}, nil
}

// Check returns an error unless payload (the bytes after the schema id) is
// exactly one datum of the schema.
func (c *Checker) Check(payload []byte) error { return checkDatum(c.schema, c.rawBytes, payload) }

// checkDatum returns an error unless payload is exactly one datum of s.
// Confluent writes a top-level bytes payload as is (rawBytes): any bytes are one.
func checkDatum(s avro.Schema, rawBytes bool, payload []byte) error {
	if rawBytes {
		return nil
	}
	n, err := datumLen(s, payload)
	if err == nil && n != len(payload) {
		err = fmt.Errorf("%d bytes left after the datum", len(payload)-n)
	}
	return err
}
