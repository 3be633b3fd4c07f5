package objset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
)

// Reader streams one object's records through its format's decoder.
type Reader struct {
	info catalog.ObjectInfo
	r    *blob.Reader
	src  io.Reader // r, possibly wrapped
	gz   *gzip.Reader
	dec  format.Decoder
}

func OpenObject(ctx context.Context, b *blob.Bucket, info catalog.ObjectInfo, key *seal.Key) (*Reader, error) {
	return OpenObjectVia(ctx, b, info, key, nil)
}

// OpenObjectVia is openObject with the object's raw bytes passed through wrap
// (to hash them, say) before they are decompressed and decoded.
func OpenObjectVia(ctx context.Context, b *blob.Bucket, info catalog.ObjectInfo, key *seal.Key, wrap func(io.Reader) io.Reader) (*Reader, error) {
	f, err := format.ByExtFor(ctx, info.Ext)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	r, err := b.NewReader(ctx, info.Key, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", info.Key, err)
	}
	or := &Reader{info: info, r: r, src: r}
	if wrap != nil {
		or.src = wrap(r)
	}
	// Encrypted objects are recognised by the age header, so a bucket may mix
	// them with plain ones (a key added later, Confluent's own objects).
	src, err := seal.OpenMaybe(or.src, key)
	if err != nil {
		_ = r.Close() // reading is over; the open error is the one to report
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	if info.Gzip {
		if or.gz, err = gzip.NewReader(src); err != nil {
			_ = r.Close() // reading is over; the gzip error is the one to report
			return nil, fmt.Errorf("object %s: not gzip: %w", info.Key, err)
		}
		src = or.gz
	}
	if or.dec, err = format.NewObjectDecoder(f, src, info.Object); err != nil {
		or.Close()
		return nil, fmt.Errorf("object %s: %w", info.Key, err)
	}
	return or, nil
}

// Next fills this object's view of rec; io.EOF at the end.
func (or *Reader) Next(rec *record.Record) error {
	err := or.dec.Next(rec)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("object %s: %w", or.info.Key, err)
	}
	return err
}

// Close releases the object. Close errors of readers are ignored: nothing is
// lost by them, and what was read was checked as it was decoded.
func (or *Reader) Close() {
	if c, ok := or.dec.(format.Closer); ok {
		_ = c.Close()
	}
	if or.gz != nil {
		_ = or.gz.Close()
	}
	_ = or.r.Close()
}

// DrainValues reads a values object and its sidecars in lock step.
type DrainValues struct {
	g     catalog.Group
	parts []*Reader
}

func OpenGroup(ctx context.Context, b *blob.Bucket, g catalog.Group, key *seal.Key) (*DrainValues, error) {
	return OpenGroupVia(ctx, b, g, key, nil)
}

// OpenGroupVia is openGroup with the values object's raw bytes passed through
// wrap (see openObjectVia).
func OpenGroupVia(ctx context.Context, b *blob.Bucket, g catalog.Group, key *seal.Key, wrap func(io.Reader) io.Reader) (*DrainValues, error) {
	gr := &DrainValues{g: g}
	for i, info := range []*catalog.ObjectInfo{&g.Values, g.Keys, g.Headers} {
		if info == nil {
			continue
		}
		w := wrap
		if i > 0 {
			w = nil
		}
		or, err := OpenObjectVia(ctx, b, *info, key, w)
		if err != nil {
			gr.Close()
			return nil, err
		}
		gr.parts = append(gr.parts, or)
	}
	return gr, nil
}

// Next fills rec from every object of the group. A sidecar that ends before or
// after the values object is an error naming both objects.
func (gr *DrainValues) Next(rec *record.Record) error {
	err := gr.parts[0].Next(rec)
	end := errors.Is(err, io.EOF)
	for _, side := range gr.parts[1:] {
		serr := side.Next(rec)
		sideEnd := errors.Is(serr, io.EOF)
		switch {
		case end && sideEnd:
		case end && serr == nil:
			return fmt.Errorf("object %s has more records than %s", side.info.Key, gr.g.Values.Key)
		case err == nil && sideEnd:
			return fmt.Errorf("object %s has fewer records than %s", side.info.Key, gr.g.Values.Key)
		case serr != nil && !sideEnd:
			return serr
		}
	}
	return err
}

// DrainValues reads what is left of the values object's raw bytes (after its
// last record: a trailer, padding), so that a wrap sees every byte.
func (gr *DrainValues) DrainValues() error {
	if _, err := io.Copy(io.Discard, gr.parts[0].src); err != nil {
		return fmt.Errorf("read %s: %w", gr.g.Values.Key, err)
	}
	return nil
}

func (gr *DrainValues) Close() {
	for _, p := range gr.parts {
		p.Close()
	}
}

// Dump streams one object group's records to fn, with offsets counted from the
// group's start offset.
func Dump(ctx context.Context, b *blob.Bucket, g catalog.Group, key *seal.Key, fn func(*record.Record) error) error {
	gr, err := OpenGroup(ctx, b, g, key)
	if err != nil {
		return err
	}
	defer gr.Close()
	for off := g.Start; ; off++ {
		rec := record.Record{Topic: g.Values.Topic, Partition: g.Values.Partition, Offset: off}
		if err := gr.Next(&rec); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
}

// ErrChecksum means an object's bytes or record count differ from the manifest.
var ErrChecksum = errors.New("object does not match the manifest")

// Hashed reads a native object while hashing its bytes.
type Hashed struct {
	*Reader
	h    hash.Hash
	size int64
}

type teeReader struct {
	r    io.Reader
	h    hash.Hash
	size *int64
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.h.Write(p[:n])
	*t.size += int64(n)
	return n, err
}

func OpenHashed(ctx context.Context, b *blob.Bucket, info catalog.ObjectInfo, key *seal.Key) (*Hashed, error) {
	ho := &Hashed{h: sha256.New()}
	or, err := OpenObjectVia(ctx, b, info, key, func(r io.Reader) io.Reader { return teeReader{r: r, h: ho.h, size: &ho.size} })
	if err != nil {
		return nil, err
	}
	ho.Reader = or
	return ho, nil
}

// Check drains the object and compares size, checksum and count with the manifest.
func (ho *Hashed) Check(obj manifest.Object, records int64) error {
	if _, err := io.Copy(io.Discard, ho.src); err != nil {
		return fmt.Errorf("read %s: %w", obj.Key, err)
	}
	sum := hex.EncodeToString(ho.h.Sum(nil))
	switch {
	case ho.size != obj.Size:
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d (truncated or replaced)", ErrChecksum, obj.Key, ho.size, obj.Size)
	case !strings.EqualFold(sum, obj.SHA256):
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s (altered)", ErrChecksum, obj.Key, sum, obj.SHA256)
	case records != obj.Records:
		return fmt.Errorf("%w: %s holds %d records, the manifest says %d", ErrChecksum, obj.Key, records, obj.Records)
	}
	return nil
}

// Drain reads what is left of the object's bytes, so that Size and the hash
// count all of them (after a decode error too).
func (ho *Hashed) Drain() { _, _ = io.Copy(io.Discard, ho.src) }

// Size is the number of the object's bytes read so far.
func (ho *Hashed) Size() int64 { return ho.size }
