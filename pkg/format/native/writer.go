package native

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/golang/snappy"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/zstd"
)

// Block limits: a block is written once it holds this many records or bytes
// (what hamba/avro's ocf.Encoder was configured with before, so blocks and
// their contents are the same as in the format's golden fixtures).
const (
	blockRecords = 1000
	blockBytes   = 1 << 20
)

// containerWriter writes an Avro object container file. It is kferry's own
// rather than hamba/avro's ocf.Encoder because that one builds a zstd encoder
// (and a decoder) per file: a backup of 10,000 small partitions spent most of
// its allocations (2.8 MB per object) and a quarter of its CPU on them.
// Compressors here are shared: zstd's EncodeAll is safe for concurrent use, and
// deflate writers come from a pool, each taken only while a block compresses.
type containerWriter struct {
	w     io.Writer
	codec ocf.CodecName
	sync  [16]byte
	buf   bytes.Buffer // the block being filled, uncompressed
	enc   *avro.Encoder
	count int
	out   []byte // compressed block, reused
	head  []byte // block header scratch
}

func newContainerWriter(w io.Writer, codec ocf.CodecName, meta map[string][]byte) (*containerWriter, error) {
	switch codec {
	case ocf.Null, ocf.Deflate, ocf.Snappy, ocf.ZStandard:
	default:
		return nil, fmt.Errorf("unknown codec %q", codec)
	}
	c := &containerWriter{w: w, codec: codec}
	_, _ = rand.Read(c.sync[:]) // crypto/rand never fails on supported platforms
	c.enc = avro.DefaultConfig.NewEncoder(schema, &c.buf)
	all := make(map[string][]byte, len(meta)+2)
	for k, v := range meta {
		all[k] = v
	}
	all["avro.schema"] = []byte(schema.String())
	all["avro.codec"] = []byte(codec)
	h := []byte("Obj\x01")
	h = binary.AppendVarint(h, int64(len(all)))
	for k, v := range all {
		h = binary.AppendVarint(h, int64(len(k)))
		h = append(h, k...)
		h = binary.AppendVarint(h, int64(len(v)))
		h = append(h, v...)
	}
	h = append(h, 0) // end of the metadata map
	h = append(h, c.sync[:]...)
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return c, nil
}

// encode appends one record (a *wireRecord) to the block, and writes the block
// when it is full.
func (c *containerWriter) encode(v any) error {
	if err := c.enc.Encode(v); err != nil {
		return err
	}
	c.count++
	if c.count >= blockRecords || c.buf.Len() >= blockBytes {
		return c.flush()
	}
	return nil
}

// flush writes the block, if it holds records.
func (c *containerWriter) flush() error {
	if c.count == 0 {
		return nil
	}
	data, err := c.compress(c.buf.Bytes())
	if err != nil {
		return err
	}
	c.head = binary.AppendVarint(c.head[:0], int64(c.count))
	c.head = binary.AppendVarint(c.head, int64(len(data)))
	for _, p := range [][]byte{c.head, data, c.sync[:]} {
		if _, err := c.w.Write(p); err != nil {
			return err
		}
	}
	c.count = 0
	c.buf.Reset()
	return nil
}

func (c *containerWriter) compress(b []byte) ([]byte, error) {
	switch c.codec {
	case ocf.ZStandard:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		c.out = enc.EncodeAll(b, c.out[:0])
	case ocf.Snappy: // snappy block, then the CRC-32 of the uncompressed data
		c.out = snappy.Encode(c.out[:cap(c.out)], b)
		c.out = binary.BigEndian.AppendUint32(c.out, crc32.ChecksumIEEE(b))
	case ocf.Deflate: // raw deflate (RFC 1951)
		out := bytes.NewBuffer(c.out[:0])
		fw, ok := deflaters.Get().(*flate.Writer)
		if !ok {
			fw, _ = flate.NewWriter(nil, flate.DefaultCompression) // fails only for a bad level
		}
		defer deflaters.Put(fw)
		fw.Reset(out)
		if _, err := fw.Write(b); err != nil {
			return nil, err
		}
		if err := fw.Close(); err != nil {
			return nil, err
		}
		c.out = out.Bytes()
	default:
		return b, nil
	}
	return c.out, nil
}

// zstdEncoder is shared by every object: EncodeAll runs up to GOMAXPROCS
// blocks at once, each with a 1 MiB window (a block is about 1 MiB), so the
// memory held is a few MiB however many objects are open.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
})

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.DefaultCompression) // fails only for a bad level
	return w
}}
