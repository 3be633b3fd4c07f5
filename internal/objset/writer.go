package objset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

// Formats says which format writes each view; a nil entry means the view is
// not written.
type Formats [3]format.Format

// Writer is the values object and its optional keys and headers siblings for
// one start offset, written in lock step so record i of each belongs together.
// Objects become visible only when Commit closes them (S3 completes the upload,
// file:// renames a temporary file); Abort leaves nothing behind.
type Writer struct {
	b       *blob.Bucket
	ctx     context.Context
	cancel  context.CancelFunc
	views   []*viewWriter
	records int
	bytes   int64
	keys    []string
	// first and last are the offsets of the first and last record added.
	first, last int64
	// runs collects the records' offsets for the offsets record written with
	// objects of formats that do not keep offsets (nil for those that do).
	runs *catalog.OffsetRuns
	hold bool // see Spec.Hold
}

// countingHash measures the bytes that reach the bucket: their SHA-256, their
// XXH64 (for offsets records) and size.
type countingHash struct {
	h    hash.Hash
	xx   *xxhash.Digest
	size int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	if c.h != nil {
		c.h.Write(p)
	}
	if c.xx != nil {
		_, _ = c.xx.Write(p) // a hash's Write never fails
	}
	c.size += int64(len(p))
	return len(p), nil
}

// Stored returns the SHA-256 (hex) and size of the values object as stored; the
// checksum is empty unless the set was opened with checksum set.
func (s *Writer) Stored() (string, int64) {
	v := s.views[0].stored
	if v.h == nil {
		return "", v.size
	}
	return hex.EncodeToString(v.h.Sum(nil)), v.size
}

type viewWriter struct {
	sealer io.WriteCloser // encrypts into the object when a key is set
	stored *countingHash
	key    string
	set    *Writer
	bw     *blob.Writer // nil until the view spills (see Write)
	gz     *gzip.Writer
	sink   io.Writer // the end of the chain into bw, once opened
	// open makes bw and the chain into it (hashing, encryption, gzip).
	open func() error
	// pending holds encoded bytes not yet in the sink: the whole object
	// while it is smaller than spillBytes, so that an open set costs memory
	// in proportion to what it holds, and no upload starts for it, until then.
	pending []byte
	enc     format.Encoder
	size    int64 // bytes handed to the encoder, before compression
}

// spillBytes is how much a view buffers before it opens its upload (S3
// multipart buffers, gzip and encryption state are allocated only then) and,
// afterwards, how much it hands the chain at once.
const spillBytes = 256 << 10

// uploadPartBytes and uploadParts bound what one object's upload holds: parts
// of 5 MiB (S3's smallest), two in flight for a values object and one for a
// keys or headers object. The SDK's defaults (8 MiB, five at once) let an
// export to S3 with keys and headers, three uploads per partition and several
// partitions streaming, peak at 300 MiB RSS where a backup of the same records
// took 120-175 MiB. Many objects upload at once anyway, so few parts each keep
// the connections busy. store.Uploads also has the S3 upload buffer one part,
// not 16 MiB, before it starts (the SDK's threshold for a multipart upload).
const (
	uploadPartBytes = store.MinPartBytes
	uploadParts     = 2
	uploadSideParts = 1
)

// maxObjectBytes is where a set is Full and its export rotates, whatever its
// rotation settings: S3 takes at most 10,000 parts, so an upload of 5 MiB
// parts holds 48.8 GiB (Azure's 50,000 blocks, 244 GiB) and a larger object
// fails when its upload ends. It counts encoded bytes before compression and
// encryption (which add well under 1 %) and leaves 2,000 MiB for the record
// that crosses it. A variable for tests.
var maxObjectBytes int64 = uploadPartBytes * (10_000 - 400)

func (v *viewWriter) Write(p []byte) (int, error) {
	v.size += int64(len(p))
	v.pending = append(v.pending, p...)
	if len(v.pending) >= spillBytes && !v.set.hold {
		if err := v.flush(); err != nil {
			return 0, fmt.Errorf("write %s: %w", v.key, err)
		}
	}
	return len(p), nil
}

// flush opens the view's upload if needed and hands it the pending bytes.
func (v *viewWriter) flush() error {
	if v.sink == nil {
		if err := v.open(); err != nil {
			return err
		}
	}
	if len(v.pending) == 0 {
		return nil
	}
	_, err := v.sink.Write(v.pending)
	v.pending = v.pending[:0]
	return err
}

