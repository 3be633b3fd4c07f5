package native

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

// MaxBlockBytes bounds one container block, compressed or not. kferry writes
// blocks of about 1 MiB (more only for a record above that); the bound is there
// so a corrupt or hostile size field or compression bomb cannot make the reader
// allocate without limit.
const MaxBlockBytes = MaxRecordBytes + 16<<20

// maxBlockBytes is MaxBlockBytes, lowered by fuzz tests to keep each input cheap.
var maxBlockBytes int64 = MaxBlockBytes

var errContainer = errors.New("bad container")

// containerReader reads an Avro object container file block by block. It is
// kferry's own (rather than hamba/avro's ocf.Decoder) because every size in the
// file is checked before anything is allocated for it.
type containerReader struct {
	r     *bufio.Reader
	meta  map[string][]byte
	sync  [16]byte
	codec string
	block bytes.Buffer
	out   []byte
	zstd  *zstd.Decoder
	pos   int64
}

func newContainerReader(r io.Reader) (*containerReader, error) {
	c := &containerReader{r: bufio.NewReaderSize(r, 64<<10), meta: map[string][]byte{}}
	var magic [4]byte
	if _, err := io.ReadFull(c.r, magic[:]); err != nil || string(magic[:]) != "Obj\x01" {
		return nil, fmt.Errorf("%w: no Avro magic", errContainer)
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
			return nil, fmt.Errorf("%w: %d metadata entries", errContainer, n)
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
			c.meta[string(k)] = v
		}
	}
	if _, err := io.ReadFull(c.r, c.sync[:]); err != nil {
		return nil, fmt.Errorf("%w: header ends early", errContainer)
	}
	c.pos += 16
	c.codec = string(c.meta["avro.codec"])
	switch c.codec {
	case "", "null", "deflate", "snappy":
	case "zstandard":
		d, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		c.zstd = d
	default:
		return nil, fmt.Errorf("%w: codec %q", errContainer, c.codec)
	}
	return c, nil
}

// zstdDecoder is shared: DecodeAll is safe for concurrent use, and a decoder is
// costly to set up per object.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxBlockBytes))
})

func (c *containerReader) close() {}

// long reads one zig-zag varint.
func (c *containerReader) long() (int64, error) {
	u, err := binary.ReadUvarint(c.r)
	if err != nil {
		return 0, fmt.Errorf("%w: at byte %d: %s", errContainer, c.pos, causeText(errOrEOF(err)))
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

// causeText is the message of the cause of an errContainer or ErrMalformed
// error, which is formatted, not wrapped: it may be io.ErrUnexpectedEOF of a
// truncated object or an I/O error of the object's stream, and restore and
// import start a partition over on errors that look like a dropped connection
// (io.ErrUnexpectedEOF does, to franz-go). A malformed object must read as one.
func causeText(err error) string { return err.Error() }

func (c *containerReader) bytes(limit int64) ([]byte, error) {
	n, err := c.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > limit {
		return nil, fmt.Errorf("%w: field of %d bytes at byte %d", errContainer, n, c.pos)
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, c.r, n); err != nil {
		return nil, fmt.Errorf("%w: at byte %d: %s", errContainer, c.pos, causeText(errOrEOF(err)))
	}
	c.pos += n
	return buf.Bytes(), nil
}

// next returns the record count and the decompressed data of the next block, or
// io.EOF after the last one.
func (c *containerReader) next() (int64, []byte, error) {
	if _, err := c.r.Peek(1); errors.Is(err, io.EOF) {
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
	if count < 0 || size < 0 || size > maxBlockBytes {
		return 0, nil, fmt.Errorf("%w: block at byte %d claims %d records in %d bytes", errContainer, start, count, size)
	}
	c.block.Reset()
	// CopyN grows the buffer as bytes arrive: a lying size in a short file
	// costs no more memory than the file itself.
	if _, err := io.CopyN(&c.block, c.r, size); err != nil {
		return 0, nil, fmt.Errorf("%w: block at byte %d: %s", errContainer, start, causeText(errOrEOF(err)))
	}
	c.pos += size
	var sync [16]byte
	if _, err := io.ReadFull(c.r, sync[:]); err != nil || sync != c.sync {
		return 0, nil, fmt.Errorf("%w: block at byte %d: sync marker missing (truncated or altered)", errContainer, start)
	}
	c.pos += 16
	data, err := c.decompress(c.block.Bytes())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: block at byte %d: %s", errContainer, start, causeText(err))
	}
	if count > int64(len(data)) {
		return 0, nil, fmt.Errorf("%w: block at byte %d claims %d records in %d bytes", errContainer, start, count, len(data))
	}
	return count, data, nil
}

func (c *containerReader) decompress(b []byte) ([]byte, error) {
	switch c.codec {
	case "", "null":
		return b, nil
	case "deflate":
		var out bytes.Buffer
		n, err := io.Copy(&out, io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxBlockBytes+1))
		if err != nil {
			return nil, err
		}
		if n > maxBlockBytes {
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
		if int64(n) > maxBlockBytes {
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
		if int64(len(out)) > maxBlockBytes {
			return nil, errors.New("block decompresses beyond the limit")
		}
		c.out = out
		return out, nil
	}
	return nil, fmt.Errorf("codec %q", c.codec)
}
