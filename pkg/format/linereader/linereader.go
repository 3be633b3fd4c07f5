package linereader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxRecordBytes bounds one record so a corrupt object without separators cannot
// make a reader allocate without limit. Kafka's own default limit is 1 MiB; this
// leaves room for brokers configured far above it.
const MaxRecordBytes = 64 << 20

// ErrTooLong is returned for a record longer than MaxRecordBytes.
var ErrTooLong = errors.New("record longer than the 64 MiB limit")

// Reader returns one record per call to Next.
type Reader struct {
	r    *bufio.Reader
	sep  byte
	line int
	pos  int64
	buf  []byte
}

// readBufSize is the read buffer of a Reader.
const readBufSize = 256 << 10

// readers keeps the buffers of Readers that reached the end of their object:
// an import reads thousands of small objects, and a fresh 256 KiB buffer each
// cost more CPU (zeroing, collection) than decoding their records.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// New returns a Reader splitting r on sep.
func New(r io.Reader, sep byte) *Reader {
	br, _ := readers.Get().(*bufio.Reader) // the pool holds nothing else
	br.Reset(r)
	return &Reader{r: br, sep: sep}
}

// release returns the read buffer to the pool once the object is read to its
// end; Next then keeps answering io.EOF. Records never point into it (Next
// copies them into buf).
func (r *Reader) release() {
	if r.r != nil {
		r.r.Reset(nil)
		readers.Put(r.r)
		r.r = nil
	}
}

// Line is the 1-based number of the record Next returned last.
func (r *Reader) Line() int { return r.line }

// Offset is the byte position where the record Next returned last starts.
func (r *Reader) Offset() int64 { return r.pos }

// Next returns the next record without its separator. The slice is valid until
// the next call. A final record without a separator is returned too (Confluent's
// own test reader accepts it); io.EOF follows the last record.
func (r *Reader) Next() ([]byte, error) {
	r.pos += int64(len(r.buf))
	if len(r.buf) > 0 || r.line > 0 {
		r.pos++ // the separator after the previous record
	}
	r.buf = r.buf[:0]
	if r.r == nil {
		return nil, io.EOF
	}
	for {
		chunk, err := r.r.ReadSlice(r.sep)
		r.buf = append(r.buf, chunk...)
		n := len(r.buf)
		if err == nil {
			n-- // the separator is not part of the record
		}
		if n > MaxRecordBytes {
			return nil, fmt.Errorf("line %d at byte %d: %w", r.line+1, r.pos, ErrTooLong)
		}
		switch {
		case err == nil:
			r.line++
			r.buf = r.buf[:len(r.buf)-1]
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) == 0 {
				r.release()
				return nil, io.EOF
			}
			r.line++
			return r.buf, nil
		default:
			return nil, fmt.Errorf("line %d at byte %d: %w", r.line+1, r.pos, err)
		}
	}
}
