// Package container reads and writes Avro object container files (the
// Avro 1.11 specification) for kferry's formats built on them: native and avro.
package container

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// ErrContainer is the cause of every error about the container's structure.
var ErrContainer = errors.New("bad container")

// Reader reads an Avro object container file block by block. It is kferry's
// own (rather than hamba/avro's ocf.Decoder) because every size in the file is
// checked before anything is allocated for it, and because it hands out the
// raw binary data of each block.
type Reader struct {
	r     *bufio.Reader
	limit int64 // bound of one block, compressed or not
	// Meta is the header's metadata (avro.schema, avro.codec, ...).
	Meta  map[string][]byte
	sync  [16]byte
	codec string
	block bytes.Buffer
	out   []byte
	zstd  *zstd.Decoder
	pos   int64
}

// readers keeps the read buffers of Readers that reached the end of their
// file: a restore opens thousands of small objects, and a fresh 64 KiB buffer
// each cost more CPU than decoding them.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// release returns the read buffer to the pool at the end of the file; Next
// then keeps answering io.EOF. Blocks never point into it (Next copies them).
func (c *Reader) release() {
	c.r.Reset(nil)
	readers.Put(c.r)
	c.r = nil
}

// NewReader reads the header of the container file in r. limit bounds one
// block, compressed or not, so that a corrupt or hostile size field or a
// compression bomb cannot make the reader allocate without limit.
func NewReader(r io.Reader, limit int64) (*Reader, error) {
	br, _ := readers.Get().(*bufio.Reader) // the pool holds nothing else
	br.Reset(r)
	c := &Reader{r: br, limit: limit, Meta: map[string][]byte{}}
	var magic [4]byte
	if _, err := io.ReadFull(c.r, magic[:]); err != nil || string(magic[:]) != "Obj\x01" {
		return nil, fmt.Errorf("%w: no Avro magic", ErrContainer)
	}
	c.pos = 4
	for {
		n, err := c.long()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := c.long(); err != nil { // byte size of the block, unused
				return nil, err
			}
		}
		if n > 1024 {
			return nil, fmt.Errorf("%w: %d metadata entries", ErrContainer, n)
		}
		for range n {
			k, err := c.bytes(64 << 10)
			if err != nil {
				return nil, err
			}
			v, err := c.bytes(1 << 20)
			if err != nil {
				return nil, err
			}
			c.Meta[string(k)] = v
		}
	}
	if _, err := io.ReadFull(c.r, c.sync[:]); err != nil {
		return nil, fmt.Errorf("%w: header ends early", ErrContainer)
	}
	c.pos += 16
	c.codec = string(c.Meta["avro.codec"])
	switch c.codec {
	case "", "null", "deflate", "snappy":
	case "zstandard":
		d, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		c.zstd = d
	default:
		return nil, fmt.Errorf("%w: codec %q", ErrContainer, c.codec)
	}
	return c, nil
}

// MaxBlockBytes bounds what the shared zstd decoder allocates (a block of the
// largest record Kafka is commonly configured to accept, 64 MiB, and room);
// each block is also checked against the reader's own limit.
const MaxBlockBytes = 64<<20 + 16<<20

// zstdDecoder is shared: DecodeAll is safe for concurrent use, and a decoder is
// costly to set up per object.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxBlockBytes))
})

// long reads one zig-zag varint.
func (c *Reader) long() (int64, error) {
	u, err := binary.ReadUvarint(c.r)
	if err != nil {
		return 0, fmt.Errorf("%w: at byte %d: %s", ErrContainer, c.pos, CauseText(errOrEOF(err)))
	}
	c.pos++ // approximate: positions in errors point near the field
	return int64(u>>1) ^ -int64(u&1), nil
}

func errOrEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// CauseText is the message of the cause of an ErrContainer or ErrMalformed
// error, which is formatted, not wrapped: it may be io.ErrUnexpectedEOF of a
// truncated object or an I/O error of the object's stream, and restore and
// import start a partition over on errors that look like a dropped connection
// (io.ErrUnexpectedEOF does, to franz-go). A malformed object must read as one.
func CauseText(err error) string { return err.Error() }

func (c *Reader) bytes(limit int64) ([]byte, error) {
	n, err := c.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > limit {
		return nil, fmt.Errorf("%w: field of %d bytes at byte %d", ErrContainer, n, c.pos)
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, c.r, n); err != nil {
		return nil, fmt.Errorf("%w: at byte %d: %s", ErrContainer, c.pos, CauseText(errOrEOF(err)))
	}
	c.pos += n
	return buf.Bytes(), nil
}

// Next returns the record count and the decompressed data of the next block, or
// io.EOF after the last one. The data is valid until the next call.
func (c *Reader) Next() (int64, []byte, error) {
	if c.r == nil {
		return 0, nil, io.EOF
	}
	if _, err := c.r.Peek(1); errors.Is(err, io.EOF) {
		c.release()
		return 0, nil, io.EOF
	}
	start := c.pos
	count, err := c.long()
	if err != nil {
		return 0, nil, err
	}
	size, err := c.long()
	if err != nil {
		return 0, nil, err
	}
	if count < 0 || size < 0 || size > c.limit {
		return 0, nil, fmt.Errorf("%w: block at byte %d claims %d records in %d bytes", ErrContainer, start, count, size)
	}
	c.block.Reset()
	// CopyN grows the buffer as bytes arrive: a lying size in a short file
	// costs no more memory than the file itself.
	if _, err := io.CopyN(&c.block, c.r, size); err != nil {
		return 0, nil, fmt.Errorf("%w: block at byte %d: %s", ErrContainer, start, CauseText(errOrEOF(err)))
	}
	c.pos += size
	var sync [16]byte
	if _, err := io.ReadFull(c.r, sync[:]); err != nil || sync != c.sync {
		return 0, nil, fmt.Errorf("%w: block at byte %d: sync marker missing (truncated or altered)", ErrContainer, start)
	}
	c.pos += 16
	data, err := c.decompress(c.block.Bytes())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: block at byte %d: %s", ErrContainer, start, CauseText(err))
	}
	if count > int64(len(data)) {
		return 0, nil, fmt.Errorf("%w: block at byte %d claims %d records in %d bytes", ErrContainer, start, count, len(data))
	}
	return count, data, nil
}

func (c *Reader) decompress(b []byte) ([]byte, error) {
	switch c.codec {
	case "", "null":
		return b, nil
	case "deflate":
		var out bytes.Buffer
		n, err := io.Copy(&out, io.LimitReader(flate.NewReader(bytes.NewReader(b)), c.limit+1))
		if err != nil {
			return nil, err
		}
		if n > c.limit {
			return nil, errors.New("block inflates beyond the limit")
		}
		return out.Bytes(), nil
	case "snappy":
		if len(b) < 4 {
			return nil, errors.New("snappy block without checksum")
		}
		body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("snappy block: %w", err)
		}
		if int64(n) > c.limit {
			return nil, fmt.Errorf("snappy block of %d bytes inflates beyond the limit", n)
		}
		out, err := snappy.Decode(c.out[:0], body)
		if err != nil {
			return nil, err
		}
		if crc32.ChecksumIEEE(out) != sum {
			return nil, errors.New("snappy block checksum mismatch")
		}
		c.out = out
		return out, nil
	case "zstandard":
		out, err := c.zstd.DecodeAll(b, c.out[:0])
		if err != nil {
			return nil, err
		}
		if int64(len(out)) > c.limit {
			return nil, errors.New("block decompresses beyond the limit")
		}
		c.out = out
		return out, nil
	}
	return nil, fmt.Errorf("codec %q", c.codec)
}
