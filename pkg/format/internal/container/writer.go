package container

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// Codec names as the Avro specification and the avro.codec header spell them.
const (
	CodecNull      = "null"
	CodecDeflate   = "deflate"
	CodecSnappy    = "snappy"
	CodecZstandard = "zstandard"
)

// Writer writes an Avro object container file from datums already encoded in
// Avro binary: the header (avro.schema, then avro.codec, as Java's
// DataFileWriter writes them), then blocks of about blockBytes uncompressed
// bytes. Unlike hamba/avro's ocf.Encoder it copies encoded datums as they are
// (no decode and re-encode of a record the Kafka payload already holds), keeps
// the metadata order fixed and takes the sync marker from the caller, so that
// exporting the same records twice gives the same bytes.
type Writer struct {
	w          io.Writer
	codec      string
	sync       [16]byte
	blockBytes int
	block      bytes.Buffer // datums of the open block
	count      int64
	out        []byte // scratch: block header and compressed data
	flate      *flate.Writer
}

// NewWriter writes the header to w and returns a writer of blocks that end once
// they hold blockBytes or more uncompressed bytes (Java's DataFileWriter:
// 64,000).
func NewWriter(w io.Writer, schema []byte, codec string, sync [16]byte, blockBytes int) (*Writer, error) {
	switch codec {
	case CodecNull, CodecDeflate, CodecSnappy, CodecZstandard:
	default:
		return nil, fmt.Errorf("avro codec %q (known: null, deflate, snappy, zstandard)", codec)
	}
	cw := &Writer{w: w, codec: codec, sync: sync, blockBytes: blockBytes}
	h := append([]byte(nil), "Obj\x01"...)
	h = binary.AppendVarint(h, 2) // one map block of two entries; Avro longs are zig-zag varints
	h = appendBytes(h, []byte("avro.schema"))
	h = appendBytes(h, schema)
	h = appendBytes(h, []byte("avro.codec"))
	h = appendBytes(h, []byte(codec))
	h = binary.AppendVarint(h, 0)
	h = append(h, sync[:]...)
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return cw, nil
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

// Append adds one datum, encoded in Avro binary.
func (c *Writer) Append(datum []byte) error {
	c.block.Write(datum)
	c.count++
	if c.block.Len() >= c.blockBytes {
		return c.Flush()
	}
	return nil
}

// Flush writes the open block, if it holds a datum.
func (c *Writer) Flush() error {
	if c.count == 0 {
		return nil
	}
	data, err := c.compress(c.block.Bytes())
	if err != nil {
		return fmt.Errorf("avro %s block: %w", c.codec, err)
	}
	hdr := binary.AppendVarint(c.out[:0], c.count)
	hdr = binary.AppendVarint(hdr, int64(len(data)))
	c.out = hdr
	for _, p := range [][]byte{hdr, data, c.sync[:]} {
		if _, err := c.w.Write(p); err != nil {
			return err
		}
	}
	c.block.Reset()
	c.count = 0
	return nil
}

var (
	zstdOnce = sync.OnceValues(func() (*zstd.Encoder, error) {
		// EncodeAll is safe for concurrent use; one encoder serves every object.
		return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
	})
)

func (c *Writer) compress(b []byte) ([]byte, error) {
	switch c.codec {
	case CodecDeflate:
		// Raw RFC 1951 at level 6, as java.util.zip.Deflater(-1, nowrap).
		var buf bytes.Buffer
		if c.flate == nil {
			c.flate, _ = flate.NewWriter(&buf, flate.DefaultCompression) // the level is valid
		} else {
			c.flate.Reset(&buf)
		}
		if _, err := c.flate.Write(b); err != nil {
			return nil, err
		}
		if err := c.flate.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		// A snappy block then the big-endian CRC-32 of the raw bytes.
		out := snappy.Encode(nil, b)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(b)), nil
	case CodecZstandard:
		enc, err := zstdOnce()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(b, nil), nil
	}
	return b, nil
}