// Spec says which object set to write: where (naming, topic, partition, first
// offset) and how (formats per view, gzip, encryption, whether to compute the
// values object's SHA-256).
type Spec struct {
	Naming    layout.Naming
	Formats   Formats
	Gzip      bool
	Topic     string
	Partition int32
	Start     int64
	// Folder is the encoded partition of a field or time partitioner ("" for
	// the default's partition=<p>): see layout.Object.
	Folder   string
	Checksum bool
	Key      *seal.Key // encrypts every view when set
	// Hold keeps the whole set in memory, however large, until Release:
	// for a reader of many partitions at once that lets one of them stream
	// at a time (see pipeline.RunPartitions).
	Hold bool
}

// Create opens the objects of one start offset. With Spec.Checksum, the values
// object's SHA-256 is computed as it is written (for backup manifests); plain
// exports skip it, as hashing would cost them about a quarter of their CPU.
func Create(ctx context.Context, b *blob.Bucket, sp Spec) (*Writer, error) {
	wctx, cancel := context.WithCancel(ctx)
	set := &Writer{b: b, ctx: wctx, cancel: cancel, first: sp.Start, last: sp.Start - 1, hold: sp.Hold}
	if !format.KeepsOffsets(sp.Formats[layout.ViewValues]) {
		set.runs = &catalog.OffsetRuns{}
	}
	for v, f := range sp.Formats {
		if f == nil {
			continue
		}
		key := sp.Naming.Key(layout.Object{Topic: sp.Topic, Partition: sp.Partition, StartOffset: sp.Start, View: layout.View(v), Ext: f.Ext(), Gzip: sp.Gzip, Folder: sp.Folder})
		vw := &viewWriter{key: key, set: set, stored: &countingHash{}}
		if sp.Checksum && len(set.views) == 0 {
			vw.stored.h = sha256.New()
		}
		if set.runs != nil && len(set.views) == 0 {
			vw.stored.xx = xxhash.New()
		}
		contentType := contentType(f, sp.Gzip)
		vw.open = func() error {
			parts := uploadParts
			if layout.View(v) != layout.ViewValues {
				parts = uploadSideParts
			}
			up := store.Uploads{PartBytes: uploadPartBytes, Parts: parts}
			bw, err := b.NewWriter(wctx, key, up.WriterOptions(b, blob.WriterOptions{ContentType: contentType}))
			if err != nil {
				return fmt.Errorf("open: %w", err)
			}
			vw.bw = bw
			sink := io.MultiWriter(bw, vw.stored)
			if sp.Key != nil {
				if vw.sealer, err = sp.Key.Seal(sink); err != nil {
					return fmt.Errorf("encrypt: %w", err)
				}
				sink = vw.sealer
			}
			if sp.Gzip {
				vw.gz, _ = gzip.NewWriterLevel(sink, gzip.DefaultCompression) // the checksum covers the stored (compressed) bytes
				sink = vw.gz
			}
			vw.sink = sink
			return nil
		}
		enc, err := f.NewEncoder(vw, layout.View(v))
		if err != nil {
			set.views = append(set.views, vw)
			set.Abort()
			return nil, err
		}
		vw.enc = enc
		set.views = append(set.views, vw)
		set.keys = append(set.keys, key)
	}
	return set, nil
}

func contentType(f format.Format, gz bool) string {
	if gz {
		return "application/gzip"
	}
	if f.Ext() == ".json" {
		return "application/x-ndjson"
	}
	return "application/octet-stream"
}

// Fits reports whether rec may join the set: false when a view's format holds
// one kind of record per object (format.Fitter: one Avro schema) and rec is of
// another, so the set must be committed and rec start a new one. An error says
// rec cannot be written at all.
func (s *Writer) Fits(rec *record.Record) (bool, error) {
	fits := true
	for _, v := range s.views {
		if f, ok := v.enc.(format.Fitter); ok {
			ok, err := f.Fits(rec)
			if err != nil {
				return false, fmt.Errorf("%s: %w", v.key, err)
			}
			fits = fits && ok
		}
	}
	return fits, nil
}

// Add encodes rec into every view. On an error the set must be aborted.
func (s *Writer) Add(rec *record.Record) error {
	for _, v := range s.views {
		if err := v.enc.Encode(rec); err != nil {
			return err
		}
	}
	s.records++
	s.bytes += int64(rec.Size())
	s.last = rec.Offset
	if s.runs != nil {
		s.runs.Add(rec.Offset)
	}
	return nil
}

// Streaming reports whether an upload of the set has started: a view outgrew
// what the set buffers in memory (spillBytes).
func (s *Writer) Streaming() bool {
	for _, v := range s.views {
		if v.bw != nil {
			return true
		}
	}
	return false
}

