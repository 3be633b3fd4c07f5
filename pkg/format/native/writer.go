package native

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/kferry/kferry/pkg/format/internal/container"
)

// Block limits: a block is written once it holds this many records or bytes
// (what hamba/avro's ocf.Encoder was configured with before, so blocks and
// their contents are the same as in the format's golden fixtures).
const (
	blockRecords = 1000
	blockBytes   = 1 << 20
)

// containerWriter encodes native records into an Avro object container file
// through container.Writer, which shares its compressors among all objects
// (see there for why not hamba/avro's ocf.Encoder).
type containerWriter struct {
	cw    *container.Writer
	datum bytes.Buffer // one record, encoded
	enc   *avro.Encoder
}

func newContainerWriter(w io.Writer, codec ocf.CodecName, meta map[string][]byte) (*containerWriter, error) {
	var sync [16]byte
	_, _ = rand.Read(sync[:]) // crypto/rand never fails on supported platforms
	cw, err := container.NewWriter(w, []byte(schema.String()), string(codec), sync,
		container.Options{BlockBytes: blockBytes, BlockRecords: blockRecords, Meta: meta})
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	c := &containerWriter{cw: cw}
	c.enc = avro.DefaultConfig.NewEncoder(schema, &c.datum)
	return c, nil
}

// encode appends one record (a *wireRecord) to the block, and writes the block
// when it is full.
func (c *containerWriter) encode(v any) error {
	c.datum.Reset()
	if err := c.enc.Encode(v); err != nil {
		return err
	}
	return c.cw.Append(c.datum.Bytes())
}

// flush writes the block, if it holds records.
func (c *containerWriter) flush() error { return c.cw.Flush() }