// Buffered is about how many bytes of the set wait in memory for their
// upload. While the set is held that is every record added, encoded or not
// yet: a format that writes blocks (native) keeps up to a block of records
// inside its encoder, which pending does not show.
func (s *Writer) Buffered() int64 {
	var n int64
	for _, v := range s.views {
		n += int64(len(v.pending))
	}
	if s.hold {
		n = max(n, s.bytes)
	}
	return n
}

// Release ends Spec.Hold: from the next record on, views larger than what a
// set buffers stream into their objects.
func (s *Writer) Release() { s.hold = false }

// Bytes is the uncompressed size of the values object so far.
func (s *Writer) Bytes() int64 { return s.views[0].size }

// Full reports whether one of the set's objects (values, keys or headers)
// has grown as large as an upload may safely hold: the set must be committed
// and the next record start a new one, even with size rotation off.
func (s *Writer) Full() bool {
	for _, v := range s.views {
		if v.size >= maxObjectBytes {
			return true
		}
	}
	return false
}

// Commit flushes and closes every view, making the objects visible. The values
// object is closed last: a reader that sees it finds its keys and headers (and
// its offsets record) too, and a crash in between leaves only sidecars that
// readers ignore and a rerun rewrites.
func (s *Writer) Commit() error {
	defer s.cancel()
	for i := len(s.views) - 1; i >= 0; i-- {
		v := s.views[i]
		var err error
		if c, ok := v.enc.(format.Closer); ok {
			err = c.Close()
		}
		if err == nil {
			err = v.flush()
		}
		if err == nil && v.gz != nil {
			err = v.gz.Close()
		}
		if err == nil && v.sealer != nil {
			err = v.sealer.Close()
		}
		if err == nil && i == 0 && s.runs != nil {
			err = s.writeOffsets(v)
		}
		if err == nil {
			if err = store.CloseWriter(v.bw); err != nil {
				err = fmt.Errorf("upload %s: %w", v.key, err)
			}
		} else {
			err = fmt.Errorf("write %s: %w", v.key, err)
		}
		if err != nil {
			s.cancel()
			for _, rest := range s.views[:i+1] {
				if rest.bw != nil {
					_ = store.CloseWriter(rest.bw) // after cancel, Close discards the upload
				}
			}
			return err
		}
	}
	if s.runs != nil && len(s.views) > 0 {
		v := s.views[0]
		s.dropStaleOffsets(v.key, catalog.OffsetsKey(v.key, v.stored.size, s.last))
	}
	return nil
}

// dropStaleOffsets deletes the offsets records of object other than keep: a
// rewrite of the object (another rotation, records compacted away since)
// can have the same size with other offsets, and two records naming one
// size make an importer refuse the object rather than guess. Best effort: a
// record left behind (a crash, a failed delete) makes that refusal, never a
// wrong import.
func (s *Writer) dropStaleOffsets(object, keep string) {
	prefix := catalog.OffsetsPrefix + object + "/"
	it := store.List(s.b, &blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(s.ctx)
		if err != nil {
			return // io.EOF, or a listing error: see above
		}
		if obj.Key != keep && !obj.IsDir {
			_ = s.b.Delete(s.ctx, obj.Key) // see above
		}
	}
}

// writeOffsets writes the offsets record of the values object v, whose bytes
// are all written (but not yet completed).
func (s *Writer) writeOffsets(v *viewWriter) error {
	var sum [8]byte
	body, err := json.Marshal(catalog.ObjectOffsets{
		FormatVersion: catalog.OffsetsVersion, Object: v.key, Size: v.stored.size,
		XXH64: hex.EncodeToString(v.stored.xx.Sum(sum[:0])), Records: int64(s.records), Offsets: *s.runs,
	})
	if err != nil {
		return err
	}
	key := catalog.OffsetsKey(v.key, v.stored.size, s.last)
	if err := store.WriteAll(s.ctx, s.b, key, append(body, '\n'), &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// Abort cancels every upload in the set; none of its objects becomes visible.
func (s *Writer) Abort() {
	s.cancel()
	for _, v := range s.views {
		if v.bw != nil {
			_ = store.CloseWriter(v.bw) // after cancel, Close discards the upload
		}
	}
}

// Records is the number of records added.
func (s *Writer) Records() int { return s.records }

// First is the offset of the first record added.
func (s *Writer) First() int64 { return s.first }

// Last is the offset of the last record added.
func (s *Writer) Last() int64 { return s.last }

// Keys are the object keys the set writes (values first).
func (s *Writer) Keys() []string { return s.keys }

// RecordBytes is the sum of the added records' sizes (record.Size), what a
// summary reports as the bytes moved.
func (s *Writer) RecordBytes() int64 { return s.bytes }
